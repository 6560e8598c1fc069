"""Reading an EDN configuration file with aero's reader tags.

Tags (as in the Clojure library aero, plus ``#file``):

=================  ===========================================================================
``#env X``         the environment variable ``X`` (nil when unset)
``#envf [f X Y]``  ``f`` with each ``%s`` replaced by the variables (nil when one is unset)
``#or [a b ...]``  the first value that is not nil (later ones are not evaluated)
``#join [a b]``    the values concatenated as strings (nil counts as "")
``#profile {..}``  the entry for the active profile, else ``:default``, else nil
``#include "f"``   the content of another EDN file, relative to the including file
``#ref [:k ...]``  the value at that key path of the whole configuration
``#long x``        ``x`` as an integer (``#double``: a float, ``#boolean``: true/false)
``#keyword x``     ``x`` as a keyword
``#file "p"``      the content of a private local file (mode 600), e.g. a keypair; secret
=================  ===========================================================================

Tags nest (``#long #or [#env PORT 8080]``). Keywords become strings (their name), as do map
keys; unquoted symbols are refused (usually a forgotten ``#env``). Each value comes back as a
:class:`Traced`: the value, the file it came from, the tags that produced it, and whether it is
secret. Errors are :class:`~nosana_node.errors.ConfigError` naming the file, the key path and
the tag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from nosana_node.config.files import expand, read_private_file
from nosana_node.errors import ConfigError

TAGS = (
    "env",
    "envf",
    "or",
    "join",
    "profile",
    "include",
    "ref",
    "long",
    "double",
    "boolean",
    "keyword",
    "file",
)
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class Tagged:
    """A tagged element as read, before evaluation."""

    tag: str
    arg: Any


@dataclass
class Traced:
    """An evaluated value with its origin.

    ``value`` is a scalar, a ``dict[str, Traced]`` or a ``list[Traced]``.
    """

    value: Any
    file: Path
    via: tuple[str, ...] = ()
    secret: bool = False

    def plain(self) -> Any:
        """The value with every nested :class:`Traced` unwrapped."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value

    def describe(self) -> str:
        """Where the value came from, e.g. ``config.edn via #or, #env RPC_URL``."""
        return f"{self.file} via {', '.join(self.via)}" if self.via else str(self.file)


_registered = False


def _register_tags() -> None:
    global _registered
    if _registered:
        return
    import edn_format

    for name in TAGS:
        edn_format.add_tag(name, lambda arg, name=name: Tagged(name, arg))
    _registered = True


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def parse(text: str, file: Path) -> Any:
    """Parse one EDN form (tags left unevaluated as :class:`Tagged`)."""
    _register_tags()
    import edn_format
    from edn_format.exceptions import EDNDecodeError

    try:
        forms = edn_format.loads_all(text, write_ply_tables=False)
    except NotImplementedError as exc:  # edn_format's "unknown tag"
        m = re.search(r"ImmutableDict\((.*)\)", str(exc))
        tag = m.group(1) if m else "?"
        known = " ".join(f"#{t}" for t in TAGS)
        raise ConfigError(f"{file}: unknown tag #{tag} (known tags: {known})") from None
    except EDNDecodeError as exc:
        raise ConfigError(f"{file}: invalid EDN: {_describe_decode_error(exc, text)}") from None
    except (ValueError, TypeError) as exc:  # bad literal inside a builtin tag (#inst, #uuid)
        raise ConfigError(f"{file}: invalid EDN: {exc}") from None
    if len(forms) != 1:
        what = "is empty" if not forms else f"holds {len(forms)} top-level forms, expected one map"
        raise ConfigError(f"{file}: {what}")
    return forms[0]


def _describe_decode_error(exc: Exception, text: str) -> str:
    arg = exc.args[0] if exc.args else ""
    lexpos = getattr(arg, "lexpos", None)
    if lexpos is not None:  # a LexToken the grammar did not expect
        line, col = _line_col(text, lexpos)
        return f"unexpected {arg.value!r} at line {line}, column {col}"
    message = str(arg)
    m = re.search(r"Illegal character '(.)' with lexpos (\d+)", message)
    if m:
        line, col = _line_col(text, int(m.group(2)))
        return f"cannot read {m.group(1)!r} at line {line}, column {col} (an unclosed string?)"
    if "EOF" in message:
        return "unexpected end of file (an unclosed {, [, ( or string?)"
    if "Even number" in message:
        return "a map needs an even number of forms (a key without a value?)"
    return message


def key_name(key: Any) -> str:
    """The string form of a map key: a keyword's full name, or the string itself."""
    from edn_format import Keyword

    if isinstance(key, Keyword):
        return key.name
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int):
        return str(key).lower()
    raise TypeError(type(key).__name__)


def show_path(where: Sequence[str | int]) -> str:
    """A key path as EDN, e.g. ``[:docker :memory]``."""
    return "[" + " ".join(f":{k}" if isinstance(k, str) else str(k) for k in where) + "]"


@dataclass
class Reader:
    """Evaluates the tags of one configuration (a root file and what it includes)."""

    root_file: Path
    profile: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    _root: Any = None
    _includes: list[Path] = field(default_factory=list)
    _refs: list[tuple[str | int, ...]] = field(default_factory=list)

    def read(self) -> Traced:
        """Read and evaluate the root file."""
        self._root = self._load(self.root_file)
        return self._eval(self._root, self.root_file, ())

    # -- files ----------------------------------------------------------------------------------

    def _load(self, file: Path) -> Any:
        try:
            text = file.read_text()
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such configuration file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        return parse(text, file)

    def _fail(self, file: Path, where: Sequence[str | int], message: str) -> ConfigError:
        at = f" {show_path(where)}" if where else ""
        return ConfigError(f"{file}:{at} {message}")

    # -- evaluation -----------------------------------------------------------------------------

    def _eval(self, node: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        from edn_format import ImmutableDict, ImmutableList, Keyword, Symbol

        if isinstance(node, Tagged):
            return self._eval_tag(node, file, where)
        if isinstance(node, ImmutableDict | dict):
            out: dict[str, Traced] = {}
            for k, v in node.items():
                try:
                    name = key_name(k)
                except TypeError:
                    raise self._fail(file, where, f"map key {k!r} must be a keyword or a string") from None
                out[name] = self._eval(v, file, (*where, name))
            return Traced(out, file)
        if isinstance(node, ImmutableList | list | tuple):
            return Traced([self._eval(v, file, (*where, i)) for i, v in enumerate(node)], file)
        if isinstance(node, frozenset):
            raise self._fail(file, where, "sets are not supported here; use a vector [...]")
        if isinstance(node, Keyword):
            return Traced(node.name, file)
        if isinstance(node, Symbol):
            raise self._fail(
                file,
                where,
                f'unquoted symbol {node.name}: write a string "{node.name}", a keyword :{node.name}, '
                f"or #env {node.name} for an environment variable",
            )
        if isinstance(node, Decimal):
            return Traced(float(node), file)
        if isinstance(node, Fraction):
            return Traced(float(node), file)
        return Traced(node, file)

    def _eval_tag(self, node: Tagged, file: Path, where: tuple[str | int, ...]) -> Traced:
        handler = getattr(self, f"_tag_{node.tag}")
        return handler(node.arg, file, where)

    def _name(self, arg: Any, tag: str, file: Path, where: tuple[str | int, ...]) -> str:
        from edn_format import Keyword, Symbol

        if isinstance(arg, Symbol | Keyword):
            return arg.name
        if isinstance(arg, str) and arg:
            return arg
        raise self._fail(file, where, f"#{tag} expects a variable name (a symbol or string), got {arg!r}")

    def _vector(self, arg: Any, tag: str, file: Path, where: tuple[str | int, ...], form: str) -> list[Any]:
        from edn_format import ImmutableList

        if isinstance(arg, ImmutableList | list | tuple):
            return list(arg)
        raise self._fail(file, where, f"#{tag} expects a vector {form}, got {_brief(arg)}")

    def _scalar(self, t: Traced, tag: str, file: Path, where: tuple[str | int, ...]) -> Any:
        if isinstance(t.value, dict | list):
            raise self._fail(file, where, f"#{tag} expects a single value, got a {type(t.value).__name__}")
        return t.value

    def _tag_env(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        name = self._name(arg, "env", file, where)
        return Traced(self.environ.get(name), file, (f"#env {name}",))

    def _tag_envf(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        items = self._vector(arg, "envf", file, where, '["format %s" VAR ...]')
        if not items or not isinstance(items[0], str):
            raise self._fail(file, where, '#envf expects a format string first: #envf ["%s/x" HOME]')
        fmt, names = items[0], [self._name(n, "envf", file, where) for n in items[1:]]
        via = (f"#envf [{' '.join(names)}]",)
        if fmt.count("%s") != len(names):
            raise self._fail(
                file, where, f"#envf format {fmt!r} has {fmt.count('%s')} %s for {len(names)} variable(s)"
            )
        values = [self.environ.get(n) for n in names]
        if any(v is None for v in values):
            return Traced(None, file, via)
        parts = fmt.split("%s")
        text = parts[0] + "".join(v + p for v, p in zip(values, parts[1:], strict=True))
        return Traced(text, file, via)

    def _tag_or(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        items = self._vector(arg, "or", file, where, "[first-choice fallback ...]")
        for item in items:
            t = self._eval(item, file, where)
            if t.value is not None:
                return Traced(t.value, t.file, ("#or", *t.via), t.secret)
        return Traced(None, file, ("#or",))

    def _tag_join(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        items = self._vector(arg, "join", file, where, '["a" #env X "b"]')
        parts: list[str] = []
        via: list[str] = ["#join"]
        secret = False
        for item in items:
            t = self._eval(item, file, where)
            v = self._scalar(t, "join", file, where)
            parts.append("" if v is None else "true" if v is True else "false" if v is False else str(v))
            via.extend(x for x in t.via if x not in via)
            secret = secret or t.secret
        return Traced("".join(parts), file, tuple(via), secret)

    def _tag_profile(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        from edn_format import ImmutableDict

        if not isinstance(arg, ImmutableDict | dict):
            raise self._fail(file, where, f"#profile expects a map {{:dev ... :prod ...}}, got {_brief(arg)}")
        branches = {_safe_key(k): v for k, v in arg.items()}
        for choice in (self.profile, "default"):
            if choice is not None and choice in branches:
                t = self._eval(branches[choice], file, where)
                return Traced(t.value, t.file, (f"#profile :{choice}", *t.via), t.secret)
        return Traced(None, file, (f"#profile :{self.profile or 'default'} (no entry)",))

    def _tag_include(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        t = self._eval(arg, file, where)
        name = self._scalar(t, "include", file, where)
        if not isinstance(name, str) or not name:
            raise self._fail(file, where, f"#include expects a file name, got {name!r}")
        target = expand(name, file.parent).resolve()
        if target in self._includes or target == self.root_file.resolve():
            chain = " -> ".join(str(p) for p in [*self._includes, target])
            raise self._fail(file, where, f"#include cycle: {chain}")
        if not target.is_file():
            raise self._fail(file, where, f"#include {name!r}: no such file {target}")
        self._includes.append(target)
        try:
            content = self._eval(self._load(target), target, ())
        finally:
            self._includes.pop()
        return Traced(content.value, target, (f"#include {name}", *content.via), content.secret)

    def _tag_ref(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        from edn_format import Keyword

        items = self._vector(arg, "ref", file, where, "[:section :key]")
        keys: list[str | int] = []
        for k in items:
            if isinstance(k, Keyword | str):
                keys.append(key_name(k))
            elif isinstance(k, int) and not isinstance(k, bool):
                keys.append(k)
            else:
                raise self._fail(file, where, f"#ref keys must be keywords, strings or indexes, got {k!r}")
        path = tuple(keys)
        label = f"#ref {show_path(path)}"
        if path in self._refs:
            chain = " -> ".join(show_path(p) for p in [*self._refs, path])
            raise self._fail(file, where, f"#ref cycle: {chain}")
        self._refs.append(path)
        try:
            t = self._resolve_path(path, file, where, label)
        finally:
            self._refs.pop()
        return Traced(t.value, t.file, (label, *t.via), t.secret)

    def _resolve_path(
        self, path: tuple[str | int, ...], file: Path, where: tuple[str | int, ...], label: str
    ) -> Traced:
        from edn_format import ImmutableDict, ImmutableList

        node, node_file = self._root, self.root_file
        for i, k in enumerate(path):
            if isinstance(node, Tagged):  # evaluate it, then go on inside the evaluated value
                t = self._eval(node, node_file, path[:i])
                return self._inside(t, path[i:], file, where, label)
            if isinstance(node, ImmutableDict | dict):
                matches = [v for kk, v in node.items() if _safe_key(kk) == k]
                if not matches:
                    raise self._fail(file, where, f"{label}: no key {show_path(path[: i + 1])}")
                node = matches[0]
            elif isinstance(node, ImmutableList | list | tuple) and isinstance(k, int) and 0 <= k < len(node):
                node = node[k]
            else:
                raise self._fail(file, where, f"{label}: nothing at {show_path(path[: i + 1])}")
        return self._eval(node, node_file, path)

    def _inside(
        self, t: Traced, rest: tuple[str | int, ...], file: Path, where: tuple[str | int, ...], label: str
    ) -> Traced:
        for k in rest:
            inside = isinstance(t.value, dict) and k in t.value
            inside = inside or (isinstance(t.value, list) and isinstance(k, int) and 0 <= k < len(t.value))
            if not inside:
                raise self._fail(file, where, f"{label}: nothing at key {k!r}")
            t = t.value[k]
        return t

    def _convert(self, arg: Any, tag: str, file: Path, where: tuple[str | int, ...], convert: Any) -> Traced:
        t = self._eval(arg, file, where)
        v = self._scalar(t, tag, file, where)
        via = (f"#{tag}", *t.via)
        if v is None:
            return Traced(None, t.file, via, t.secret)
        try:
            return Traced(convert(v), t.file, via, t.secret)
        except (ValueError, TypeError) as exc:
            shown = "a secret value" if t.secret else repr(v)
            raise self._fail(file, where, f"#{tag}: cannot read {shown} as {exc}") from None

    def _tag_long(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        return self._convert(arg, "long", file, where, _to_long)

    def _tag_double(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        return self._convert(arg, "double", file, where, _to_double)

    def _tag_boolean(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        return self._convert(arg, "boolean", file, where, _to_boolean)

    def _tag_keyword(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        return self._convert(arg, "keyword", file, where, _to_keyword)

    def _tag_file(self, arg: Any, file: Path, where: tuple[str | int, ...]) -> Traced:
        t = self._eval(arg, file, where)
        name = self._scalar(t, "file", file, where)
        via = (f"#file {name}", *t.via)
        if name is None:
            return Traced(None, file, via, True)
        if not isinstance(name, str) or not name:
            raise self._fail(file, where, f"#file expects a file name, got {name!r}")
        target = expand(name, file.parent)
        try:
            content = read_private_file(target, "file")
        except ConfigError as exc:
            raise self._fail(file, where, f"#file: {exc}") from None
        return Traced(content, file, via, True)


def _safe_key(key: Any) -> str | None:
    try:
        return key_name(key)
    except TypeError:
        return None


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_long(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip().replace("_", ""))
        except ValueError:
            pass
    raise ValueError("an integer")


def _to_double(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("a number")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            pass
    raise ValueError("a number")


def _to_boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    word = str(v).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("a boolean (true/false, yes/no, on/off, 1/0)")


def _to_keyword(v: Any) -> str:
    if isinstance(v, str) and v.strip().lstrip(":"):
        return v.strip().lstrip(":")
    raise ValueError("a keyword")


def read_config_file(
    path: Path, profile: str | None = None, environ: Mapping[str, str] | None = None
) -> Traced:
    """Read and evaluate an EDN configuration file; the result must be a map."""
    reader = Reader(path, profile, os.environ if environ is None else environ)
    result = reader.read()
    if not isinstance(result.value, dict):
        raise ConfigError(
            f"{path}: the configuration must be a map {{...}}, got {type(result.value).__name__}"
        )
    return result
