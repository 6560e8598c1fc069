"""Fixtures of the API tests."""

from tests.corekit import home  # noqa: F401 - fixture
