"""Solana JSON-RPC methods over a :class:`~.chain.LocalChain`.

:meth:`RpcMethods.handle` takes a decoded request (or a batch) and returns the response object;
the HTTP server only moves bytes and decides where a request runs (:meth:`RpcMethods.heavy`).
Commitment: ``processed`` and ``confirmed`` read the chain as it is; ``finalized`` (Solana's
default) reads what is committed to the ledger, at the finalized slot.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from solders.message import from_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction_status import TransactionErrorFieldless

from nosana_node.localnet import params as p
from nosana_node.localnet.chain import (
    LAMPORTS_PER_SIGNATURE,
    SLOTS_PER_EPOCH,
    LedgerUnavailable,
    LocalChain,
    Receipt,
    Simulation,
    Status,
    error_json,
)
from nosana_node.localnet.encoding import (
    TOKEN_PROGRAMS,
    RpcError,
    account_filter,
    decode_binary,
    decode_transaction,
    encode_account,
    hash_param,
    invalid_params,
    mint_decimals,
    pubkey_param,
    signature_param,
    token_amount,
)
from nosana_node.localnet.ui_transaction import ENCODINGS, encode_transaction, transaction_with_meta

log = logging.getLogger(__name__)

SOLANA_CORE_VERSION = "2.2.0"  # the Agave line solders' LiteSVM is built from
FEATURE_SET = 3_294_202_862
MAX_SIGNATURE_STATUSES = 256
MAX_MULTIPLE_ACCOUNTS = 100
MAX_SIGNATURES_FOR_ADDRESS = 1000
MAX_DATA_LENGTH = 10 * 1024 * 1024  # Solana's largest account

#: Methods that may read much (the server runs them off its event loop).
HEAVY = frozenset(
    {
        "getProgramAccounts",
        "getTokenAccountsByOwner",
        "getMultipleAccounts",
        "getSignatureStatuses",
        "getSignaturesForAddress",
        "getTransaction",
        "getBlock",
    }
)


def _describe(err: Any) -> str:
    """The text Solana puts after "Transaction simulation failed: "."""
    shape = error_json(err)
    if isinstance(shape, dict) and "InstructionError" in shape:
        index, inner = shape["InstructionError"]
        if isinstance(inner, dict) and "Custom" in inner:
            return f"Error processing Instruction {index}: custom program error: {inner['Custom']:#x}"
        return f"Error processing Instruction {index}: {inner}"
    messages = {
        "AlreadyProcessed": "This transaction has already been processed",
        "BlockhashNotFound": "Blockhash not found",
        "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
        "InsufficientFundsForFee": "Insufficient funds for fee",
    }
    return messages.get(str(shape), str(shape))


def _unhealthy(exc: LedgerUnavailable) -> RpcError:
    return RpcError(-32005, f"Node is unhealthy: {exc}", {"numSlotsBehind": None})


def _status_json(status: Status, slot: int) -> dict[str, Any]:
    return {
        "slot": status.slot,
        "confirmations": None if status.finalized else max(0, slot - status.slot),
        "err": status.err,
        "status": {"Ok": None} if status.err is None else {"Err": status.err},
        "confirmationStatus": "finalized" if status.finalized else "confirmed",
    }


class RpcMethods:
    """The JSON-RPC API of the local market (methods ``rpc_<name>``, with their arity)."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            name[len("rpc_") :]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._methods)

    # -- dispatch ---------------------------------------------------------------------------------
    @staticmethod
    def heavy(request: Any) -> bool:
        """True for a batch, or a method that may read much."""
        return isinstance(request, list) or (isinstance(request, dict) and request.get("method") in HEAVY)

    def handle(self, request: Any) -> Any:
        """The response to one request or a batch (None when nothing is to be answered)."""
        if isinstance(request, list):
            if not request:
                return p.error(None, RpcError(-32600, "Invalid request"))
            if len(request) > p.MAX_BATCH:
                return p.error(None, RpcError(-32600, f"Invalid request: batch of more than {p.MAX_BATCH}"))
            responses = [self.handle_one(item) for item in request]
            return [r for r in responses if r is not None] or None
        return self.handle_one(request)

    def handle_one(self, item: Any) -> dict[str, Any] | None:
        try:
            request = p.check_request(item)
        except RpcError as exc:
            rid = item.get("id") if isinstance(item, dict) and p.valid_id(item.get("id")) else None
            return p.error(rid if exc.code != -32600 else None, exc)
        method = self._methods.get(request.method)
        try:
            if method is None:
                raise RpcError(-32601, "Method not found")
            result = method(request.params)
        except RpcError as exc:
            return p.error(request.id, exc)
        except LedgerUnavailable as exc:
            return p.error(request.id, _unhealthy(exc))
        except Exception as exc:  # a bug or a ledger failure: answer, log, keep serving
            log.exception("%s failed", request.method)
            return p.error(request.id, RpcError(-32603, f"Internal error: {type(exc).__name__}"))
        if request.notification:
            return None
        return {"jsonrpc": "2.0", "result": result, "id": request.id}

    # -- commitment and context -------------------------------------------------------------------
    def _slot_at(self, level: str) -> int:
        return self.chain.finalized_slot if level == "finalized" else self.chain.slot

    def _level(self, cfg: dict[str, Any], minimum: str | None = None) -> tuple[bool, int]:
        """(finalized?, context slot) of a request, after its minContextSlot check."""
        level = p.commitment(cfg, minimum=minimum)
        slot = self._slot_at(level)
        p.min_context_slot(cfg, slot)
        return level == "finalized", slot

    @staticmethod
    def _context(slot: int, value: Any) -> dict[str, Any]:
        return {"context": {"slot": slot, "apiVersion": SOLANA_CORE_VERSION}, "value": value}

    def _decimals(self, mint: Pubkey) -> int | None:
        return self.chain.decimals(mint)

    def _encode(self, account: Any, cfg: dict[str, Any]) -> dict[str, Any] | None:
        if account is None:
            return None
        return encode_account(account, cfg.get("encoding") or "binary", cfg.get("dataSlice"), self._decimals)

    # -- cluster ----------------------------------------------------------------------------------
    def rpc_getHealth(self, params: list[Any]) -> str:
        p.arity(params, 0, 0)
        if self.chain.commit_error is not None:
            raise RpcError(-32005, f"Node is unhealthy: {self.chain.commit_error}", {"numSlotsBehind": None})
        return "ok"

    def rpc_getVersion(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 0, 0)
        return {"solana-core": SOLANA_CORE_VERSION, "feature-set": FEATURE_SET}

    def rpc_getGenesisHash(self, params: list[Any]) -> str:
        p.arity(params, 0, 0)
        return str(self.chain.genesis_hash)

    def rpc_getIdentity(self, params: list[Any]) -> dict[str, str]:
        p.arity(params, 0, 0)
        return {"identity": str(self.chain.faucet.pubkey())}

    def rpc_getSlot(self, params: list[Any]) -> int:
        p.arity(params, 0, 1)
        return self._level(p.config(params, 0))[1]

    def rpc_getBlockHeight(self, params: list[Any]) -> int:
        p.arity(params, 0, 1)
        return self._level(p.config(params, 0))[1]

    def rpc_getTransactionCount(self, params: list[Any]) -> int:
        p.arity(params, 0, 1)
        self._level(p.config(params, 0))
        return self.chain.transaction_count

    def rpc_getFirstAvailableBlock(self, params: list[Any]) -> int:
        p.arity(params, 0, 0)
        return 0

    def rpc_minimumLedgerSlot(self, params: list[Any]) -> int:
        p.arity(params, 0, 0)
        return 0

    def rpc_getEpochInfo(self, params: list[Any]) -> dict[str, int]:
        p.arity(params, 0, 1)
        _, slot = self._level(p.config(params, 0))
        return {
            "absoluteSlot": slot,
            "blockHeight": slot,
            "epoch": slot // SLOTS_PER_EPOCH,
            "slotIndex": slot % SLOTS_PER_EPOCH,
            "slotsInEpoch": SLOTS_PER_EPOCH,
            "transactionCount": self.chain.transaction_count,
        }

    def rpc_getEpochSchedule(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 0, 0)
        return {
            "firstNormalEpoch": 0,
            "firstNormalSlot": 0,
            "leaderScheduleSlotOffset": SLOTS_PER_EPOCH,
            "slotsPerEpoch": SLOTS_PER_EPOCH,
            "warmup": False,
        }

    # -- blockhashes and fees ---------------------------------------------------------------------
    def rpc_getLatestBlockhash(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 0, 1)
        finalized, slot = self._level(p.config(params, 0))
        blockhash, last_valid = self.chain.latest_blockhash_info(finalized=finalized)
        return self._context(slot, {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})

    def rpc_isBlockhashValid(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        blockhash = hash_param(params[0])
        _, slot = self._level(p.config(params, 1))
        return self._context(slot, self.chain.is_blockhash_valid(blockhash))

    def rpc_getFeeForMessage(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        raw = decode_binary(params[0], "base64")
        _, slot = self._level(p.config(params, 1))
        try:
            message = from_bytes_versioned(raw)
        except ValueError as exc:
            raise invalid_params(f"failed to deserialize the message: {exc}") from None
        if not self.chain.is_blockhash_valid(message.recent_blockhash):
            return self._context(slot, None)
        return self._context(slot, LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures)

    def rpc_getRecentPrioritizationFees(self, params: list[Any]) -> list[dict[str, int]]:
        p.arity(params, 0, 1)
        if params and params[0] is not None:
            addresses = params[0]
            if not isinstance(addresses, list) or len(addresses) > 128:
                raise invalid_params("expected at most 128 addresses")
            for address in addresses:
                pubkey_param(address)
        slot = self.chain.slot
        return [{"slot": s, "prioritizationFee": 0} for s in range(max(0, slot - 149), slot + 1)]

    def rpc_getMinimumBalanceForRentExemption(self, params: list[Any]) -> int:
        p.arity(params, 1, 1)
        size = p.uint(params[0], "data length", MAX_DATA_LENGTH)
        self._level(p.config(params, 1))
        return self.chain.minimum_balance_for_rent_exemption(size)

    # -- accounts ---------------------------------------------------------------------------------
    def rpc_getAccountInfo(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        key = pubkey_param(params[0])
        cfg = p.config(params, 1)
        finalized, slot = self._level(cfg)
        return self._context(slot, self._encode(self.chain.get_account(key, finalized=finalized), cfg))

    def rpc_getMultipleAccounts(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        keys = params[0]
        if not isinstance(keys, list) or len(keys) > MAX_MULTIPLE_ACCOUNTS:
            raise invalid_params(f"expected a list of at most {MAX_MULTIPLE_ACCOUNTS} addresses")
        cfg = p.config(params, 1)
        finalized, slot = self._level(cfg)
        accounts = [self.chain.get_account(pubkey_param(k), finalized=finalized) for k in keys]
        return self._context(slot, [self._encode(a, cfg) for a in accounts])

    def rpc_getBalance(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        key = pubkey_param(params[0])
        finalized, slot = self._level(p.config(params, 1))
        return self._context(slot, self.chain.get_balance(key, finalized=finalized))

    def rpc_getProgramAccounts(self, params: list[Any]) -> Any:
        p.arity(params, 1, 1)
        program = pubkey_param(params[0])
        cfg = p.config(params, 1)
        keep = account_filter(cfg.get("filters"))
        finalized, slot = self._level(cfg)
        found = [
            {"pubkey": str(key), "account": self._encode(a, cfg)}
            for key, a in self.chain.program_accounts(program, finalized=finalized)
            if keep(bytes(a.data))
        ]
        return self._context(slot, found) if cfg.get("withContext") else found

    def rpc_getTokenAccountBalance(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        key = pubkey_param(params[0])
        finalized, slot = self._level(p.config(params, 1))
        account = self.chain.get_account(key, finalized=finalized)
        amount = None
        if account is not None and account.owner in TOKEN_PROGRAMS:
            amount = token_amount(bytes(account.data), self._decimals)
        if amount is None:
            raise invalid_params("Invalid param: not a Token account")
        return self._context(slot, amount)

    def rpc_getTokenAccountsByOwner(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 2, 1)
        owner = pubkey_param(params[0])
        which = params[1]
        cfg = p.config(params, 2)
        finalized, slot = self._level(cfg)
        if not isinstance(which, dict) or len(which) != 1 or not ({"mint", "programId"} & set(which)):
            raise invalid_params('expected {"mint": ...} or {"programId": ...}')
        mint, program = None, None
        if "mint" in which:
            mint = pubkey_param(which["mint"])
            mint_account = self.chain.get_account(mint)
            if mint_decimals(mint_account) is None:
                raise invalid_params("Invalid param: could not find mint")
            program = mint_account.owner if mint_account else None
        else:
            program = pubkey_param(which["programId"])
            if program not in TOKEN_PROGRAMS:
                raise invalid_params("Invalid param: unrecognized Token program id")
        found = [
            {"pubkey": str(k), "account": self._encode(a, cfg)}
            for k, a in self.chain.token_accounts(
                owner, mint=mint, program=program or TOKEN_PROGRAMS[0], finalized=finalized
            )
        ]
        return self._context(slot, found)

    # -- transactions -----------------------------------------------------------------------------
    def rpc_sendTransaction(self, params: list[Any]) -> str:
        p.arity(params, 1, 1)
        cfg = p.config(params, 1)
        tx = decode_transaction(params[0], cfg.get("encoding") or "base58")
        p.commitment({"commitment": cfg.get("preflightCommitment")})
        if cfg.get("minContextSlot") is not None:
            p.min_context_slot(cfg, self.chain.slot)
        if "maxRetries" in cfg and cfg["maxRetries"] is not None:
            p.uint(cfg["maxRetries"], "maxRetries")
        preflight = not cfg.get("skipPreflight", False)
        receipt = self.chain.send_transaction(tx, preflight=preflight)
        if receipt.err == TransactionErrorFieldless.SignatureFailure:
            raise RpcError(-32003, "Transaction signature verification failure")
        if preflight and not receipt.ok:
            raise RpcError(
                -32002,
                f"Transaction simulation failed: {_describe(receipt.err)}",
                _simulation_json(receipt),
            )
        return str(receipt.signature)

    def rpc_simulateTransaction(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        cfg = p.config(params, 1)
        tx = decode_transaction(params[0], cfg.get("encoding") or "base58")
        _, slot = self._level(cfg)
        sig_verify = bool(cfg.get("sigVerify", False))
        replace = bool(cfg.get("replaceRecentBlockhash", False))
        if sig_verify and replace:
            raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
        wanted = cfg.get("accounts") or {}
        if not isinstance(wanted, dict) or not isinstance(wanted.get("addresses", []), list):
            raise invalid_params("accounts must be {addresses: [...], encoding}")
        addresses = [pubkey_param(a) for a in wanted.get("addresses", [])]
        simulation = self.chain.simulate_transaction(
            tx, sig_verify=sig_verify, replace_blockhash=replace, accounts=addresses
        )
        if simulation.err == TransactionErrorFieldless.SignatureFailure:
            raise RpcError(-32003, "Transaction signature verification failure")
        value = _simulation_json(simulation)
        if wanted:
            encoding = wanted.get("encoding") or "base64"
            value["accounts"] = [
                None if a is None else encode_account(a, encoding, None, self._decimals)
                for a in (simulation.accounts[k] for k in addresses)
            ]
        if replace:
            blockhash, last_valid = self.chain.latest_blockhash_info()
            value["replacementBlockhash"] = {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
        return self._context(slot, value)

    def rpc_requestAirdrop(self, params: list[Any]) -> str:
        p.arity(params, 2, 1)
        key = pubkey_param(params[0])
        lamports = p.uint(params[1], "lamports")
        if lamports == 0:
            raise invalid_params("lamports must be a positive integer")
        self._level(p.config(params, 2))
        receipt = self.chain.airdrop(key, lamports)
        if not receipt.ok:
            raise RpcError(-32600, f"airdrop failed: {_describe(receipt.err)}")
        return str(receipt.signature)

    def rpc_getSignatureStatuses(self, params: list[Any]) -> dict[str, Any]:
        p.arity(params, 1, 1)
        signatures = params[0]
        if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURE_STATUSES:
            raise invalid_params(f"expected a list of at most {MAX_SIGNATURE_STATUSES} signatures")
        p.config(params, 1)  # searchTransactionHistory: the whole history is always searched
        keys = [signature_param(text) for text in signatures]
        slot = self.chain.slot
        statuses = [self.chain.status(key) for key in keys]
        return self._context(slot, [None if s is None else _status_json(s, slot) for s in statuses])

    def rpc_getTransaction(self, params: list[Any]) -> dict[str, Any] | None:
        p.arity(params, 1, 1)
        signature = signature_param(params[0])
        cfg = (
            {"encoding": params[1]} if len(params) > 1 and isinstance(params[1], str) else p.config(params, 1)
        )
        finalized, _ = self._level(cfg, minimum="confirmed")
        encoding = cfg.get("encoding") or "json"
        if encoding not in ENCODINGS:
            raise invalid_params(f"unknown encoding {encoding!r}")
        record = self.chain.transaction(signature, finalized=finalized)
        if record is None:
            return None
        found = transaction_with_meta(
            record, encoding, cfg.get("maxSupportedTransactionVersion"), self._decimals
        )
        return {"blockTime": record["blockTime"], "slot": record["slot"], **found}

    def rpc_getSignaturesForAddress(self, params: list[Any]) -> list[dict[str, Any]]:
        p.arity(params, 1, 1)
        address = pubkey_param(params[0])
        cfg = p.config(params, 1)
        finalized, _ = self._level(cfg, minimum="confirmed")
        limit = cfg.get("limit")
        limit = MAX_SIGNATURES_FOR_ADDRESS if limit is None else p.uint(limit, "limit")
        if not 1 <= limit <= MAX_SIGNATURES_FOR_ADDRESS:
            raise invalid_params(f"Invalid limit; max {MAX_SIGNATURES_FOR_ADDRESS}")
        bounds = {}
        for name in ("before", "until"):
            if cfg.get(name) is not None:
                bounds[name] = bytes(signature_param(cfg[name]))
        found = self.chain.signatures_for_address(address, limit=limit, finalized=finalized, **bounds)
        return [
            {
                "signature": str(Signature.from_bytes(signature)),
                "slot": status.slot,
                "err": status.err,
                "memo": None,
                "blockTime": block_time,
                "confirmationStatus": "finalized" if status.finalized else "confirmed",
            }
            for signature, status, block_time in found
        ]

    def rpc_getBlock(self, params: list[Any]) -> dict[str, Any] | None:
        p.arity(params, 1, 1)
        slot = p.uint(params[0], "slot")
        cfg = (
            {"encoding": params[1]} if len(params) > 1 and isinstance(params[1], str) else p.config(params, 1)
        )
        finalized, context_slot = self._level(cfg, minimum="confirmed")
        encoding = cfg.get("encoding") or "json"
        details = cfg.get("transactionDetails") or "full"
        if encoding not in ENCODINGS:
            raise invalid_params(f"unknown encoding {encoding!r}")
        if details not in ("full", "signatures", "none", "accounts"):
            raise invalid_params(f"unknown transactionDetails {details!r}")
        found = self.chain.block(slot, finalized=finalized)
        if found is None:
            if slot > context_slot:
                raise RpcError(-32004, f"Block not available for slot {slot}")
            raise RpcError(
                -32007, f"Slot {slot} was skipped, or missing due to ledger jump to recent snapshot"
            )
        block, records = found
        result: dict[str, Any] = {
            "blockHeight": block.slot,
            "blockTime": block.block_time,
            "blockhash": block.blockhash,
            "parentSlot": block.parent,
            "previousBlockhash": block.previous_blockhash,
        }
        max_version = cfg.get("maxSupportedTransactionVersion")
        if details == "full":
            result["transactions"] = [
                transaction_with_meta(r, encoding, max_version, self._decimals) for r in records
            ]
        elif details == "accounts":
            result["transactions"] = [_accounts_only(r, max_version, self._decimals) for r in records]
        elif details == "signatures":
            result["signatures"] = [
                encode_transaction(base64.b64decode(r["tx"]), "json")["signatures"][0] for r in records
            ]
        if cfg.get("rewards", True):
            result["rewards"] = []
        return result

    def rpc_getBlockTime(self, params: list[Any]) -> int:
        p.arity(params, 1, 0)
        slot = p.uint(params[0], "slot")
        found = self.chain.block(slot)
        if found is None:
            raise RpcError(-32004, f"Block not available for slot {slot}")
        return found[0].block_time


def _accounts_only(
    record: dict[str, Any], max_version: Any, decimals_of: Callable[[Pubkey], int | None]
) -> dict[str, Any]:
    """A transaction as ``transactionDetails: "accounts"`` gives it."""
    full = transaction_with_meta(record, "jsonParsed", max_version, decimals_of)
    meta = full["meta"]
    return {
        **({"version": full["version"]} if "version" in full else {}),
        "transaction": {
            "accountKeys": full["transaction"]["message"]["accountKeys"],
            "signatures": full["transaction"]["signatures"],
        },
        "meta": {
            key: meta[key]
            for key in (
                "err",
                "fee",
                "preBalances",
                "postBalances",
                "preTokenBalances",
                "postTokenBalances",
                "status",
            )
        },
    }


def _simulation_json(outcome: Receipt | Simulation) -> dict[str, Any]:
    """The ``RpcSimulateTransactionResult`` shape (also the data of a failed preflight)."""
    units = outcome.compute_units
    return_data = getattr(outcome, "return_data", None)
    return {
        "accounts": None,
        "err": error_json(outcome.err),
        "innerInstructions": None,
        "logs": outcome.logs,
        "replacementBlockhash": None,
        "returnData": None
        if return_data is None
        else {"programId": str(return_data[0]), "data": [_b64(return_data[1]), "base64"]},
        "unitsConsumed": units,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
