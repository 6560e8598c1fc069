"""Live output of a run: each job's log lines as they come, progress, and a closing summary.

On a terminal a rich progress bar (jobs done, current job, elapsed time) stays under the
streaming log; elsewhere (CI logs, pipes) plain lines are written, without rich. Log lines are
prefixed with the job name and ``|`` (stdout), ``!`` (stderr) or ``·`` (node messages).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.secrets.masking import process_masker
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


class _Lines:
    """Splits streamed text into whole lines per (op, stream)."""

    def __init__(self) -> None:
        self._partial: dict[tuple[str, str], str] = {}

    def feed(self, op: Op, stream: str, text: str) -> list[str]:
        key = (op.id, stream)
        lines = (self._partial.pop(key, "") + text).split("\n")
        rest = lines.pop()
        if rest:
            self._partial[key] = rest
        return lines

    def flush(self, op: Op) -> list[tuple[str, str]]:
        out = []
        for key in [k for k in self._partial if k[0] == op.id]:
            out.append((key[1], self._partial.pop(key)))
        return out


class PlainDisplay:
    """Plain text for logs and pipes."""

    def __init__(self, stream: TextIO, describe: Describe) -> None:
        self._out = stream
        self._describe = describe
        self._lines = _Lines()

    def _write(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        done = sum(flow.states[op.id].status.finished for op in flow.ops)
        extra = f" · resuming: {done} of {len(flow.ops)} already done" if resumed else ""
        self._write(f"flow {flow.id} · {flow.name} · {_jobs(len(flow.ops))}{extra}")

    def op_started(self, flow: Flow, op: Op) -> None:
        attempt = flow.states[op.id].run_count
        self._write(f"▶ {self._describe(op)}" + (f" · attempt {attempt}" if attempt > 1 else ""))

    def op_output(self, op: Op, stream: str, text: str) -> None:
        prefix = f"{op.id} {MARKS.get(stream, '|')} "
        lines = self._lines.feed(op, stream, text)
        if lines:
            self._out.write("".join(f"{prefix}{line}\n" for line in lines))
            self._out.flush()

    def op_finished(self, flow: Flow, op: Op) -> None:
        for stream, line in self._lines.flush(op):
            self._write(f"{op.id} {MARKS.get(stream, '|')} {line}")
        self._write(f"{ICONS[flow.states[op.id].status]} {op.id} {status_text(flow, op)}")

    def flow_finished(self, flow: Flow) -> None:
        rows = [("JOB", "STATUS", "EXIT", "TIME", "ARTIFACTS"), *summary_rows(flow)]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            self._write(
                "  " + "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row))
            )
        icon = "✔" if flow.status is FlowStatus.SUCCEEDED else "✘"
        self._write(f"{icon} {closing_line(flow)}")

    def message(self, text: str) -> None:
        self._write(f"· {process_masker().mask(text)}")


class RichDisplay:
    """A terminal display: streaming log lines above a live progress bar."""

    def __init__(self, stream: TextIO, describe: Describe) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream, highlight=False)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: Any = None
        self._describe = describe
        self._lines = _Lines()

    def _print(self, *parts: tuple[str, str]) -> None:
        from rich.text import Text

        self.console.print(Text.assemble(*parts), soft_wrap=True)

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        done = sum(flow.states[op.id].status.finished for op in flow.ops)
        extra = f" · resuming: {done} of {len(flow.ops)} already done" if resumed else ""
        self._print((f"flow {flow.id}", "bold"), (f" · {flow.name} · {_jobs(len(flow.ops))}{extra}", ""))
        self._task = self._progress.add_task("starting", total=len(flow.ops), completed=done)
        self._progress.start()

    def op_started(self, flow: Flow, op: Op) -> None:
        attempt = flow.states[op.id].run_count
        self._print(
            ("▶ ", "cyan"),
            (self._describe(op), "bold"),
            (f" · attempt {attempt}" if attempt > 1 else "", "dim"),
        )
        self._progress.update(self._task, description=op.id)

    def op_output(self, op: Op, stream: str, text: str) -> None:
        style = {"stderr": "yellow", "node": "cyan"}.get(stream, "")
        for line in self._lines.feed(op, stream, text):
            self._print((f"{op.id} {MARKS.get(stream, '|')} ", "dim"), (line, style))

    def op_finished(self, flow: Flow, op: Op) -> None:
        for stream, line in self._lines.flush(op):
            self._print((f"{op.id} {MARKS.get(stream, '|')} ", "dim"), (line, ""))
        status = flow.states[op.id].status
        style = "yellow" if status is OpStatus.FAILED and op.allow_failure else STYLES.get(status, "")
        self._print((f"{ICONS[status]} {op.id} ", f"bold {style}"), (status_text(flow, op), style))
        done = sum(flow.states[o.id].status.finished for o in flow.ops)
        self._progress.update(self._task, completed=done)

    def flow_finished(self, flow: Flow) -> None:
        from rich.table import Table

        self._progress.stop()
        table = Table(box=None, padding=(0, 2), show_edge=False)
        for column in ("job", "status", "exit", "time", "artifacts"):
            table.add_column(column, style="dim" if column == "artifacts" else None)
        for row in summary_rows(flow):
            table.add_row(*row)
        self.console.print(table)
        style = "bold green" if flow.status is FlowStatus.SUCCEEDED else "bold red"
        icon = "✔" if flow.status is FlowStatus.SUCCEEDED else "✘"
        self._print((f"{icon} {closing_line(flow)}", style))

    def message(self, text: str) -> None:
        self._print((f"· {process_masker().mask(text)}", "dim"))


def make_display(stream: TextIO, describe: Describe) -> PlainDisplay | RichDisplay:
    """A rich display on a terminal, plain lines otherwise; ``describe`` labels an op."""
    return RichDisplay(stream, describe) if stream.isatty() else PlainDisplay(stream, describe)
