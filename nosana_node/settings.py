"""Runner settings: the one typed place for every knob a run reads.

:class:`RunnerSettings` is a plain frozen dataclass with sane defaults. The CLI builds one from
the environment (:meth:`RunnerSettings.from_env`) and its flags; the configuration layer
(config.edn) builds one the same way and passes it in. Nothing else reads the environment.

Sizes are bytes, durations seconds. Parsers for the human forms used on the command line and in
configuration (``512m``, ``2g``, ``90s``, ``10m``, ``all``) live here too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from nosana_node.errors import ConfigError

PULL_POLICIES = ("always", "if-not-present", "never")

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def default_home() -> Path:
    """The state directory: ``$NOSANA_HOME``, else ``~/.nosana-node``."""
    env = os.environ.get("NOSANA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".nosana-node"


@dataclass(frozen=True)
class RunnerSettings:
    """Everything a run of flows needs to know about this node.

    Fields:
        home: state directory; holds ``state.db`` (flows, op states) and ``flows/<id>/``
            (logs and the content-addressed artifact store of each flow).
        docker_url: Docker engine address (``unix:///var/run/docker.sock``, ``tcp://…``);
            ``None`` uses ``DOCKER_HOST`` or the local socket.
        docker_timeout: seconds an engine API call may take (not the job: see job_timeout).
        cpus: CPU limit per job container, in CPUs (``1.5`` = one and a half cores).
        memory: memory limit per job container, bytes (swap is limited to the same value).
        pids: maximum number of processes per job container.
        job_timeout: seconds a job may run before its container is killed.
        log_cap: bytes of log kept per job (stdout and stderr together); the rest is replaced by
            one truncation marker.
        artifact_cap: maximum size in bytes of one artifact (a tar taken from a container).
        pull_policy: ``always`` | ``if-not-present`` | ``never``.
        gpus: GPU request for job containers: ``None`` (none, the default), ``-1`` (all) or a
            count. Passed to Docker as a device request with the ``gpu`` capability.
        network: Docker network mode of job containers (``bridge``, ``none``, a network name).
    """

    home: Path = field(default_factory=default_home)
    docker_url: str | None = None
    docker_timeout: float = 120.0
    cpus: float = 2.0
    memory: int = 4 * GIB
    pids: int = 4096
    job_timeout: float = 3600.0
    log_cap: int = 16 * MIB
    artifact_cap: int = 4 * GIB
    pull_policy: str = "if-not-present"
    gpus: int | None = None
    network: str = "bridge"

    def __post_init__(self) -> None:
        problems = []
        if self.pull_policy not in PULL_POLICIES:
            problems.append(
                f"pull policy must be one of {', '.join(PULL_POLICIES)}, got {self.pull_policy!r}"
            )
        for name in ("cpus", "memory", "pids", "job_timeout", "log_cap", "artifact_cap", "docker_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.gpus is not None and (self.gpus == 0 or self.gpus < -1):
            problems.append(f"gpus must be -1 (all) or a positive count, got {self.gpus!r}")
        if problems:
            raise ConfigError("; ".join(problems))

    @classmethod
    def from_env(cls, **overrides: Any) -> RunnerSettings:
        """Defaults, ``NOSANA_HOME`` and ``DOCKER_HOST`` from the environment, then ``overrides``.

        Overrides whose value is ``None`` are ignored, so CLI flags can be passed as they are.
        """
        values: dict[str, Any] = {}
        if os.environ.get("DOCKER_HOST"):
            values["docker_url"] = os.environ["DOCKER_HOST"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "home" in values:
            values["home"] = Path(values["home"]).expanduser()
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> RunnerSettings:
        """A copy with the non-``None`` overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def describe(self) -> dict[str, Any]:
        """The settings as a JSON-friendly mapping (for ``--json`` output and docs)."""
        return {f.name: str(v) if isinstance(v := getattr(self, f.name), Path) else v for f in fields(self)}


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """``"512m"`` / ``"2GiB"`` / ``"1048576"`` → bytes (binary multiples)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"invalid size {text!r} (examples: 512m, 2g, 1048576)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": KIB, "m": MIB, "g": GIB, "t": 1024 * GIB}[unit])


def parse_duration(text: str | float) -> float:
    """``"90"`` / ``"90s"`` / ``"10m"`` / ``"1.5h"`` / ``"500ms"`` → seconds."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"invalid duration {text!r} (examples: 90s, 10m, 1h)")
    unit = (match.group(2) or "s").lower()
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def parse_gpus(text: str | int | None) -> int | None:
    """``"all"`` → -1, ``"2"`` → 2, ``"none"``/``"0"``/``None`` → None."""
    if text is None:
        return None
    if isinstance(text, int):
        return None if text == 0 else text
    value = text.strip().lower()
    if value in ("", "none", "0", "off"):
        return None
    if value == "all":
        return -1
    if value.isdigit():
        return int(value)
    raise ConfigError(f"invalid GPU request {text!r} (use all, a count, or none)")
