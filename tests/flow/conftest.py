"""Fixtures for flow tests."""

from tests.corekit import home  # noqa: F401 - fixture
