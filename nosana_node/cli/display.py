"""Live output of a run: each job's log lines as they come, progress, and a closing summary.

On a terminal a rich progress bar (jobs done, current job, elapsed time) stays under the
streaming log; elsewhere (CI logs, pipes) plain lines are written, without rich. Log lines are
prefixed with the job name and ``|`` (stdout), ``!`` (stderr) or ``·`` (node messages).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Hashable
from typing import Any, TextIO

from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.secrets.masking import process_masker
from nosana_node.terminal import SgrMode, neutralise
from nosana_node.units import approx_size, elapsed

Describe = Callable[[Op], str]
MARKS = {"stdout": "|", "stderr": "!", "node": "·"}
ICONS = {
    OpStatus.SUCCEEDED: "✔",
    OpStatus.FAILED: "✘",
    OpStatus.SKIPPED: "○",
    OpStatus.STOPPED: "■",
    OpStatus.EXPIRED: "⌛",
    OpStatus.INTERRUPTED: "■",
    OpStatus.RUNNING: "▶",
    OpStatus.PENDING: "·",
}
STYLES = {
    OpStatus.SUCCEEDED: "green",
    OpStatus.FAILED: "red",
    OpStatus.SKIPPED: "dim",
    OpStatus.STOPPED: "red",
    OpStatus.EXPIRED: "red",
    OpStatus.INTERRUPTED: "yellow",
}


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def status_text(flow: Flow, op: Op) -> str:
    """``succeeded in 1.20s`` / ``failed (allowed): exit code 3`` / ``skipped: …``."""
    state = flow.states[op.id]
    text = str(state.status)
    if state.status is OpStatus.FAILED and op.allow_failure:
        text += " (allowed)"
    if state.duration is not None and state.status is not OpStatus.SKIPPED:
        text += f" in {elapsed(state.duration)}"
    if state.error and state.error != str(state.status):
        text += f": {state.error}"
    return text


def summary_rows(flow: Flow) -> list[tuple[str, str, str, str, str]]:
    """Rows (job, status, exit, time, artifacts) of the closing summary."""
    rows = []
    for op in flow.ops:
        state = flow.states[op.id]
        status = str(state.status) + (
            " (allowed)" if state.status is OpStatus.FAILED and op.allow_failure else ""
        )
        artifacts = ", ".join(
            f"{name} ({approx_size(rec.size)}, {rec.digest[7:19]})"
            for name, rec in state.results.artifacts.items()
        )
        exit_code = "" if state.exit_code is None else str(state.exit_code)
        rows.append((op.id, status, exit_code, elapsed(state.duration), artifacts))
    return rows


def closing_line(flow: Flow) -> str:
    """``flow abc succeeded in 3.10s``."""
    duration = (flow.ended_at or time.time()) - flow.started_at if flow.started_at else None
    return f"flow {flow.id} {flow.status} in {elapsed(duration)}"


#: Characters of one line shown live; the rest of a longer line is left to the stored log.
LINE_CAP = 16 * 1024


def cut_marker(cap: int) -> str:
    """What ends a line cut at ``cap`` characters."""
    return f" … [line cut at {cap} characters: the rest of it is only in the stored log]"


class LineSplitter:
    """Splits streamed text into whole lines per key (an op and a stream), in linear time.

    A line is released when its newline arrives (or by :meth:`flush`). A line longer than
    ``cap`` characters is released at once, cut at the cap and ended by :func:`cut_marker`; the
    rest of it, up to its newline, is dropped. ``cap=None`` keeps lines whole. Each character
    is looked at once: text without newlines is collected in pieces, never re-joined or
    re-scanned per chunk.
    """

    def __init__(self, cap: int | None = LINE_CAP) -> None:
        self._cap = cap
        self._pieces: dict[Hashable, list[str]] = {}
        self._sizes: dict[Hashable, int] = {}
        self._cutting: set[Hashable] = set()  # keys whose current line was cut: drop to newline

    def feed(self, key: Hashable, text: str) -> list[str]:
        """Add ``text``; return the lines it completes (without their newline)."""
        lines: list[str] = []
        parts = text.split("\n")
        last = len(parts) - 1
        for index, part in enumerate(parts):
            ended = index < last  # a newline follows this part
            if key in self._cutting:
                if ended:
                    self._cutting.discard(key)
                continue
            size = self._sizes.get(key, 0)
            if self._cap is not None and size + len(part) > self._cap:
                head = "".join(self._pieces.pop(key, ())) + part[: self._cap - size]
                self._sizes.pop(key, None)
                lines.append(head + cut_marker(self._cap))
                if not ended:
                    self._cutting.add(key)
            elif ended:
                pieces = self._pieces.pop(key, None)
                self._sizes.pop(key, None)
                lines.append("".join(pieces) + part if pieces else part)
            elif part:
                self._pieces.setdefault(key, []).append(part)
                self._sizes[key] = size + len(part)
        return lines

    def flush(self, match: Callable[[Any], bool] = lambda key: True) -> list[tuple[Any, str]]:
        """Release the unfinished lines of the keys ``match`` accepts, as ``(key, line)``."""
        out = []
        for key in [k for k in self._pieces if match(k)]:
            self._sizes.pop(key, None)
            out.append((key, "".join(self._pieces.pop(key))))
        self._cutting = {k for k in self._cutting if not match(k)}
        return out


def shown_line(line: str, sgr: SgrMode) -> str:
    """A line of job output as shown: a CRLF's carriage return dropped, controls made inert."""
    return neutralise(line.removesuffix("\r"), sgr)


class PlainDisplay:
    """Plain text for logs and pipes: no escape sequence at all (job colours are dropped, every
    other control character is shown escaped)."""

    def __init__(self, stream: TextIO, describe: Describe) -> None:
        self._out = stream
        self._describe = describe
        self._lines = LineSplitter()

    def _write(self, text: str) -> None:
        self._out.write(neutralise(text) + "\n")
        self._out.flush()

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        done = sum(flow.states[op.id].status.finished for op in flow.ops)
        extra = f" · resuming: {done} of {len(flow.ops)} already done" if resumed else ""
        self._write(f"flow {flow.id} · {flow.name} · {_jobs(len(flow.ops))}{extra}")

    def op_started(self, flow: Flow, op: Op) -> None:
        attempt = flow.states[op.id].run_count
        self._write(f"▶ {self._describe(op)}" + (f" · attempt {attempt}" if attempt > 1 else ""))

    def _lines_out(self, op: Op, stream: str, lines: list[str]) -> None:
        if lines:
            prefix = f"{neutralise(op.id)} {MARKS.get(stream, '|')} "
            self._out.write("".join(f"{prefix}{shown_line(line, 'strip')}\n" for line in lines))
            self._out.flush()

    def op_output(self, op: Op, stream: str, text: str) -> None:
        self._lines_out(op, stream, self._lines.feed((op.id, stream), text))

    def op_finished(self, flow: Flow, op: Op) -> None:
        for (_, stream), line in self._lines.flush(lambda key: key[0] == op.id):
            self._lines_out(op, stream, [line])
        self._write(f"{ICONS[flow.states[op.id].status]} {op.id} {status_text(flow, op)}")

    def flow_finished(self, flow: Flow) -> None:
        rows = [("JOB", "STATUS", "EXIT", "TIME", "ARTIFACTS"), *summary_rows(flow)]
        rows = [tuple(neutralise(cell) for cell in row) for row in rows]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            self._write(
                "  " + "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row))
            )
        icon = "✔" if flow.status is FlowStatus.SUCCEEDED else "✘"
        self._write(f"{icon} {closing_line(flow)}")

    def message(self, text: str) -> None:
        self._write(f"· {process_masker().mask(text)}")


STREAM_SGR = {"stderr": "\x1b[33m", "node": "\x1b[36m"}  # yellow, cyan
SGR_RESET = "\x1b[0m"
SGR_DIM = "\x1b[2m"
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def _follow_sgr(active: list[str], line: str) -> None:
    """Keep ``active`` the SGR sequences still in force after ``line`` (since the last reset;
    at most 8), so a job's colour goes on over its next lines as on its own terminal."""
    for match in _SGR.finditer(line):
        if match.group(1) in ("", "0"):
            active.clear()
        else:
            active.append(match.group())
    del active[:-8]


class _OutputLines:
    """Job output lines for rich, already rendered (a dim prefix, then the line with its own
    colours, inert but for SGR) and written as they are: one segment for the whole batch, no
    text layout per line, so the cost stays about a copy of the text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        yield Segment(self.text)


class _StatusLine:
    """The line under the streaming log: spinner, current job, bar, jobs done, time elapsed.

    One short line of text, rendered again at every print above it: kept cheap (no table)."""

    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    WIDTH = 20

    def __init__(self) -> None:
        self.job = "starting"
        self.done = 0
        self.total = 0
        self._started = time.monotonic()

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        now = time.monotonic()
        seconds = int(now - self._started)
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        yield Text.assemble(
            (self.SPINNER[int(now * 10) % len(self.SPINNER)], "green"),
            f" {self.job} ",
            ("━" * filled, "magenta"),
            ("━" * (self.WIDTH - filled), "grey23"),
            f" {self.done}/{self.total} ",
            (f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", "yellow"),
            no_wrap=True,
            overflow="ellipsis",
        )


class RichDisplay:
    """A terminal display: streaming log lines above a live progress bar.

    A job's colours (SGR) are rendered; every other control sequence in its output, and every
    control character in names and messages, is shown escaped.
    """

    def __init__(self, stream: TextIO, describe: Describe) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream, highlight=False)
        self._status = _StatusLine()
        self._live = Live(self._status, console=self.console, transient=True, refresh_per_second=8)
        self._describe = describe
        self._lines = LineSplitter()
        self._active: dict[tuple[str, str], list[str]] = {}  # (op, stream): colours still on

    def _print(self, *parts: tuple[str, str]) -> None:
        from rich.text import Text

        self.console.print(Text.assemble(*((neutralise(t), s) for t, s in parts)), soft_wrap=True)

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        done = sum(flow.states[op.id].status.finished for op in flow.ops)
        extra = f" · resuming: {done} of {len(flow.ops)} already done" if resumed else ""
        self._print((f"flow {flow.id}", "bold"), (f" · {flow.name} · {_jobs(len(flow.ops))}{extra}", ""))
        self._status.total, self._status.done = len(flow.ops), done
        self._live.start()

    def op_started(self, flow: Flow, op: Op) -> None:
        attempt = flow.states[op.id].run_count
        self._print(
            ("▶ ", "cyan"),
            (self._describe(op), "bold"),
            (f" · attempt {attempt}" if attempt > 1 else "", "dim"),
        )
        self._status.job = neutralise(op.id)

    def _lines_out(self, op: Op, stream: str, lines: list[str]) -> None:
        if not lines:
            return
        colours = self.console.color_system is not None
        base = STREAM_SGR.get(stream, "") if colours else ""
        active = self._active.setdefault((op.id, stream), [])
        prefix = f"{neutralise(op.id)} {MARKS.get(stream, '|')} "
        if colours:
            prefix = f"{SGR_DIM}{prefix}{SGR_RESET}"
        out = []
        for line in lines:
            body = shown_line(line, "keep" if colours else "strip")
            start = base + "".join(active)
            if "\x1b" in body:
                _follow_sgr(active, body)
            end = SGR_RESET if start or "\x1b" in body else ""
            out.append(f"{prefix}{start}{body}{end}\n")
        self.console.print(_OutputLines("".join(out)), soft_wrap=True)  # one print per chunk

    def op_output(self, op: Op, stream: str, text: str) -> None:
        self._lines_out(op, stream, self._lines.feed((op.id, stream), text))

    def op_finished(self, flow: Flow, op: Op) -> None:
        for (_, stream), line in self._lines.flush(lambda key: key[0] == op.id):
            self._lines_out(op, stream, [line])
        for key in [k for k in self._active if k[0] == op.id]:
            del self._active[key]
        status = flow.states[op.id].status
        style = "yellow" if status is OpStatus.FAILED and op.allow_failure else STYLES.get(status, "")
        self._print((f"{ICONS[status]} {op.id} ", f"bold {style}"), (status_text(flow, op), style))
        self._status.done = sum(flow.states[o.id].status.finished for o in flow.ops)

    def flow_finished(self, flow: Flow) -> None:
        from rich.table import Table

        self._live.stop()
        table = Table(box=None, padding=(0, 2), show_edge=False)
        for column in ("job", "status", "exit", "time", "artifacts"):
            table.add_column(column, style="dim" if column == "artifacts" else None)
        for row in summary_rows(flow):
            table.add_row(*(neutralise(cell) for cell in row))
        self.console.print(table)
        style = "bold green" if flow.status is FlowStatus.SUCCEEDED else "bold red"
        icon = "✔" if flow.status is FlowStatus.SUCCEEDED else "✘"
        self._print((f"{icon} {closing_line(flow)}", style))

    def message(self, text: str) -> None:
        self._print((f"· {process_masker().mask(text)}", "dim"))


def make_display(stream: TextIO, describe: Describe) -> PlainDisplay | RichDisplay:
    """A rich display on a terminal, plain lines otherwise; ``describe`` labels an op."""
    return RichDisplay(stream, describe) if stream.isatty() else PlainDisplay(stream, describe)
