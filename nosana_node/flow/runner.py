"""The flow runner: runs any compiled flow against one store, settings and set of op types.

Whatever made the flow (a pipeline, a job definition, the node for a job it took), running it
is the same::

    runner = wiring.flow_runner(loaded, reporter=display)   # or FlowRunner(settings, op_types, …)
    flow = compile_pipeline(pipeline, name="ci", flow_id=job_address)
    with CancelToken(deadline=run_time + job_timeout) as cancel:
        flow = runner.run(flow, cancel=cancel)              # from any thread; cancel from any other

Rules:
- a flow is checked (op types known, arguments valid, dependencies sound) and prepared (images)
  before it is stored and before anything runs: bad input raises and leaves nothing behind;
- a flow's id is its key: a new one is stored on its first run, a stored one continues where
  it stopped, also when it is compiled again with the same id and ops (a node that restarted);
  its state, logs and results are found by that id (``runner.get(job_address)``);
- a finished flow is returned as it is; a flow another live runner owns raises ``FlowBusyError``;
- the secrets a run resolves are masked while it runs and forgotten when it ends (a mask scope
  per run); the run's cancel token stops it (see :mod:`nosana_node.flow.runtime`).
"""

from __future__ import annotations

from nosana_node.clock import SYSTEM_CLOCK, Clock
from nosana_node.errors import UserInputError
from nosana_node.flow.cancel import CancelToken
from nosana_node.flow.context import RunEnv
from nosana_node.flow.events import NullReporter, Reporter
from nosana_node.flow.model import Flow
from nosana_node.flow.registry import OpRegistry
from nosana_node.flow.runtime import Runtime
from nosana_node.flow.store import FlowStore
from nosana_node.secrets.masking import process_masker
from nosana_node.secrets.refs import SecretResolver
from nosana_node.settings import RunnerSettings


class FlowRunner:
    """Runs flows against one store with one set of settings and op types. Thread-safe: several
    flows may run at once, each in its own thread."""

    def __init__(
        self,
        settings: RunnerSettings,
        ops: OpRegistry,
        *,
        secrets: SecretResolver | None = None,
        reporter: Reporter | None = None,
        context: dict[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        store: FlowStore | None = None,
    ) -> None:
        self.settings = settings
        self.ops = ops
        self.store = store or FlowStore(settings.home)
        self.secrets = secrets
        self.reporter = reporter or NullReporter()
        self.context = dict(context or {})
        self.clock = clock

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def check(self, flow: Flow) -> None:
        """Raise :class:`UserInputError` listing every problem that keeps ``flow`` from running."""
        problems = self.ops.problems(flow)
        if problems:
            raise UserInputError(f"flow {flow.id} cannot run: {'; '.join(problems)}")

    def load(self, flow_id: str) -> Flow:
        """A stored flow by id or unique prefix (:class:`UserInputError` when there is none)."""
        return self.store.load(flow_id)

    def get(self, flow_id: str) -> Flow | None:
        """The stored flow with exactly this id, or None."""
        return self.store.load(flow_id) if self.store.exists(flow_id) else None

    def cancel_token(self, deadline: float | None = None) -> CancelToken:
        """A new cancel token on this runner's clock."""
        return CancelToken(deadline, clock=self.clock)

    def run(
        self,
        flow: Flow,
        *,
        cancel: CancelToken | None = None,
        reporter: Reporter | None = None,
        source_key: str | None = None,
    ) -> Flow:
        """Check, prepare, store if new, then run ``flow`` to its end (or until ``cancel`` fires).

        ``source_key`` (new flows only) lets a later run of the same source find this flow again
        (``FlowStore.find_resumable``). Returns the flow with its final states.
        """
        stored = self.get(flow.id) if flow.started_at is None else None
        if stored is not None:  # compiled again (a node restarted): continue the stored one
            if [op.to_json() for op in stored.ops] != [op.to_json() for op in flow.ops]:
                raise UserInputError(f"flow {flow.id} is already stored with other ops")
            flow = stored
        if flow.status.finished:
            return flow
        self.check(flow)
        env = RunEnv(
            settings=self.settings,
            store=self.store,
            reporter=reporter or self.reporter,
            context=self.context,
            clock=self.clock,
            cancel=cancel or self.cancel_token(),
            masker=process_masker().scope(flow.id),
            **({"secrets": self.secrets} if self.secrets is not None else {}),
        )
        try:
            runtime = Runtime(env, self.ops)
            try:
                runtime.preflight(flow)
            except BaseException:
                env.services.close()
                raise
            if not self.store.exists(flow.id):
                self.store.create(flow, source_key)
            return runtime.run(flow)
        finally:
            env.masker.close()
