"""Job definition v0.1 (spec §2) as strict, closed pydantic models.

The shape is the one ``@nosana/sdk`` 0.4.69's validator accepts (typia ``validateEquals``):
unknown keys are errors except under ``meta``; a key that is present must not be ``null``; strings
are strings and numbers are numbers (no coercion). Unions are told apart the way that validator
does it — a resource with ``bucket`` is an S3 bucket resource, one with ``type: HF`` a Hugging
Face one, and so on — so that an error names the variant the author meant.

Where the node needs more than the SDK checks, the models are stricter: an op's ``args`` must fit
its ``type``, ports are integers in 1..65535. Checks that span several ops (ids, dependencies,
literals, volumes) live in :mod:`nosana_node.jobdef.checks`.

Union members are tagged with names starting with ``~`` so error paths can drop them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

#: A whole-string literal, as the SDK's ``LiteralString`` tag checks it.
LITERAL_STRING = re.compile(r"^%%(ops|global).[^%]+%%$")
PORT_RANGE = re.compile(r"^([0-9]+)-([0-9]+)$")
REMOVE_IF_EMPTY = "__remove-if-empty__"
LOG_TYPES = ("stdin", "stdout", "stderr", "nodeerr")
MAX_PORT = 65535


def _no_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null (leave the key out instead)")
    return value


def _literal_string(value: str) -> str:
    if not LITERAL_STRING.match(value):
        raise ValueError(f"expected a literal like '%%ops.<id>.results.<key>%%', got {value!r}")
    return value


def port_range(value: str) -> tuple[int, int] | None:
    """``(start, end)`` of a ``"start-end"`` range string, else ``None``."""
    match = PORT_RANGE.match(value)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _range_or_literal(value: str) -> str:
    if LITERAL_STRING.match(value):
        return value
    bounds = port_range(value)
    if bounds is None:
        raise ValueError(f"expected a port, a range 'start-end' or a literal '%%…%%', got {value!r}")
    start, end = bounds
    if not 1 <= start < end <= MAX_PORT:
        raise ValueError(f"port range {value!r} must have 1 <= start < end <= {MAX_PORT}")
    return value


def _range_only(value: str) -> str:
    if LITERAL_STRING.match(value):
        raise ValueError("a literal is not allowed here: give a port or a range 'start-end'")
    return _range_or_literal(value)


def _unique_log_types(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("logType values must be unique")
    return value


T = TypeVar("T")
#: An optional key: absent is ``None``; a ``null`` written in the file is an error, as in the SDK.
Opt = Annotated[T | None, BeforeValidator(_no_null)]
Port = Annotated[int, Field(ge=1, le=MAX_PORT)]
LiteralStr = Annotated[str, AfterValidator(_literal_string)]
PortString = Annotated[str, AfterValidator(_range_or_literal)]
RangeString = Annotated[str, AfterValidator(_range_only)]


class Model(BaseModel):
    """Strict, closed models: unknown keys, nulls and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def _kind(value: Any) -> str | None:
    """Tag of a plain value: ``~text``, ``~number``, ``~list``, ``~object``."""
    if isinstance(value, str):
        return "~text"
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "~number"
    if isinstance(value, list):
        return "~list"
    if isinstance(value, dict):
        return "~object"
    return None


def _number_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    return "~int" if isinstance(value, int) else "~float" if isinstance(value, float) else None


#: A JSON number (an integer stays an integer).
Number = Annotated[
    Annotated[int, Tag("~int")] | Annotated[float, Tag("~float")],
    Discriminator(_number_kind, custom_error_type="number_type", custom_error_message="expected a number"),
]
#: A string, or a list of strings.
StrOrList = Annotated[
    Annotated[str, Tag("~text")] | Annotated[list[str], Tag("~list")],
    Discriminator(
        _kind, custom_error_type="str_or_list", custom_error_message="expected a string or a list of strings"
    ),
]
#: A string or a number (``meta.system_resources`` values).
Scalar = Annotated[
    Annotated[str, Tag("~text")] | Annotated[Number, Tag("~number")],
    Discriminator(
        _kind, custom_error_type="scalar_type", custom_error_message="expected a string or a number"
    ),
]


class Spread(Model):
    """``{"__spread__": "%%…%%"}``: a list or object spliced in at run time."""

    spread: LiteralStr = Field(alias="__spread__")


# --- expose and health checks ---------------------------------------------------------------


class HttpHealthCheck(Model):
    """An HTTP request that decides whether an exposed port is ready."""

    type: Literal["http"]
    path: str
    method: Literal["GET", "POST", "PUT", "DELETE"]
    expected_status: Number
    headers: Opt[dict[str, str]] = None
    body: Any = None
    continuous: bool


class WebSocketHealthCheck(Model):
    """A WebSocket exchange that decides whether an exposed port is ready."""

    type: Literal["websocket"]
    expected_response: str
    continuous: bool


def _health_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else None
    return {"http": "~http", "websocket": "~websocket"}.get(kind) if isinstance(kind, str) else None


HealthCheck = Annotated[
    Annotated[HttpHealthCheck, Tag("~http")] | Annotated[WebSocketHealthCheck, Tag("~websocket")],
    Discriminator(
        _health_kind,
        custom_error_type="health_check_kind",
        custom_error_message="expected a health check with type 'http' or 'websocket'",
    ),
]


class ExposedPort(Model):
    """``{port, type?, health_checks?}``."""

    port: Annotated[
        Annotated[Port, Tag("~number")] | Annotated[RangeString, Tag("~text")],
        Discriminator(
            _kind,
            custom_error_type="port_kind",
            custom_error_message="expected a port or a range 'start-end'",
        ),
    ]
    type: Opt[Literal["web", "api", "websocket", "webapi", "none"]] = None
    health_checks: Opt[list[HealthCheck]] = None


def _expose_item_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "port" in value:
            return "~port"
        return "~spread" if "__spread__" in value else None
    return _kind(value) if _kind(value) in ("~number", "~text") else None


ExposeItem = Annotated[
    Annotated[Port, Tag("~number")]
    | Annotated[PortString, Tag("~text")]
    | Annotated[ExposedPort, Tag("~port")]
    | Annotated[Spread, Tag("~spread")],
    Discriminator(
        _expose_item_kind,
        custom_error_type="expose_kind",
        custom_error_message=(
            "expected a port, a range 'start-end', a literal '%%…%%', {port, …} or {__spread__: '%%…%%'}"
        ),
    ),
]


def _expose_kind(value: Any) -> str | None:
    kind = _kind(value)
    if kind == "~object":
        return "~spread" if "__spread__" in value else "~single"
    return kind


def _single_port(value: Any) -> Any:
    raise ValueError("a {port, …} mapping must be inside a list: expose: [{port: …}]")


Expose = Annotated[
    Annotated[Port, Tag("~number")]
    | Annotated[PortString, Tag("~text")]
    | Annotated[Spread, Tag("~spread")]
    | Annotated[Any, BeforeValidator(_single_port), Tag("~single")]
    | Annotated[list[ExposeItem], Tag("~list")],
    Discriminator(
        _expose_kind,
        custom_error_type="expose_kind",
        custom_error_message="expected a port, a range 'start-end', a literal '%%…%%' or a list of them",
    ),
]


# --- resources ------------------------------------------------------------------------------


class S3Auth(Model):
    """IAM keys for a private bucket."""

    region: str = Field(alias="REGION")
    access_key_id: str = Field(alias="ACCESS_KEY_ID")
    secret_access_key: str = Field(alias="SECRET_ACCESS_KEY")


class S3Files(Model):
    """One entry of ``buckets``: a URL and, optionally, the files to take from it."""

    url: str
    files: Opt[list[str]] = None


class S3Resource(Model):
    """``{type: S3, target, url?, files?, allowWrite?, IAM?}``: a prefix (or some of its files)."""

    type: Literal["S3"]
    target: str
    url: Opt[str] = None
    allow_write: Opt[bool] = Field(None, alias="allowWrite")
    files: Opt[list[str]] = None
    iam: Opt[S3Auth] = Field(None, alias="IAM")


class S3BucketResource(Model):
    """``{type: S3, target, bucket, url?, allowWrite?, IAM?}``: a prefix of a named bucket."""

    type: Literal["S3"]
    target: str
    bucket: str
    url: Opt[str] = None
    allow_write: Opt[bool] = Field(None, alias="allowWrite")
    iam: Opt[S3Auth] = Field(None, alias="IAM")


class S3BucketsResource(Model):
    """``{type: S3, target, buckets: [{url, files?}], …}``: several prefixes in one directory."""

    type: Literal["S3"]
    target: str
    buckets: list[S3Files]
    url: Opt[str] = None
    allow_write: Opt[bool] = Field(None, alias="allowWrite")
    iam: Opt[S3Auth] = Field(None, alias="IAM")


class HFResource(Model):
    """``{type: HF, target, repo, revision?, files?, accessToken?}``: a Hugging Face repository."""

    type: Literal["HF"]
    target: str
    repo: str
    revision: Opt[str] = None
    files: Opt[list[str]] = None
    access_token: Opt[str] = Field(None, alias="accessToken")


class OllamaResource(Model):
    """``{type: Ollama, model, target?}``: a model from an Ollama registry."""

    type: Literal["Ollama"]
    model: str
    target: Opt[str] = None


AnyS3Resource = S3Resource | S3BucketResource | S3BucketsResource
RemoteResource = AnyS3Resource | HFResource | OllamaResource


def _resource_kind(value: Any) -> str | None:
    """The SDK validator's order: bucket, buckets, HF, Ollama, spread, else the plain S3 form."""
    if isinstance(value, str):
        return "~remove"
    if not isinstance(value, dict):
        return None
    if "bucket" in value:
        return "~bucket"
    if "buckets" in value:
        return "~buckets"
    if value.get("type") == "HF":
        return "~hf"
    if value.get("type") == "Ollama":
        return "~ollama"
    return "~spread" if "__spread__" in value else "~s3"


ResourceItem = Annotated[
    Annotated[S3BucketResource, Tag("~bucket")]
    | Annotated[S3BucketsResource, Tag("~buckets")]
    | Annotated[HFResource, Tag("~hf")]
    | Annotated[OllamaResource, Tag("~ollama")]
    | Annotated[Spread, Tag("~spread")]
    | Annotated[S3Resource, Tag("~s3")]
    | Annotated[Literal["__remove-if-empty__"], Tag("~remove")],
    Discriminator(
        _resource_kind,
        custom_error_type="resource_kind",
        custom_error_message="expected a resource {type: S3 | HF | Ollama, …}",
    ),
]


# --- ops ------------------------------------------------------------------------------------


class DockerAuth(Model):
    """Registry credentials for a private image."""

    username: Opt[str] = None
    password: Opt[str] = None
    email: Opt[str] = None
    server: Opt[str] = None


class Authentication(Model):
    """``authentication``."""

    docker: Opt[DockerAuth] = None


class Volume(Model):
    """A volume made by a ``container/create-volume`` op, mounted at ``dest``."""

    name: str
    dest: str


class RunArgs(Model):
    """``container/run`` arguments."""

    image: str
    aliases: Opt[StrOrList] = None
    cmd: Opt[StrOrList] = None
    # exactly one: @nosana/sdk 0.4.69 types ``volumes`` as a one-element tuple
    volumes: Opt[Annotated[list[Volume], Field(min_length=1, max_length=1)]] = None
    expose: Opt[Expose] = None
    private: Opt[bool] = None
    gpu: Opt[bool] = None
    work_dir: Opt[str] = None
    output: Opt[str] = None
    entrypoint: Opt[StrOrList] = None
    env: Opt[dict[str, str]] = None
    required_vram: Opt[Number] = None
    resources: Opt[list[ResourceItem]] = None
    authentication: Opt[Authentication] = None


class VolumeArgs(Model):
    """``container/create-volume`` arguments."""

    name: str


class ResultSpec(Model):
    """A result read from some log streams only."""

    regex: str
    log_type: Annotated[
        list[Literal["stdin", "stdout", "stderr", "nodeerr"]],
        Field(min_length=1, max_length=4),
        AfterValidator(_unique_log_types),
    ] = Field(alias="logType")


ResultValue = Annotated[
    Annotated[str, Tag("~text")] | Annotated[ResultSpec, Tag("~object")],
    Discriminator(
        _kind,
        custom_error_type="result_kind",
        custom_error_message="expected a regex string or {regex, logType}",
    ),
]


class Execution(Model):
    """When an op runs: its group and the ops of that group it waits for."""

    group: Opt[str] = None
    depends_on: Opt[list[str]] = None
    stop_if_dependent_stops: Opt[bool] = None


class _Op(Model):
    id: str
    results: Opt[dict[str, ResultValue]] = None
    execution: Opt[Execution] = None

    @property
    def group(self) -> str:
        """The op's group: ``execution.group``, else its own id."""
        return self.execution.group if self.execution and self.execution.group is not None else self.id

    @property
    def depends_on(self) -> list[str]:
        """Ids of the ops this op waits for."""
        return list(self.execution.depends_on or []) if self.execution else []


class RunOp(_Op):
    """A ``container/run`` op."""

    type: Literal["container/run"]
    args: RunArgs


class VolumeOp(_Op):
    """A ``container/create-volume`` op."""

    type: Literal["container/create-volume"]
    args: VolumeArgs


OP_TYPES = ("container/run", "container/create-volume")


def _op_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else None
    return (
        {"container/run": "~run", "container/create-volume": "~volume"}.get(kind)
        if isinstance(kind, str)
        else None
    )


Op = Annotated[
    Annotated[RunOp, Tag("~run")] | Annotated[VolumeOp, Tag("~volume")],
    Discriminator(
        _op_kind,
        custom_error_type="op_kind",
        custom_error_message="expected an op with type 'container/run' or 'container/create-volume'",
    ),
]


# --- the document ---------------------------------------------------------------------------


class SystemRequirements(BaseModel):
    """``meta.system_requirements`` as the node reads it; other keys are kept (and warned about)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    required_vram: Opt[Number] = None
    vram_total_mb: Opt[Number] = None
    required_cuda: Opt[StrOrList] = None


class Meta(BaseModel):
    """``meta``: open, as in the SDK; the node reads ``trigger`` and ``system_requirements``."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    trigger: Opt[str] = None
    system_resources: Opt[dict[str, Scalar]] = None
    system_requirements: Opt[SystemRequirements] = None


class Global(Model):
    """Defaults for every op, and the variables literals read."""

    image: Opt[str] = None
    gpu: Opt[bool] = None
    entrypoint: Opt[StrOrList] = None
    env: Opt[dict[str, str]] = None
    work_dir: Opt[str] = None
    variables: Opt[dict[str, str]] = None


class LogisticArgs(Model):
    """``{endpoint?}``."""

    endpoint: Opt[str] = None


class Logistic(Model):
    """How the job definition or its result travels (``api`` or ``api-listen``)."""

    type: Literal["api", "api-listen"]
    args: LogisticArgs


class Logistics(Model):
    """``logistics``."""

    send: Opt[Logistic] = None
    receive: Opt[Logistic] = None


class JobDefinition(Model):
    """A whole job definition v0.1."""

    version: str
    type: Literal["container"]
    logistics: Opt[Logistics] = None
    deployment_id: Opt[str] = None
    meta: Opt[Meta] = None
    global_: Opt[Global] = Field(None, alias="global")
    ops: list[Op]

    def op(self, op_id: str) -> RunOp | VolumeOp:
        """The op with id ``op_id`` (``KeyError`` when there is none)."""
        for op in self.ops:
            if op.id == op_id:
                return op
        raise KeyError(op_id)

    @property
    def variables(self) -> dict[str, str]:
        """``global.variables`` (empty when absent)."""
        return dict(self.global_.variables or {}) if self.global_ else {}
