"""What a running flow tells its audience (a live display, a log, nothing).

The runtime calls a :class:`Reporter` at each step; :class:`NullReporter` ignores everything.
Output text handed to :meth:`Reporter.op_output` is already masked. Ops of a flow may run at
the same time, each in its own thread: the runtime serialises the calls, so a reporter needs no
lock of its own, but it must expect the output of several ops interleaved.
"""

from __future__ import annotations

from typing import Protocol

from nosana_node.flow.model import Flow, Op


class Reporter(Protocol):
    """Receives progress events of a run."""

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        """The flow starts (or resumes)."""

    def op_started(self, flow: Flow, op: Op) -> None:
        """An op starts; its state says which attempt."""

    def op_output(self, op: Op, stream: str, text: str) -> None:
        """Masked output of an op: ``stream`` is ``stdout``, ``stderr`` or ``node``."""

    def op_finished(self, flow: Flow, op: Op) -> None:
        """An op reached a final (or interrupted) state."""

    def flow_finished(self, flow: Flow) -> None:
        """The flow ended (succeeded, failed or interrupted)."""

    def message(self, text: str) -> None:
        """A node message not tied to one op (pulling an image, sweeping orphans …)."""


class NullReporter:
    """A reporter that ignores every event."""

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        pass

    def op_started(self, flow: Flow, op: Op) -> None:
        pass

    def op_output(self, op: Op, stream: str, text: str) -> None:
        pass

    def op_finished(self, flow: Flow, op: Op) -> None:
        pass

    def flow_finished(self, flow: Flow) -> None:
        pass

    def message(self, text: str) -> None:
        pass
