"""Symbolic references inside op arguments, and their resolution when an op starts.

Three forms, each a one-key JSON object so a flow stays plain JSON:

- ``{"$secret": "path#key"}`` — a vault secret (:class:`nosana_node.secrets.refs.SecretRef`);
- ``{"$result": ["op_id", "key", "sub"]}`` (or ``"op_id.key.sub"``) — a value in an earlier
  op's results; the list form allows dots in ids and keys;
- ``{"$context": "NAME"}`` — a context value of the flow or the node (``NOS_JOB_ADDRESS`` …).

:func:`resolve` replaces them in a copy of the arguments. A result or context value that is not
known resolves to ``None`` (the op decides what that means); a secret that cannot be resolved
raises :class:`~nosana_node.errors.SecretError`. Every secret value is registered with the
run's mask scope before it is returned (masked while the flow runs, forgotten after it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from nosana_node.secrets.masking import MaskScope
from nosana_node.secrets.refs import SecretRef, SecretResolver

RESULT = "$result"
CONTEXT = "$context"


def result_ref(op_id: str, *keys: str) -> dict[str, list[str]]:
    """Reference to ``results[keys…]`` of op ``op_id``."""
    return {RESULT: [op_id, *keys]}


def context_ref(name: str) -> dict[str, str]:
    """Reference to the context value ``name``."""
    return {CONTEXT: name}


def _one_key(obj: object, key: str) -> bool:
    return isinstance(obj, dict) and len(obj) == 1 and isinstance(obj.get(key), str)


def _is_result(obj: object) -> bool:
    if not (isinstance(obj, dict) and len(obj) == 1 and RESULT in obj):
        return False
    value = obj[RESULT]
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    )


def is_ref(obj: object) -> bool:
    """True for any of the three reference forms."""
    return SecretRef.is_json(obj) or _is_result(obj) or _one_key(obj, CONTEXT)


def references(obj: Any) -> Iterator[tuple[str, Any]]:
    """Every reference in ``obj`` as ``(kind, value)`` with kind ``$secret|$result|$context``."""
    if is_ref(obj):
        ((kind, value),) = obj.items()
        yield kind, value
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from references(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from references(value)


def split_result(text: str, op_ids: set[str] | None = None) -> tuple[str, list[str]]:
    """``"op.a.b"`` → ``("op", ["a", "b"])``. Op ids may contain dots: the longest known wins."""
    if op_ids:
        for candidate in sorted(op_ids, key=len, reverse=True):
            if text == candidate or text.startswith(candidate + "."):
                rest = text[len(candidate) + 1 :]
                return candidate, rest.split(".") if rest else []
    op_id, _, rest = text.partition(".")
    return op_id, rest.split(".") if rest else []


class Resolver:
    """Resolves references against earlier results, context values and a secret resolver."""

    def __init__(
        self,
        results: Callable[[str], Mapping[str, Any] | None],
        op_ids: set[str],
        context: Mapping[str, str],
        secrets: SecretResolver,
        masker: MaskScope,
    ) -> None:
        self._results = results
        self._op_ids = op_ids
        self._context = context
        self._secrets = secrets
        self._masker = masker

    def resolve(self, obj: Any) -> Any:
        """A copy of ``obj`` with every reference replaced by its value."""
        if SecretRef.is_json(obj):
            value = self._secrets.resolve(SecretRef.from_json(obj))
            self._masker.add(value)
            return value
        if _is_result(obj):
            return self._result(obj[RESULT])
        if _one_key(obj, CONTEXT):
            return self._context.get(obj[CONTEXT])
        if isinstance(obj, dict):
            return {k: self.resolve(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.resolve(v) for v in obj]
        return obj

    def _result(self, ref: str | list[str]) -> Any:
        op_id, keys = (ref[0], ref[1:]) if isinstance(ref, list) else split_result(ref, self._op_ids)
        value: Any = self._results(op_id)
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
        return value
