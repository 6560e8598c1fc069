"""The node's local runner: settings, store, runtime and pipelines wired together.

This is the entry point for everything that runs flows (the CLI today, the market worker
later)::

    runner = Runner(RunnerSettings.from_env(), secrets=my_vault_resolver, reporter=display)
    flow, resumed = runner.prepare_pipeline(Path("pipelines/hello.yml"))
    flow = runner.run(flow)

Bad input (pipeline, workspace, image that cannot be had) raises before anything runs and
before anything is stored. A pipeline run again while an earlier run of the same pipeline
(same content, workspace and context) is unfinished and its runner is gone resumes that flow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nosana_node.errors import UserInputError
from nosana_node.flow.context import RunEnv
from nosana_node.flow.events import NullReporter, Reporter
from nosana_node.flow.model import Flow
from nosana_node.flow.runtime import Runtime
from nosana_node.flow.store import FlowStore
from nosana_node.secrets.refs import SecretResolver
from nosana_node.settings import RunnerSettings


class Runner:
    """Runs pipelines and flows against one store with one set of settings."""

    def __init__(
        self,
        settings: RunnerSettings,
        *,
        secrets: SecretResolver | None = None,
        reporter: Reporter | None = None,
        context: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = FlowStore(settings.home)
        self.secrets = secrets
        self.reporter = reporter or NullReporter()
        self.context = dict(context or {})
        self._new: dict[str, str] = {}  # flow id -> source key, for flows not stored yet

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def prepare_pipeline(
        self, path: Path, *, workspace: Path | None = None, fresh: bool = False, strict: bool = False
    ) -> tuple[Flow, bool]:
        """Validate and compile ``path`` (or find the unfinished run of it); returns (flow, resumed).
        Validation warnings go to the reporter; ``strict`` makes them errors."""
        from nosana_node.pipeline import load
        from nosana_node.pipeline.compile import compile_pipeline, source_key

        doc, pipeline = load(path, strict=strict)
        for warning in doc.warnings:
            self.reporter.message(f"warning: {warning}")
        if workspace is not None:
            if not workspace.is_dir():
                raise UserInputError(f"workspace {workspace} is not a directory")
            workspace = workspace.resolve()
        key = source_key(doc.text, workspace, self.context)
        if not fresh:
            unfinished = self.store.find_resumable(key)
            if unfinished is not None:
                return self.store.load(unfinished), True
        name = (pipeline.nosana.description if pipeline.nosana else None) or path.stem
        source = {
            "kind": "pipeline",
            "file": str(path.resolve()),
            "sha256": hashlib.sha256(doc.text.encode()).hexdigest(),
            "workspace": str(workspace) if workspace else None,
        }
        flow = compile_pipeline(pipeline, name=name, source=source, workspace=workspace, context=self.context)
        self._new[flow.id] = key
        return flow, False

    def load(self, flow_id: str) -> Flow:
        """A stored flow (id or unique prefix)."""
        return self.store.load(flow_id)

    def run(self, flow: Flow) -> Flow:
        """Preflight (engine, orphans, images), store if new, then run ``flow`` to its end."""
        env = RunEnv(
            settings=self.settings,
            store=self.store,
            reporter=self.reporter,
            context=self.context,
            **({"secrets": self.secrets} if self.secrets is not None else {}),
        )
        runtime = Runtime(env)
        try:
            runtime.preflight(flow)
        except BaseException:
            env.services.close()
            raise
        if flow.id in self._new:
            self.store.create(flow, self._new.pop(flow.id))
        return runtime.run(flow)
