"""The ``checkout/git`` op: a repository at a commit becomes the ``checkout`` artifact.

A pipeline's top-level ``trigger: {repo, commit-sha}`` (the original node's way to name the
checkout of a local run) compiles to this op first when no workspace is given. The clone runs
on the host within the job time limit (both git commands together), writing at most
``:node :max-repository-size`` (:mod:`nosana_node.checkout.watch`: git is stopped past it and the
partial checkout removed), no prompts, no system git configuration and only the
``https``, ``http``, ``ssh``, ``git`` and ``file`` transports; it is stopped when the run is
cancelled, archived (:func:`~nosana_node.checkout.archive.archive_tree`, ``.git`` included, as
the original node's checkout container left it) and removed. A ``public`` checkout (a market
job's) reaches public hosts only, pinned, with none of this host's identity
(:mod:`nosana_node.checkout.public`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nosana_node.checkout.archive import archive_tree
from nosana_node.checkout.public import RefusedRepository, pin, public_env
from nosana_node.checkout.watch import SizeWatch, kill_group
from nosana_node.flow.model import Op
from nosana_node.flow.registry import OpOutcome, OpType
from nosana_node.flow.results import Reason
from nosana_node.units import size

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext

GIT_PROTOCOLS = "https:http:ssh:git:file"
OUTPUT_KEPT = 65536  # of git's output, per step, in the op's log


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ALLOW_PROTOCOL=GIT_PROTOCOLS, GIT_CONFIG_NOSYSTEM="1")
    return env


def _arg(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not value.startswith("-")


class GitCheckout(OpType):
    """Clone ``repo`` at ``commit`` (default: its default branch) as the ``checkout`` artifact."""

    name = "checkout/git"

    def validate(self, args: dict[str, Any]) -> list[str]:
        problems = []
        if not _arg(args.get("repo")):
            problems.append("repo: a repository URL is required")
        if args.get("commit") is not None and not _arg(args["commit"]):
            problems.append("commit: a commit, branch or tag name is required")
        if not isinstance(args.get("public", False), bool):
            problems.append("public: true or false")
        return problems

    def describe(self, op: Op) -> str:
        commit = op.args.get("commit")
        return f"{op.id} ({op.args.get('repo')}{'@' + commit if commit else ''})"

    def run(self, ctx: OpContext) -> OpOutcome:
        repo, commit = ctx.args["repo"], ctx.args.get("commit")
        git = shutil.which("git")
        if git is None:
            return OpOutcome.failed(
                Reason.ERROR, "git is not installed on this host: cannot check out the trigger"
            )
        options: list[str] = []
        if ctx.args.get("public"):  # a market job's: see nosana_node.checkout.public
            try:
                options = pin(repo)
            except RefusedRepository as exc:
                return OpOutcome.failed(Reason.ERROR, f"cannot check out {repo}: {exc}")
        parent = ctx.settings.home / "tmp"
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="checkout-", dir=parent) as tmp:
            tree = Path(tmp) / "project"
            env = _git_env()
            if ctx.args.get("public"):
                (Path(tmp) / "home").mkdir()
                env = public_env(env, Path(tmp) / "home")
            steps = [
                (
                    f"git clone {repo}",
                    [git, *options, "clone", "--quiet", "--no-checkout", "--", repo, str(tree)],
                ),
                (
                    f"git checkout {commit or 'HEAD'}",
                    [git, "-C", str(tree), "checkout", "--quiet", "--detach", commit or "HEAD", "--"],
                ),
            ]
            deadline = time.monotonic() + ctx.settings.job_timeout
            for shown, argv in steps:
                failure = self._step(ctx, shown, argv, env, tree, deadline)
                if failure is not None:  # the temporary directory (the partial checkout) goes
                    where = f"{repo}@{commit}" if commit else repo
                    return OpOutcome.failed(Reason.RESOURCE, f"cannot check out {where}: {failure}")
            return archive_tree(ctx, tree, "the checkout", f"{repo}@{commit}" if commit else repo)

    def _step(
        self, ctx: OpContext, shown: str, argv: list[str], env: dict[str, str], tree: Path, deadline: float
    ) -> str | None:
        """Run one git command (stopped on cancellation, at ``deadline`` or when ``tree`` passes
        the checkout cap); None when it succeeded, else why it did not."""
        ctx.log.note(f"$ {shown}")
        cap = ctx.settings.checkout_cap
        with subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its helpers are killed with it (kill_group)
        ) as proc:
            forget = ctx.cancel.on_cancel(lambda _reason: kill_group(proc))
            watch = SizeWatch(proc, tree, cap)
            try:
                with watch:
                    out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(proc)
                proc.communicate()
                if not watch.exceeded:
                    return f"git timed out after {ctx.settings.job_timeout:g}s"
            finally:
                forget()
        ctx.cancel.check()
        if watch.exceeded or watch.check():
            return (
                f"the repository is larger than the {size(cap)} cap on a checkout "
                "(:node :max-repository-size): git was stopped, the partial checkout removed"
            )
        for stream, data in (("stdout", out), ("stderr", err)):
            if data:
                ctx.log.write(stream, data[-OUTPUT_KEPT:])
        if proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            return lines[-1] if lines else f"exit code {proc.returncode}"
        return None
