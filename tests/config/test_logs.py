"""Logging set up from the configuration: text or JSON, the level, and masking of every record."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from nosana_node.config.logs import setup_logging
from nosana_node.config.schema import LogConfig
from nosana_node.secrets.value import Secret

TOKEN = "hvs.logging-token-value-42"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    yield buffer
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "nosana-node"]:
        root.removeHandler(handler)
    logging.captureWarnings(False)


def test_text_logging_masks_messages_and_tracebacks(captured: io.StringIO) -> None:
    Secret(TOKEN)  # registered with the process masker, as config loading does
    setup_logging(LogConfig(format="text", level="info"), captured)
    log = logging.getLogger("nosana-test")
    log.debug("not shown %s", "at info level")
    log.info("token %s", TOKEN)
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    text = captured.getvalue()
    assert TOKEN not in text
    assert "INFO nosana-test: token [MASKED]" in text and "RuntimeError: failed with [MASKED]" in text
    assert "not shown" not in text


def test_json_logging_and_captured_warnings(captured: io.StringIO) -> None:
    Secret(TOKEN)
    setup_logging(LogConfig(format="json", level="warning"), captured)
    logging.getLogger("nosana-test").warning("with %s", TOKEN)
    warnings.warn(f"a library warning mentioning {TOKEN}", UserWarning, stacklevel=1)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines[0]["level"] == "warning" and lines[0]["message"] == "with [MASKED]"
    assert lines[0]["logger"] == "nosana-test" and lines[0]["time"].endswith("Z")
    assert lines[1]["logger"] == "py.warnings" and "[MASKED]" in lines[1]["message"]
    assert TOKEN not in captured.getvalue()
    # set up twice: still one handler
    setup_logging(LogConfig(format="json", level="warning"), captured)
    assert len([h for h in logging.getLogger().handlers if h.get_name() == "nosana-node"]) == 1
