"""From what people wrote to the canonical pipeline form, with a warning for what is ignored.

The original Nosana node read pipelines leniently, and real ``.nosana-ci.yml`` files rely on it.
This pass accepts the same files and says what it did, so :mod:`~nosana_node.pipeline.schema`
can stay strict:

- keys the original node ignored (stray, mis-indented, misspelt) are dropped with a warning
  naming the key and the nearest known one;
- spellings it read: ``image-pull-secret`` → ``image_pull_secrets``, ``work-dir`` → ``work_dir``;
- shorthands: a resource given as a bare name; an artifact without ``path`` (the path is its
  name) or with a ``paths:`` list; a branch list given as one string; ``optional: true`` on a
  resource (``required: false``); a registry password given as a list of secret references;
- an empty value (``environment:`` with nothing after it) of a key that holds a list or a
  mapping counts as an empty list or mapping;
- the legacy secret type ``secret`` (late 2022) is read as ``nosana/secret``.

Wrong types are left alone for the schema to report. Every renamed or rewritten value keeps the
position of what was written (:meth:`~nosana_node.pipeline.loader.Document.alias`).
"""

from __future__ import annotations

import re
from typing import Any

from nosana_node.pipeline.loader import Document, Path_, render_path
from nosana_node.pipeline.problems import Problem, nearest
from nosana_node.pipeline.schema import (
    NOSANA_SECRET,
    VAULT,
    Artifact,
    Checkout,
    CommandObject,
    Global,
    Job,
    Meta,
    PullRequestTrigger,
    PullSecrets,
    PushTrigger,
    Resource,
    SecretValue,
    Trigger,
)
from nosana_node.pipeline.schema import Model as _Model

TOP_KEYS = ("nosana", "trigger", "global", "jobs")
#: other spellings the original node or its users wrote, per kind of mapping
ALIASES: dict[str, dict[str, str]] = {
    "global": {"image-pull-secret": "image_pull_secrets", "image_pull_secret": "image_pull_secrets"},
    "job": {
        "image-pull-secret": "image_pull_secrets",
        "image_pull_secret": "image_pull_secrets",
        "work-dir": "work_dir",
    },
}
ENV_LIKE = re.compile(r"^[A-Z][A-Z0-9_]*$")
LEGACY_SECRET = "secret"


def _keys(model: type[_Model]) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in model.model_fields.items())


KNOWN: dict[str, tuple[str, ...]] = {
    "top": TOP_KEYS,
    "nosana": _keys(Meta),
    "checkout": _keys(Checkout),
    "global": _keys(Global),
    "job": _keys(Job),
    "command": _keys(CommandObject),
    "artifact": (*_keys(Artifact), "path"),
    "resource": (*_keys(Resource), "optional"),
    "pull": _keys(PullSecrets),
    "secret": _keys(SecretValue),
    "trigger": _keys(Trigger),
    "push": _keys(PushTrigger),
    "pull_request": _keys(PullRequestTrigger),
}
#: where each known key lives, for "mis-indented?" hints
HOMES: dict[str, list[str]] = {}
for _where, _names in KNOWN.items():
    for _name in _names:
        HOMES.setdefault(_name, []).append(_where)
HOME_LABEL = {"top": "the top level", "job": "a job", "global": "global"}


class Normalizer:
    """One pass over a document's data; collects warnings and errors as it goes."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.warnings: list[Problem] = []
        self.errors: list[Problem] = []

    # -- reporting -----------------------------------------------------------------------------

    def warn(self, path: Path_, message: str, key: bool = False) -> None:
        """A warning at ``path`` (at its key when ``key``)."""
        self.warnings.append(
            Problem(self.doc.file, self.doc.mark(path, key=key), render_path(path), message, warning=True)
        )

    def error(self, path: Path_, message: str, key: bool = False) -> None:
        """An error at ``path`` (at its key when ``key``)."""
        self.errors.append(Problem(self.doc.file, self.doc.mark(path, key=key), render_path(path), message))

    def _unknown(self, path: Path_, kind: str) -> None:
        key = str(path[-1])
        known = KNOWN[kind]
        near = nearest(key, known) or next((k for k in known if len(key) >= 3 and k.startswith(key)), None)
        if key.lower() in known:
            hint = f" (did you mean {key.lower()!r}?)"
        elif kind in ("job", "global") and ENV_LIKE.match(key):
            hint = " (an environment variable? it belongs under 'environment:')"
        elif near is not None:
            hint = f" (did you mean {near!r}?)"
        elif key in HOMES and kind not in HOMES[key]:
            homes = " or ".join(HOME_LABEL.get(h, repr(h)) for h in HOMES[key])
            hint = f" ('{key}' belongs to {homes}: check the indentation)"
        else:
            hint = f" (known here: {', '.join(known)})"
        self.warn(path, f"unknown key {key!r} ignored{hint}", key=True)

    # -- mappings ------------------------------------------------------------------------------

    def fields(self, value: dict[str, Any], path: Path_, kind: str) -> dict[str, Any]:
        """``value`` with aliases renamed and unknown keys dropped (each with a warning)."""
        aliases = ALIASES.get(kind, {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = aliases.get(key, key)
            if name not in KNOWN[kind]:
                self._unknown((*path, key), kind)
                continue
            if name in out:
                other = next(k for k in value if aliases.get(k, k) == name and k != key)
                self.error((*path, key), f"{name!r} is given twice (as {other!r} and {key!r})", key=True)
                continue
            if name != key and name not in value:
                self.doc.alias((*path, name), (*path, key))
            out[name] = item
        return out

    def empty_as(self, out: dict[str, Any], key: str, empty: Any) -> None:
        """An empty value (``key:`` with nothing after it) stands for ``empty``."""
        if key in out and out[key] is None:
            out[key] = empty

    # -- the levels ----------------------------------------------------------------------------

    def pipeline(self, data: dict[str, Any]) -> dict[str, Any]:
        """The canonical form of a whole pipeline mapping."""
        out = self.fields(data, (), "top")
        if isinstance(out.get("nosana"), dict):
            out["nosana"] = self.fields(out["nosana"], ("nosana",), "nosana")
        if out.get("nosana", {}) is None:
            del out["nosana"]
        if isinstance(out.get("trigger"), dict):
            out["trigger"] = self.fields(out["trigger"], ("trigger",), "checkout")
        if out.get("trigger", {}) is None:
            del out["trigger"]
        self.empty_as(out, "global", {})
        if isinstance(out.get("global"), dict):
            out["global"] = self.scope(out["global"], ("global",), "global")
        if isinstance(out.get("jobs"), list):
            out["jobs"] = [
                self.job(job, ("jobs", i)) if isinstance(job, dict) else job
                for i, job in enumerate(out["jobs"])
            ]
        return out

    def scope(self, value: dict[str, Any], path: Path_, kind: str) -> dict[str, Any]:
        """``global`` or a job: environment, secrets, registry credentials, trigger."""
        out = self.fields(value, path, kind)
        self.empty_as(out, "environment", {})
        self.empty_as(out, "secrets", [])
        for key in ("image_pull_secrets", "trigger"):
            if key in out and out[key] is None:
                del out[key]
        if isinstance(out.get("environment"), dict):
            out["environment"] = {
                name: self.secret(item, (*path, "environment", name)) if isinstance(item, dict) else item
                for name, item in out["environment"].items()
            }
        if isinstance(out.get("image_pull_secrets"), dict):
            out["image_pull_secrets"] = self.pull(out["image_pull_secrets"], (*path, "image_pull_secrets"))
        if isinstance(out.get("trigger"), dict):
            out["trigger"] = self.trigger(out["trigger"], (*path, "trigger"))
        return out

    def job(self, value: dict[str, Any], path: Path_) -> dict[str, Any]:
        """One job: its scope, commands, artifacts and resources."""
        out = self.scope(value, path, "job")
        self.empty_as(out, "artifacts", [])
        self.empty_as(out, "resources", [])
        if isinstance(out.get("commands"), list):
            out["commands"] = [
                self.command(c, (*path, "commands", i)) if isinstance(c, dict) else c
                for i, c in enumerate(out["commands"])
            ]
        if isinstance(out.get("artifacts"), list):
            out["artifacts"] = [
                self.artifact(a, (*path, "artifacts", i)) if isinstance(a, dict) else a
                for i, a in enumerate(out["artifacts"])
            ]
        if isinstance(out.get("resources"), list):
            out["resources"] = [
                self.resource(r, (*path, "resources", i)) for i, r in enumerate(out["resources"])
            ]
        return out

    def command(self, value: dict[str, Any], path: Path_) -> dict[str, Any]:
        """A command object; a mapping without ``cmd`` is a command YAML read as ``key: value``."""
        if "cmd" not in value and len(value) == 1:
            (key, item) = next(iter(value.items()))
            if key not in KNOWN["command"]:
                text = f"{key}: {item}"
                self.error(
                    path, f"YAML read this command as a mapping ({text}) because of ': ' in it; quote it"
                )
                return {"cmd": text}
        return self.fields(value, path, "command")

    def artifact(self, value: dict[str, Any], path: Path_) -> dict[str, Any]:
        """``path`` or ``paths`` (a list or one string) become ``paths``; no path: the name."""
        out = self.fields(value, path, "artifact")
        if "path" in out and "paths" in out:
            self.error((*path, "paths"), "give either 'path' or 'paths', not both", key=True)
            del out["path"]
            return out
        if "path" in out:
            self.doc.alias((*path, "paths", 0), (*path, "path"))
            self.doc.alias((*path, "paths"), (*path, "path"))
            out["paths"] = [out.pop("path")]
        elif isinstance(out.get("paths"), str):
            self.doc.alias((*path, "paths", 0), (*path, "paths"))
            out["paths"] = [out["paths"]]
        elif "paths" not in out and isinstance(out.get("name"), str):
            self.doc.alias((*path, "paths", 0), (*path, "name"))
            out["paths"] = [out["name"]]
        return out

    def resource(self, value: Any, path: Path_) -> Any:
        """A bare name is ``{name}``; ``optional: true`` is ``required: false``."""
        if isinstance(value, str):
            self.doc.alias((*path, "name"), path)
            return {"name": value}
        if not isinstance(value, dict):
            return value
        out = self.fields(value, path, "resource")
        if "optional" in out:
            optional = out.pop("optional")
            if "required" in out:
                self.error((*path, "optional"), "give either 'required' or 'optional', not both", key=True)
            elif isinstance(optional, bool):
                out["required"] = not optional
            else:
                self.error((*path, "optional"), "expected true or false")
        return out

    def pull(self, value: dict[str, Any], path: Path_) -> dict[str, Any]:
        """Registry credentials; a password given as a list of references uses the first."""
        out = self.fields(value, path, "pull")
        password = out.get("password")
        if isinstance(password, list):
            if not password:
                self.error((*path, "password"), "the list of secret references is empty")
                return out
            if len(password) > 1:
                self.warn((*path, "password", 1), "only the first secret reference of the list is used")
            self.doc.alias((*path, "password"), (*path, "password", 0))
            password = password[0]
        if isinstance(password, dict):
            password = self.secret(password, (*path, "password"))
        if "password" in out:
            out["password"] = password
        if isinstance(out.get("username"), dict):
            out["username"] = self.secret(out["username"], (*path, "username"))
        return out

    def secret(self, value: dict[str, Any], path: Path_) -> dict[str, Any]:
        """A secret reference; the legacy type ``secret`` is ``nosana/secret``."""
        out = self.fields(value, path, "secret")
        if out.get("type") == LEGACY_SECRET:
            self.warn((*path, "type"), f"legacy secret type 'secret' read as {NOSANA_SECRET!r}")
            out["type"] = NOSANA_SECRET
        if out.get("type") == VAULT and "endpoint" in out:
            self.warn(
                (*path, "endpoint"), f"'endpoint' is ignored for {VAULT!r} (the node's vault)", key=True
            )
            del out["endpoint"]
        return out

    def trigger(self, value: dict[str, Any], path: Path_) -> dict[str, Any]:
        """``branch`` / ``push`` / ``pull_request``; a branch list may be one string."""
        out = self.fields(value, path, "trigger")
        self._listify(out, "branch", path)
        for key in ("push", "pull_request"):
            if out.get(key, {}) is None:
                del out[key]
            elif isinstance(out.get(key), dict):
                inner = self.fields(out[key], (*path, key), key)
                for name in ("branches", "tags"):
                    self._listify(inner, name, (*path, key))
                out[key] = inner
        return out

    def _listify(self, out: dict[str, Any], key: str, path: Path_) -> None:
        if isinstance(out.get(key), str):
            self.doc.alias((*path, key, 0), (*path, key))
            out[key] = [out[key]]
        elif key in out and out[key] is None:
            del out[key]


def normalize(doc: Document) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    """The canonical data of a pipeline mapping, with the warnings and errors found on the way."""
    normalizer = Normalizer(doc)
    data = normalizer.pipeline(doc.data)
    return data, normalizer.warnings, normalizer.errors
