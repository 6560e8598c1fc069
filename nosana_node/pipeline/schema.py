"""The Nosana pipeline format (spec §1) as strict pydantic models: unknown keys are errors.

Environment values are strings (numbers and booleans are written as strings) or secret
references ``{type: nos/vault, value: path#key}``; a registry password must be a reference.
Union members are tagged with names starting with ``~`` so error paths can drop them.
"""

from __future__ import annotations

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

from nosana_node.secrets.refs import SecretRef

DEFAULT_IMAGE = "ubuntu:latest"
DEFAULT_WORK_DIR = "/root/project"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


class Model(BaseModel):
    """Strict, closed models: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SecretValue(Model):
    """``{type: nos/vault, value: path#key}``."""

    type: Literal["nos/vault"]
    value: Text

    def ref(self) -> SecretRef:
        """The :class:`SecretRef` this names."""
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
    """A path (or glob) taken out of the job's container after it succeeds."""

    name: Text
    path: Text
    required: bool = True


class Resource(Model):
    """An earlier job's artifact placed before the job starts."""

    name: Text
    path: Text = "."
    required: bool = True


class PullSecrets(Model):
    """Registry credentials for pulling a private image."""

    url: Text
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
    """When the pipeline runs (informational for the node)."""

    branch: Text | list[Text] | None = None
    push: PushTrigger | None = None
    pull_request: PullRequestTrigger | None = None


class Global(Model):
    """Defaults for every job."""

    image: Text | None = None
    trigger: Trigger | None = None
    environment: dict[EnvName, EnvValue] = {}
    secrets: list[EnvName] = []
    allow_failure: bool = False
    image_pull_secrets: PullSecrets | None = None


class Job(Model):
    """One job: one container, its commands, what it takes and what it leaves."""

    name: Text
    image: Text | None = None
    environment: dict[EnvName, EnvValue] = {}
    secrets: list[EnvName] = []
    work_dir: AbsPath | None = None
    allow_failure: bool | None = None
    image_pull_secrets: PullSecrets | None = None
    commands: Annotated[list[Command], Field(min_length=1)]
    artifacts: list[Artifact] = []
    resources: list[Resource] = []


class Meta(Model):
    """``nosana:`` metadata."""

    description: str | None = None
    storage: str | None = None
    wallet: str | None = None
    market: str | None = None


class Pipeline(Model):
    """A whole pipeline file."""

    nosana: Meta | None = None
    global_: Global = Field(alias="global")
    jobs: Annotated[list[Job], Field(min_length=1)]
