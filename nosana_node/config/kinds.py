"""Value kinds of configuration settings: how a value is read from the file, a flag and the
environment (typed access through ``environs``), and how it is shown."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nosana_node import units
from nosana_node.config.files import expand, read_private_file
from nosana_node.errors import ConfigError
from nosana_node.secrets.value import Secret

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class Kind:
    """How one setting's values are read and shown. ``from_value`` raises ValueError(expected)."""

    label = "value"
    secret = False
    #: the environs method used for typed access to an environment variable
    env_method = "str"

    def from_value(self, value: Any) -> Any:
        raise NotImplementedError

    def from_text(self, text: str) -> Any:
        return self.from_value(text)

    def from_env(self, env: Any, var: str) -> Any:
        """The typed value of environment variable ``var`` (None when unset)."""
        try:
            raw = getattr(env, self.env_method)(var, None)
        except Exception as exc:
            from environs import EnvError

            if not isinstance(exc, EnvError):
                raise
            messages = getattr(exc, "error_messages", None) or [str(exc)]
            raise ConfigError(f"environment variable {var}: {' '.join(map(str, messages))}") from None
        if raw is None:
            return None
        try:
            return self.from_value(raw) if not isinstance(raw, str) else self.from_text(raw)
        except ValueError as exc:
            shown = "its value" if self.secret else repr(raw)
            raise ConfigError(f"environment variable {var}: cannot read {shown} as {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"environment variable {var}: {exc}") from None

    def show(self, value: Any) -> str:
        return "-" if value is None else str(value)

    def plain(self, value: Any) -> Any:
        """``value`` as JSON can hold it (``config show --json``)."""
        return str(value) if isinstance(value, Path) else value


class Text(Kind):
    label = "string"

    def show(self, value: Any) -> str:
        return '""' if value == "" else super().show(value)

    def from_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        raise ValueError("a string")


@dataclass
class Integer(Kind):
    low: int | None = None
    high: int | None = None
    label = "integer"
    env_method = "int"

    def from_value(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("an integer")
        try:
            number = int(value)
        except ValueError:
            raise ValueError("an integer") from None
        return _in_range(number, self.low, self.high)


@dataclass
class Number(Kind):
    low: float | None = None
    high: float | None = None
    label = "number"
    env_method = "float"

    def from_value(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("a number")
        try:
            number = float(value)
        except ValueError:
            raise ValueError("a number") from None
        return _in_range(number, self.low, self.high)


class Boolean(Kind):
    label = "boolean"
    env_method = "bool"

    def from_value(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise ValueError("a boolean (true or false)")

    def show(self, value: Any) -> str:
        return "-" if value is None else str(value).lower()


class PathKind(Kind):
    label = "path"
    env_method = "path"

    def from_value(self, value: Any) -> Path:
        if isinstance(value, Path):
            return expand(value)
        if isinstance(value, str) and value:
            return expand(value)
        raise ValueError("a file path")


@dataclass
class Choice(Kind):
    options: tuple[str, ...] = ()
    aliases: Mapping[str, str] | None = None

    @property
    def label(self) -> str:  # type: ignore[override]
        return " | ".join(self.options)

    def from_value(self, value: Any) -> str:
        if isinstance(value, str):
            word = value.strip().lstrip(":").lower()
            word = (self.aliases or {}).get(word, word)
            if word in self.options:
                return word
        raise ValueError("one of " + ", ".join(self.options))


class Size(Kind):
    """A byte size (see :mod:`nosana_node.units`)."""

    label = "size (bytes, or 512m, 2g ...)"

    def from_value(self, value: Any) -> int:
        return units.parse_size(value)

    def show(self, value: Any) -> str:
        return "-" if value is None else units.size(value)


class Duration(Kind):
    """A duration in seconds (see :mod:`nosana_node.units`)."""

    label = "duration (seconds, or 30s, 5m, 2h ...)"

    def from_value(self, value: Any) -> float:
        return units.parse_duration(value)

    def show(self, value: Any) -> str:
        return "-" if value is None else units.duration(value)


class Gpus(Kind):
    """A GPU request: none (None), all (-1) or a positive count."""

    label = "none | all | count"

    def from_value(self, value: Any) -> int | None:
        if value is None or value is False:
            return None
        if value is True:
            return -1
        if isinstance(value, int):
            if value == 0:
                return None
            if value == -1 or value > 0:
                return value
        if isinstance(value, str):
            word = value.strip().lstrip(":").lower()
            if word in ("", "none", "0", "off", "false"):
                return None
            if word == "all":
                return -1
            if word.isdigit():
                return int(word)
        raise ValueError("a GPU request (none, all, or a count)")

    def show(self, value: Any) -> str:
        return "none" if value is None else "all" if value == -1 else str(value)


class SecretText(Kind):
    """A secret string (a token, a password): held as a :class:`Secret`, shown masked."""

    label = "secret string"
    secret = True

    def from_value(self, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return Secret(value)
        raise ValueError("a string")

    def show(self, value: Any) -> str:
        return "-" if value is None else str(value)


class Keypair(SecretText):
    """A Solana keypair: its JSON content (``[12,34,...]``, 64 numbers), or the path of a private
    file holding it. Never shown."""

    label = "keypair (JSON array of 64 numbers, or a private file path)"

    def from_value(self, value: Any) -> Secret:
        if isinstance(value, Secret):
            text = value.reveal()
        elif isinstance(value, str):
            text = value
        else:
            raise ValueError("a keypair")
        if not text.lstrip().startswith("["):
            text = read_private_file(expand(text), "keypair file")
        if not _is_keypair(text):
            raise ValueError("a Solana keypair (a JSON array of 64 numbers 0-255)")
        return Secret(text)


def _is_keypair(text: str) -> bool:
    try:
        numbers = json.loads(text)
    except ValueError:
        return False
    return (
        isinstance(numbers, list)
        and len(numbers) == 64
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 255 for n in numbers)
    )


class SecretMap(Kind):
    """Secrets of the config vault backend: ``{"path" value}`` or ``{"path" {:key value}}``."""

    label = "map of secret paths"
    secret = True

    def from_value(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError('a map {"path" "value"} or {"path" {:key "value"}}')
        return {str(k): self._entry(v) for k, v in value.items()}

    def _entry(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): self._leaf(v) for k, v in value.items()}
        return self._leaf(value)

    @staticmethod
    def _leaf(value: Any) -> Secret | None:
        if value is None or isinstance(value, Secret):
            return value
        if isinstance(value, dict | list):
            raise ValueError("a secret value (a string, or a map of strings)")
        text = "true" if value is True else "false" if value is False else str(value)
        return Secret(text)

    def from_env(self, env: Any, var: str) -> Any:
        return None

    def show(self, value: Any) -> str:
        return f"{len(value)} secret(s)" if value else "-"


_ADDRESS = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")


class AddressMap(Kind):
    """Names of Solana addresses: ``{"gpu" "7AtiX..."}`` (EDN), or ``gpu=7AtiX...,cpu=...``."""

    label = "map of names to base58 addresses"

    def from_value(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValueError('a map {"name" "base58 address"}')
        out: dict[str, str] = {}
        for key, address in value.items():
            name = str(key).lstrip(":")
            if not name or not isinstance(address, str) or not _ADDRESS.match(address.strip()):
                raise ValueError(f'a map {{"name" "base58 address"}} ({name!r} is not one)')
            out[name] = address.strip()
        return out

    def from_text(self, text: str) -> dict[str, str]:
        pairs = [p for p in (part.strip() for part in text.split(",")) if p]
        if not all("=" in p for p in pairs):
            raise ValueError("name=ADDRESS pairs separated by commas")
        return self.from_value(dict(p.split("=", 1) for p in pairs))

    def show(self, value: Any) -> str:
        return ", ".join(f"{k}={v}" for k, v in value.items()) if value else "-"


class TextMap(Kind):
    """Strings by name: ``{"models" "vault/path"}`` (EDN), or ``a=b,c=d`` (flags, environment)."""

    label = "map of strings"

    def from_value(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError('a map {"name" "value"}')
        return {str(k).lstrip(":"): v for k, v in value.items()}

    def from_text(self, text: str) -> dict[str, str]:
        pairs = [p for p in (part.strip() for part in text.split(",")) if p]
        if not all("=" in p for p in pairs):
            raise ValueError("name=value pairs separated by commas")
        return self.from_value(dict(p.split("=", 1) for p in pairs))

    def show(self, value: Any) -> str:
        return ", ".join(f"{k}={v}" for k, v in value.items()) if value else "-"


def _in_range(number: Any, low: Any, high: Any) -> Any:
    if low is not None and number < low:
        raise ValueError(f"a number >= {low}")
    if high is not None and number > high:
        raise ValueError(f"a number <= {high}")
    return number


class TextList(Kind):
    """A list of strings: an EDN vector, or comma-separated text (flags, environment)."""

    label = "list of strings"

    def from_value(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ValueError('a list of strings (["a" "b"], or "a,b")')

    def show(self, value: Any) -> str:
        return ", ".join(value) if value else "-"


@dataclass(frozen=True)
class ListenAddress:
    """Where a server listens: an address and a port (0: any free port); or not at all."""

    address: str
    port: int
    enabled: bool = True

    def __str__(self) -> str:
        if not self.enabled:
            return "off"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


_OFF = frozenset({"off", "false", "no", "none"})


class Listen(Kind):
    """A listen address: ``{:address "127.0.0.1" :port 8989}`` (EDN; either key may be left out),
    ``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` or ``PORT`` (flags, environment); ``false`` / ``off``:
    not served (``enabled`` false)."""

    label = "listen address"

    def __init__(self, default: ListenAddress) -> None:
        self.default = default

    def _off(self) -> ListenAddress:
        return ListenAddress(self.default.address, self.default.port, enabled=False)

    def from_value(self, value: Any) -> ListenAddress:
        if value is False:
            return self._off()
        if isinstance(value, str):
            return self.from_text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return ListenAddress(self.default.address, self._port(value))
        if not isinstance(value, dict):
            raise ValueError('{:address "127.0.0.1" :port 8989}, "HOST:PORT", or false')
        given = {str(k).lstrip(":"): v for k, v in value.items()}
        unknown = set(given) - {"address", "port"}
        if unknown:
            raise ValueError(f"a map of :address and :port (not :{sorted(unknown)[0]})")
        address = given.get("address", self.default.address)
        if not isinstance(address, str) or not address.strip():
            raise ValueError(':address as a string, e.g. "127.0.0.1" or "0.0.0.0"')
        return ListenAddress(address.strip(), self._port(given.get("port", self.default.port)))

    def from_text(self, text: str) -> ListenAddress:
        text = text.strip()
        if text.lower() in _OFF:
            return self._off()
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = "", text
        host = host.strip("[]") or self.default.address
        try:
            number = int(port)
        except ValueError:
            raise ValueError('"HOST:PORT" (e.g. "127.0.0.1:8989"), "PORT", or "off"') from None
        return ListenAddress(host, self._port(number))

    @staticmethod
    def _port(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise ValueError(":port as a number 0-65535 (0: any free port)")
        return value

    def show(self, value: Any) -> str:
        return str(value)

    def plain(self, value: Any) -> Any:
        return {"address": value.address, "port": value.port} if value.enabled else False
