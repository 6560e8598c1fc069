"""Running a flow from the command line: a runner built from the configuration and the flags,
a live display, signals as cancellation, and the exit code.

Exit codes: 0 the flow succeeded; 1 it failed (or was stopped or expired), or a fault of the node
(the engine did not answer, the disk was full) interrupted it (saved, resumable: the line says
why); 2 bad input, nothing ran; 128 + signal number when SIGINT/SIGTERM interrupted it (the flow
is saved and can be resumed with ``flow resume``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from nosana_node.cli.options import print_problems
from nosana_node.terminal import neutralise

if TYPE_CHECKING:
    from nosana_node.config.load import Flag
    from nosana_node.flow.model import Flow
    from nosana_node.flow.runner import FlowRunner

#: what a command hands over to run: the flow, whether it resumes an earlier run, its source key
Prepare = Callable[["FlowRunner"], "tuple[Flow, bool, str | None]"]


def run_with_display(
    flags: dict[str, Flag],
    prepare: Prepare,
    *,
    json_out: bool,
    context: dict[str, str] | None = None,
    announce_resume: bool = True,
    job_deadline: bool = False,
    result: Callable[[Flow], dict[str, Any]] | None = None,
) -> None:
    """Build a runner, prepare a flow with it, run it with a live display; exit 0/1/2/130/143.

    ``job_deadline``: the run ends at the runner's job timeout from its start (a job definition's
    services run until then, and that is a success); ``result``: the
    result document printed with ``--json`` (the flow result by default)."""
    from nosana_node import wiring
    from nosana_node.cli.display import make_display
    from nosana_node.flow.cancel import Cancelled
    from nosana_node.flow.model import FlowStatus
    from nosana_node.flow.result import flow_result
    from nosana_node.flow.signals import SignalCancel
    from nosana_node.pipeline.problems import ProblemList

    document = result or flow_result
    loaded = wiring.load_configuration(flags=flags)
    runner = wiring.flow_runner(loaded, context=context)
    display = make_display(sys.stderr if json_out else sys.stdout, runner.ops.describe)
    try:
        try:
            flow, resumed, source_key = prepare(runner)
        except ProblemList as exc:
            print_problems(exc.lines)
            raise typer.Exit(2) from None
        if resumed and announce_resume:
            display.message(f"resuming flow {flow.id}: an earlier run did not finish (--fresh starts over)")
        if flow.status.finished:
            display.message(f"flow {flow.id} already finished: {flow.status}")
        else:
            deadline = runner.clock.now() + runner.settings.job_timeout if job_deadline else None
            with runner.cancel_token(deadline) as cancel, SignalCancel(cancel) as signals:
                try:
                    flow = runner.run(flow, cancel=cancel, reporter=display, source_key=source_key)
                except Cancelled:
                    print("error: interrupted before any job ran", file=sys.stderr)
                    raise typer.Exit(signals.exit_code or 130) from None
            if flow.status is FlowStatus.INTERRUPTED:
                if json_out:
                    print(json.dumps(document(flow), indent=2))
                hint = f"continue it with `nosana-node flow resume {flow.id}`"
                if signals.exit_code is None:  # a fault of the node (engine, disk): say which, exit 1
                    why = neutralise(" ".join((flow.error or "interrupted").split()))
                    print(f"error: {why}; flow {flow.id} is saved, {hint}", file=sys.stderr)
                    raise typer.Exit(1)
                print(f"error: interrupted; flow {flow.id} is saved, {hint}", file=sys.stderr)
                raise typer.Exit(signals.exit_code)
        if json_out:
            print(json.dumps(document(flow), indent=2))
        raise typer.Exit(0 if flow.status is FlowStatus.SUCCEEDED else 1)
    finally:
        runner.close()
