"""Fixtures for tests that run job containers on the real, shared Docker engine, and a private
engine for tests that stop or freeze one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nosana_node.docker import labels
from tests.corekit import IMAGE, STORE_IDS, engine, home  # noqa: F401 - fixtures
from tests.docker.privengine import PrivateEngine, usable


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


@pytest.fixture(scope="session")
def _private_engine() -> Iterator[PrivateEngine]:
    why = usable()
    if why is not None:
        pytest.skip(why)
    engine = PrivateEngine()
    try:
        engine.start()
        engine.load_image()
        yield engine
    finally:
        engine.close()


@pytest.fixture
def private_engine(_private_engine: PrivateEngine) -> Iterator[PrivateEngine]:
    """A Docker engine of the test's own (see ``tests/docker/privengine.py``), running and
    thawed before and after the test, whatever the test did to it."""
    if not _private_engine.running:
        _private_engine.start()
    try:
        yield _private_engine
    finally:
        _private_engine.thaw()
        if not _private_engine.running:
            _private_engine.start()
