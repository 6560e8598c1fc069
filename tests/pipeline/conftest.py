"""Fixtures for pipeline tests."""

from tests.corekit import home  # noqa: F401 - fixture
