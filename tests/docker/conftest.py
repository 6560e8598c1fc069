"""Fixtures for tests that run job containers on the real, shared Docker engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nosana_node.docker import labels
from tests.corekit import IMAGE, STORE_IDS, engine, home  # noqa: F401 - fixtures


@pytest.fixture(scope="session", autouse=True)
def job_image() -> Iterator[str]:
    """The project's job image must exist (``make images`` builds it); at the end, no container
    of any store used by this session may be left on the engine."""
    api = engine()
    try:
        api.inspect_image(IMAGE)
    except Exception as exc:  # pragma: no cover - set-up problem, not a test result
        pytest.fail(f"job image {IMAGE} missing ({exc}); run `make images`")
    yield IMAGE
    left = [c for sid in STORE_IDS for c in labels.store_containers(api, sid)]
    api.close()
    assert not left, f"containers left after the session: {[c['Names'] for c in left]}"


@pytest.fixture
def api() -> Iterator[object]:
    """A low-level engine client."""
    client = engine()
    yield client
    client.close()
