"""JSON-RPC requests and parameters, checked as a validator checks them.

Rules (each breach answers an error, never a traceback or a 500):

* a body that is not JSON, uses ``NaN``/``Infinity`` or nests too deep: -32700;
* a request that is not an object with ``"jsonrpc": "2.0"`` and a string method, or whose id is
  not a string, an unsigned integer or null: -32600 (id null); a batch larger than
  :data:`MAX_BATCH`: -32600;
* a wrong number of parameters, an unknown ``commitment``, a negative or oversized number:
  -32602; ``minContextSlot`` ahead of the slot at the requested commitment: -32016.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nosana_node.localnet.encoding import RpcError, invalid_params

MAX_BATCH = 100
U64_MAX = 2**64 - 1

#: Solana's commitment names, with the deprecated aliases it still accepts.
COMMITMENTS = {
    "processed": "processed",
    "recent": "processed",
    "confirmed": "confirmed",
    "single": "confirmed",
    "singleGossip": "confirmed",
    "finalized": "finalized",
    "root": "finalized",
    "max": "finalized",
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def parse_body(body: bytes) -> Any:
    """Decode a request body (-32700 if it is not strict JSON)."""
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_float)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RpcError(-32700, "Parse error") from None


def dumps(obj: Any) -> str:
    """Strict JSON (never ``NaN``/``Infinity``), compact."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def valid_id(value: Any) -> bool:
    """JSON-RPC ids a validator accepts: a string, an unsigned 64-bit integer, or null."""
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= U64_MAX


def error(rid: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": exc.to_json(), "id": rid}


@dataclass(frozen=True)
class Request:
    """One well-formed request."""

    id: Any
    method: str
    params: list[Any]
    notification: bool


def check_request(item: Any) -> Request:
    """A request object, or RpcError(-32600)."""
    if not isinstance(item, dict) or item.get("jsonrpc") != "2.0" or not isinstance(item.get("method"), str):
        raise RpcError(-32600, "Invalid request")
    if not valid_id(item.get("id")):
        raise RpcError(-32600, "Invalid request")
    params = item.get("params", [])
    if params is None:
        params = []
    if not isinstance(params, list):
        raise invalid_params("params must be an array")
    return Request(item.get("id"), item["method"], params, "id" not in item)


def arity(params: list[Any], required: int, optional: int) -> None:
    """-32602 unless ``required`` to ``required + optional`` parameters were given."""
    if not required <= len(params) <= required + optional:
        expected = f"{required}" if not optional else f"{required} to {required + optional}"
        raise invalid_params(f"expected {expected} parameters, got {len(params)}")


def config(params: list[Any], index: int) -> dict[str, Any]:
    """The configuration object at ``index`` ({} if absent or null)."""
    value = params[index] if len(params) > index else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_params(f"parameter {index} must be a configuration object")
    return value


def uint(value: Any, what: str, maximum: int = U64_MAX) -> int:
    """An integer in 0..maximum, else -32602."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_params(f"{what} must be an integer")
    if not 0 <= value <= maximum:
        raise invalid_params(f"{what} must be between 0 and {maximum}")
    return value


def commitment(cfg: dict[str, Any], default: str = "finalized", minimum: str | None = None) -> str:
    """The commitment of a request: processed, confirmed or finalized (Solana's default:
    finalized); -32602 for anything else, or below ``minimum``."""
    value = cfg.get("commitment")
    if value is None:
        return default
    level = COMMITMENTS.get(value) if isinstance(value, str) else None
    if level is None:
        raise invalid_params(
            f"unknown variant `{value}`, expected one of `processed`, `confirmed`, `finalized`"
        )
    if minimum == "confirmed" and level == "processed":
        raise invalid_params("Method does not support commitment below `confirmed`")
    return level


def min_context_slot(cfg: dict[str, Any], slot: int) -> None:
    """-32016 if the request wants a later slot than ``slot``."""
    wanted = cfg.get("minContextSlot")
    if wanted is None:
        return
    if uint(wanted, "minContextSlot") > slot:
        raise RpcError(-32016, "Minimum context slot has not been reached", {"contextSlot": slot})
