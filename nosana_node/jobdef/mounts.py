"""An op's resources, fetched and turned into mounts before its container is created.

Rules:
- each resource is fetched into the node's cache (:class:`~nosana_node.resources.ResourceStore`)
  and its directory is mounted read-only at ``target``;
- ``allowWrite: true``: the op gets a private copy instead (the cache is shared between jobs),
  mounted writable, removed with the job;
- several Ollama resources with the same target (default ``/root/.ollama/models``) are merged
  into one models directory (links to the cached files), so ``ollama serve`` finds them all;
- a resource that cannot be fetched raises :class:`~nosana_node.resources.ResourceError`
  naming it: the op fails before its container exists.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from nosana_node.flow.executor import Mount
from nosana_node.jobdef.schema import REMOVE_IF_EMPTY, OllamaResource, RemoteResource, ResourceItem, Spread
from nosana_node.resources.errors import ResourceError
from nosana_node.resources.ollama import DEFAULT_TARGET
from nosana_node.resources.store import Fetched, ResourceStore

_ADAPTER: TypeAdapter[Any] = TypeAdapter(ResourceItem)


def parse(items: list[Any]) -> list[RemoteResource]:
    """Resource specs (after literals were expanded); :class:`ResourceError` when one is malformed."""
    found: list[RemoteResource] = []
    for index, item in enumerate(items):
        if item == REMOVE_IF_EMPTY:
            continue
        try:
            resource = _ADAPTER.validate_python(item)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"] if not str(p).startswith("~"))
            raise ResourceError(f"resources[{index}]: {where}: {first['msg']}") from None
        if not isinstance(resource, Spread):
            found.append(resource)
    return found


def _merge(fetched: list[Fetched], into: Path) -> None:
    for tree in fetched:
        for path in tree.path.rglob("*"):
            if path.is_file():
                target = into / path.relative_to(tree.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    os.link(path, target)


def _writable_copy(source: Path, into: Path) -> None:
    shutil.copytree(source, into, dirs_exist_ok=True, copy_function=shutil.copyfile)
    for root, dirs, files in os.walk(into):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def resource_mounts(
    resources: list[RemoteResource],
    store: ResourceStore,
    private_dir: Callable[[str], Path],
    note: Callable[[str], None],
) -> list[Mount]:
    """Fetch every resource and return the mounts (see the module's rules)."""
    mounts: list[Mount] = []
    ollama: dict[str, list[Fetched]] = {}
    for resource in resources:
        fetched = store.fetch(resource)
        cost = (
            f"{fetched.fetched_files} file(s), {fetched.fetched_bytes} bytes fetched"
            if fetched.fetched_files
            else "from the cache"
        )
        note(f"resource {fetched.name}: {fetched.files} file(s), {fetched.size} bytes ({cost})")
        if isinstance(resource, OllamaResource):
            ollama.setdefault(resource.target or DEFAULT_TARGET, []).append(fetched)
            continue
        target = resource.target
        if getattr(resource, "allow_write", None):
            copy = private_dir("rw")
            _writable_copy(fetched.path, copy)
            mounts.append(Mount(str(copy), target, read_only=False))
        else:
            mounts.append(Mount(str(fetched.path), target))
    for target, trees in ollama.items():
        if len(trees) == 1:
            mounts.append(Mount(str(trees[0].path), target))
            continue
        merged = private_dir("ollama")
        _merge(trees, merged)
        mounts.append(Mount(str(merged), target))
    return mounts
