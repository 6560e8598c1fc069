"""Process logging from the configuration (``:log {:format :text|:json :level ...}``).

One handler on stderr; every record passes the masking filter, so a secret value, the vault
token or the keypair never reaches a log line (tracebacks included). Python warnings (e.g.
urllib3's warning about unverified TLS) are routed through logging and masked too.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

from nosana_node.config.schema import LogConfig
from nosana_node.secrets.masking import MaskingFilter, process_masker

_HANDLER_NAME = "nosana-node"


#: Ids a record may carry (``log.info(..., extra={"event": "finished", "job": ...})``), in order.
IDS = ("event", "job", "run", "op", "flow")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, the ids the record carries (``event``,
    ``job``, ``run``, ``op``, ``flow``: see :data:`IDS`), message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key in IDS:
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = process_masker().mask(str(value))
        doc["message"] = record.getMessage()
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc)


def setup_logging(cfg: LogConfig, stream: TextIO | None = None) -> logging.Handler:
    """Install (or replace) the node's handler (on ``stream``, default stderr) on the root logger."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if cfg.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter(process_masker()))
    root.addHandler(handler)
    root.setLevel(cfg.level.upper())
    logging.captureWarnings(True)
    return handler
