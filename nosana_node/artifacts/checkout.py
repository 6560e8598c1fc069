"""The checkout ops: the built-in ``checkout`` artifact every job of a pipeline receives.

- ``checkout/local`` — ``pipeline run --workspace DIR``: a local directory;
- ``checkout/git`` — a pipeline's top-level ``trigger: {repo, commit-sha}`` (the original
  node's way to name the checkout of a local run): ``git clone`` of ``repo`` at ``commit``.

The tree is archived once (owners set to root, links kept as links, checked like any artifact)
into the flow's content-addressed store; jobs get it at their work dir, and a job may name it
as a resource (``{name: checkout, path: …}``) to have it elsewhere too. A clone runs on the
host with a time limit, no prompts and only the ``https``, ``http``, ``ssh``, ``git`` and
``file`` transports; the clone is removed once archived.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nosana_node.artifacts.tarcheck import scan
from nosana_node.errors import NosanaError
from nosana_node.flow.model import Op, OpStatus
from nosana_node.flow.registry import OpOutcome, OpType, op_type

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext

ARTIFACT = "checkout"
GIT_PROTOCOLS = "https:http:ssh:git:file"


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        return None  # sockets, devices, FIFOs are not part of a checkout
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def archive_tree(ctx: OpContext, root: Path, what: str, source: str) -> OpOutcome:
    """Store the tree under ``root`` as the ``checkout`` artifact; ``source`` is recorded."""
    with ctx.artifacts.writer(ctx.settings.artifact_cap, what) as writer:
        try:
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for entry in sorted(os.listdir(root)):
                    tar.add(root / entry, arcname=entry, filter=_as_root)
        except OSError as exc:
            raise NosanaError(f"cannot read {what} {root}: {exc.strerror}: {exc.filename}") from None
        writer.close()
        summary = scan(writer.tmp_path)
        blob = writer.commit()
    ctx.log.note(f"{what} {source}: {summary.files} files, {summary.bytes} bytes ({blob.digest})")
    record = {"digest": blob.digest, "size": blob.size, "path": source, "files": summary.files}
    return OpOutcome(OpStatus.SUCCEEDED, exit_code=0, results={"artifacts": {ARTIFACT: record}})


@op_type("checkout/local")
class LocalCheckout(OpType):
    """Archive a local directory as the ``checkout`` artifact."""

    def validate(self, args: dict[str, Any]) -> list[str]:
        path = args.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            return ["path: an absolute directory path is required"]
        return []

    def describe(self, op: Op) -> str:
        return f"{op.id} ({op.args.get('path')})"

    def run(self, ctx: OpContext) -> OpOutcome:
        root = Path(ctx.args["path"])
        if not root.is_dir():
            return OpOutcome.failed(f"workspace {root} is not a directory")
        return archive_tree(ctx, root, "the workspace", str(root))


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ALLOW_PROTOCOL=GIT_PROTOCOLS, GIT_CONFIG_NOSYSTEM="1")
    return env


@op_type("checkout/git")
class GitCheckout(OpType):
    """Clone ``repo`` at ``commit`` (default: its default branch) as the ``checkout`` artifact."""

    def validate(self, args: dict[str, Any]) -> list[str]:
        problems = []
        repo = args.get("repo")
        if not isinstance(repo, str) or not repo.strip() or repo.startswith("-"):
            problems.append("repo: a repository URL is required")
        commit = args.get("commit")
        if commit is not None and (
            not isinstance(commit, str) or not commit.strip() or commit.startswith("-")
        ):
            problems.append("commit: a commit, branch or tag name is required")
        return problems

    def describe(self, op: Op) -> str:
        commit = op.args.get("commit")
        return f"{op.id} ({op.args.get('repo')}{'@' + commit if commit else ''})"

    def run(self, ctx: OpContext) -> OpOutcome:
        repo, commit = ctx.args["repo"], ctx.args.get("commit")
        git = shutil.which("git")
        if git is None:
            return OpOutcome.failed(
                "git is not installed on this host: cannot check out the trigger's repository"
            )
        timeout = ctx.settings.job_timeout
        parent = ctx.settings.home / "tmp"
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="checkout-", dir=parent) as tmp:
            tree = Path(tmp) / "project"
            steps = [
                (f"git clone {repo}", [git, "clone", "--quiet", "--no-checkout", "--", repo, str(tree)]),
                (
                    f"git checkout {commit or 'HEAD'}",
                    [git, "-C", str(tree), "checkout", "--quiet", "--detach", commit or "HEAD", "--"],
                ),
            ]
            for shown, argv in steps:
                ctx.log.note(f"$ {shown}")
                try:
                    done = subprocess.run(
                        argv, env=_git_env(), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
                    )
                except subprocess.TimeoutExpired:
                    return OpOutcome.failed(f"git timed out after {timeout:g}s")
                if done.stdout:
                    ctx.log.write("stdout", done.stdout[-65536:])
                if done.stderr:
                    ctx.log.write("stderr", done.stderr[-65536:])
                if done.returncode != 0:
                    last = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()
                    reason = last[-1] if last else f"exit code {done.returncode}"
                    return OpOutcome.failed(
                        f"cannot check out {repo}{'@' + commit if commit else ''}: {reason}"
                    )
            source = f"{repo}@{commit}" if commit else repo
            return archive_tree(ctx, tree, "the checkout", source)
