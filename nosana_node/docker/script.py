"""The shell script a job container runs: its commands, each echoed, with errexit and pipefail.

The script runs under ``/bin/sh``. Each command is printed as ``$ <cmd>`` (continuation lines
``> …``) before it runs, so the log reads like a terminal. A command with a ``working_dir`` runs
in a subshell that first changes into that directory (relative to the job's work dir). A command
with ``allow_failure`` runs in a subshell with errexit on; when it fails, its exit code is
reported and the script goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PREAMBLE = """\
set -e
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi
"""


def quote(text: str) -> str:
    """Single-quote ``text`` for a POSIX shell."""
    return "'" + text.replace("'", "'\\''") + "'"


def _echo(cmd: str) -> str:
    lines = cmd.rstrip("\n").split("\n")
    shown = "\n".join([f"$ {lines[0]}", *(f"> {line}" for line in lines[1:])])
    return f"printf '%s\\n' {quote(shown)}\n"


def render(commands: Iterable[dict[str, Any]]) -> str:
    """The script for ``commands`` (dicts with ``cmd``, ``working_dir``, ``allow_failure``)."""
    parts = [PREAMBLE]
    for command in commands:
        cmd = command["cmd"].rstrip("\n")
        working_dir = command.get("working_dir")
        body = f"cd -- {quote(working_dir)}\n{cmd}\n" if working_dir else f"{cmd}\n"
        parts.append(_echo(cmd))
        if command.get("allow_failure"):
            parts.append(
                f"set +e\n(\nset -e\n{body})\n__nos_rc=$?\nset -e\n"
                'if [ "$__nos_rc" -ne 0 ]; then '
                "printf 'command failed with exit code %s (allowed to fail)\\n' \"$__nos_rc\" >&2; fi\n"
            )
        elif working_dir:
            parts.append(f"(\n{body})\n")
        else:
            parts.append(body)
    return "".join(parts)
