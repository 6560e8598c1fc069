"""Literals in a job definition: compiled to references, expanded once they are resolved.

Compilation (:func:`compile_value`) turns every string holding a literal into
``{"$literal": {"text": original, "parts": [str | reference, …]}}``: the flow's references
(``{"$result": [op, "values", key]}``, ``{"$context": NAME}``) sit inside, so the runtime
resolves them when the op starts, as it does everywhere. ``%%global.variables.X%%`` is static and
is replaced at once; ``%%ops.X.host%%`` becomes the name op X is reached by on the job's network.

Expansion (:func:`expand`), in the op, after resolution, as the official node does it:

- an op result is the list of regex matches read from that op's log; a string that *is* one
  literal, inside a list, adds each match as an item (a match that reads as a JSON list adds its
  items, one that reads as a JSON object adds it as text); anywhere else the matches are joined
  with spaces;
- ``{"__spread__": literal}`` splices what the literal holds (JSON lists and objects, parsed)
  into the list or object around it;
- a list holding ``"__remove-if-empty__"`` loses the marker; when nothing else is left, the key
  holding the list is removed;
- a literal naming a result that an op did not leave (it failed, or was skipped) is an error.
"""

from __future__ import annotations

import json
from typing import Any

from nosana_node.errors import NosanaError
from nosana_node.flow.refs import context_ref, result_ref
from nosana_node.jobdef import literals
from nosana_node.jobdef.schema import REMOVE_IF_EMPTY

LITERAL = "$literal"
SPREAD = "__spread__"
#: what ``%%global.X%%`` reads from the flow's context
GLOBAL_CONTEXT = {"job": "NOS_JOB_ADDRESS", "project": "NOS_PROJECT_ADDRESS", "host": "NOS_NODE_ADDRESS"}


class LiteralError(NosanaError):
    """A literal could not be given a value when its op started."""


class _Tokens(list):  # type: ignore[type-arg]
    """The values of a whole-string literal: spliced into a list, joined elsewhere."""


_REMOVE = object()


def compile_value(value: Any, variables: dict[str, str], hosts: dict[str, str]) -> Any:
    """``value`` with each string holding a literal compiled (see the module's rules)."""
    if isinstance(value, str):
        return _compile_text(value, variables, hosts)
    if isinstance(value, list):
        return [compile_value(v, variables, hosts) for v in value]
    if isinstance(value, dict):
        return {_static_key(k, variables): compile_value(v, variables, hosts) for k, v in value.items()}
    return value


def _static_key(key: str, variables: dict[str, str]) -> str:
    for ref in literals.find(key):
        if ref.kind == "variable":
            key = key.replace(ref.text, variables.get(ref.name, ""))
    return key


def _compile_text(text: str, variables: dict[str, str], hosts: dict[str, str]) -> Any:
    found = list(literals.FIND.finditer(text))
    if not found:
        return text
    parts: list[Any] = []
    position = 0
    for match in found:
        if match.start() > position:
            parts.append(text[position : match.start()])
        ref = literals.parse(match.group(1))
        if ref.kind == "variable":
            parts.append(variables.get(ref.name, ""))
        elif ref.kind == "global":
            parts.append(context_ref(GLOBAL_CONTEXT[ref.name]))
        elif ref.kind == "op-host":
            parts.append(hosts.get(ref.op, ref.op))
        elif ref.kind == "op-result":
            parts.append(result_ref(ref.op, "values", ref.name))
        else:  # validation refuses unknown literals; keep the text if one gets here
            parts.append(ref.text)
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    return {LITERAL: {"text": text, "parts": parts}}


def _json_or_text(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError:
            return value
    return value


def _tokens(value: Any) -> list[Any]:
    """Values of a literal as list items: JSON lists flattened, objects as JSON text."""
    if value is None:
        return []
    if isinstance(value, list):
        return [t for v in value for t in _tokens(v)]
    value = _json_or_text(value) if isinstance(value, str) else value
    if isinstance(value, list):
        return [t for v in value for t in _tokens(v)]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [value]


def _literal(spec: dict[str, Any]) -> Any:
    parts = spec["parts"]
    text = spec["text"]
    if any(p is None for p in parts):
        raise LiteralError(f"{text}: no value (the op it names left no such result, or no value is set)")
    if len(parts) == 1 and not isinstance(parts[0], str):
        return _Tokens(_tokens(parts[0]))
    return "".join(p if isinstance(p, str) else " ".join(str(t) for t in _tokens(p)) for p in parts)


def _spread_items(value: Any) -> list[Any]:
    """What a ``__spread__`` adds: parsed JSON lists and objects (text stays text)."""
    if isinstance(value, dict) and LITERAL in value:
        value = _literal(value[LITERAL])
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            parsed = _json_or_text(item) if isinstance(item, str) else item
            out.extend(parsed if isinstance(parsed, list) else [parsed])
        return out
    parsed = _json_or_text(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, list) else [parsed]


def expand(value: Any) -> Any:
    """``value`` (references resolved) with literals, spreads and markers applied."""
    result = _expand(value)
    if result is _REMOVE:
        return None
    return " ".join(str(t) for t in result) if isinstance(result, _Tokens) else result


def _expand(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {LITERAL}:
            return _literal(value[LITERAL])
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == SPREAD:
                for spread in _spread_items(item):
                    if isinstance(spread, dict):
                        out.update(spread)
                continue
            expanded = _expand(item)
            if expanded is _REMOVE:
                continue
            out[key] = " ".join(str(t) for t in expanded) if isinstance(expanded, _Tokens) else expanded
        return out
    if isinstance(value, list):
        items: list[Any] = []
        marked = False
        for item in value:
            if item == REMOVE_IF_EMPTY:
                marked = True
                continue
            if isinstance(item, dict) and set(item) == {SPREAD}:
                items.extend(_spread_items(item[SPREAD]))
                continue
            expanded = _expand(item)
            if isinstance(expanded, _Tokens):
                items.extend(expanded)
            elif expanded is not _REMOVE:
                items.append(expanded)
        return _REMOVE if marked and not items else items
    return value
