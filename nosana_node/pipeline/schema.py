"""The Nosana pipeline format (spec §1) in its canonical form, as strict pydantic models.

:mod:`~nosana_node.pipeline.normalize` turns what people write into this form first (aliases,
shorthands, keys the original node ignored); these models then check types and values. Rules:

- environment values are strings (numbers and booleans are written as strings) or secret
  references ``{type: nos/vault, value: path#key}`` / ``{type: nosana/secret, endpoint, value}``;
  a registry password must be a reference;
- artifact and resource paths are relative to the job's work dir: no ``..`` component, and no
  pseudo-filesystem (``/proc``, ``/sys``, ``/dev``); an absolute path elsewhere is accepted with
  a warning (the original node gave it its container meaning);
- image references follow the engine's grammar (``[host[:port]/]name[:tag][@digest]``).

Union members are tagged with names starting with ``~`` so error paths can drop them.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from nosana_node.image_reference import check_reference
from nosana_node.secrets.refs import SecretRef

DEFAULT_IMAGE = "ubuntu:latest"
DEFAULT_WORK_DIR = "/root/project"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VAULT = "nos/vault"
NOSANA_SECRET = "nosana/secret"
PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid environment variable name")
    return value


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"must be an absolute path, got {value!r}")
    if ".." in value.split("/"):
        raise ValueError(f"must not contain '..', got {value!r}")
    return value


def job_path(value: str) -> str:
    """A path an artifact or resource names: inside the container, never climbing out of the
    work dir with ``..``, never a pseudo-filesystem."""
    if "\\" in value:
        raise ValueError(f"must use '/' as separator, got {value!r}")
    if ".." in value.split("/"):
        raise ValueError(f"must not contain '..' (paths are relative to the work dir), got {value!r}")
    clean = posixpath.normpath(value)
    if any(clean == p or clean.startswith(p + "/") for p in PSEUDO_FILESYSTEMS):
        raise ValueError(
            f"must not name a pseudo-filesystem ({', '.join(PSEUDO_FILESYSTEMS)}), got {value!r}"
        )
    return value


def _image(value: str) -> str:
    problem = check_reference(value)
    if problem:
        raise ValueError(problem)
    return value


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(
            "expected a string, a number, a boolean or a secret reference {type: nos/vault, value: …}"
        )
    return value


def _reference_only(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "must be a secret reference {type: nos/vault, value: path#key};"
            " passwords are never written in a pipeline"
        )
    return value


def _kind(value: Any) -> str:
    return "~object" if isinstance(value, dict) else "~text"


Text = Annotated[str, AfterValidator(_non_empty)]
EnvName = Annotated[str, AfterValidator(_env_name)]
AbsPath = Annotated[str, AfterValidator(_absolute)]
JobPath = Annotated[str, AfterValidator(_non_empty), AfterValidator(job_path)]
Image = Annotated[str, AfterValidator(_non_empty), AfterValidator(_image)]


class Model(BaseModel):
    """Strict, closed models: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SecretValue(Model):
    """``{type: nos/vault, value: path#key}`` or ``{type: nosana/secret, endpoint, value}``."""

    type: Literal["nos/vault", "nosana/secret"]
    value: Text
    endpoint: Text | None = None

    def ref(self) -> SecretRef:
        """The :class:`SecretRef` this names: a vault path (and key), or a nosana/secret name."""
        if self.type == NOSANA_SECRET:
            return SecretRef(path=self.value.strip(), endpoint=self.endpoint or "")
        return SecretRef.parse(self.value)


EnvValue = Annotated[
    Annotated[Annotated[str, BeforeValidator(_scalar_text)], Tag("~text")]
    | Annotated[SecretValue, Tag("~object")],
    Discriminator(_kind),
]


class CommandObject(Model):
    """A command with options."""

    cmd: Text
    working_dir: Text | None = None
    allow_failure: bool = False


Command = Annotated[
    Annotated[Text, Tag("~text")] | Annotated[CommandObject, Tag("~object")],
    Discriminator(_kind),
]


class Artifact(Model):
    """Paths (globs allowed) taken out of the job's container after it succeeds, as one archive."""

    name: Text
    paths: Annotated[list[JobPath], Field(min_length=1)]
    required: bool = True


class Resource(Model):
    """An earlier job's artifact (or the built-in ``checkout``) placed before the job starts."""

    name: Text
    path: JobPath = "."
    required: bool = True


class PullSecrets(Model):
    """Registry credentials for pulling a private image (``url`` absent: the default registry)."""

    url: Text | None = None
    username: Annotated[
        Annotated[Text, Tag("~text")] | Annotated[SecretValue, Tag("~object")], Discriminator(_kind)
    ]
    password: Annotated[SecretValue, BeforeValidator(_reference_only)]


class PushTrigger(Model):
    """``trigger.push``."""

    branches: list[Text] = []
    tags: list[Text] = []


class PullRequestTrigger(Model):
    """``trigger.pull_request``."""

    branches: list[Text] = []


class Trigger(Model):
    """When the pipeline (or a job) runs: informational for a local run, every job runs."""

    branch: list[Text] | None = None
    push: PushTrigger | None = None
    pull_request: PullRequestTrigger | None = None


class Checkout(Model):
    """Top-level ``trigger: {repo, commit-sha}``: the repository a local run checks out."""

    repo: Text
    commit_sha: Text | None = Field(default=None, alias="commit-sha")


class Global(Model):
    """Defaults for every job."""

    image: Image | None = None
    trigger: Trigger | None = None
    environment: dict[EnvName, EnvValue] = {}
    secrets: list[EnvName] = []
    allow_failure: bool = False
    image_pull_secrets: PullSecrets | None = None


class Job(Model):
    """One job: one container, its commands, what it takes and what it leaves."""

    name: Text
    image: Image | None = None
    environment: dict[EnvName, EnvValue] = {}
    secrets: list[EnvName] = []
    work_dir: AbsPath | None = None
    allow_failure: bool | None = None
    image_pull_secrets: PullSecrets | None = None
    trigger: Trigger | None = None
    commands: Annotated[list[Command], Field(min_length=1)]
    artifacts: list[Artifact] = []
    resources: list[Resource] = []


class Meta(Model):
    """``nosana:`` metadata (informational for a local run)."""

    description: str | None = None
    storage: str | None = None
    backend: str | None = None
    wallet: str | None = None
    market: str | None = None


class Pipeline(Model):
    """A whole pipeline file."""

    nosana: Meta | None = None
    trigger: Checkout | None = None
    global_: Global = Field(alias="global")
    jobs: Annotated[list[Job], Field(min_length=1)]
