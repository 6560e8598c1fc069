"""Solana JSON-RPC methods over a :class:`~.chain.LocalChain`.

:meth:`RpcMethods.handle` takes a decoded JSON-RPC request (or a batch) and returns the response
object; the HTTP server only moves bytes. Every commitment level reads the same state: a
transaction is final once ``sendTransaction`` answers.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

from solders.message import from_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction_status import TransactionErrorFieldless

from nosana_node.localnet.chain import (
    LAMPORTS_PER_SIGNATURE,
    SLOTS_PER_EPOCH,
    LocalChain,
    Receipt,
    Simulation,
    error_json,
)
from nosana_node.localnet.encoding import (
    TOKEN_PROGRAMS,
    RpcError,
    account_filter,
    decode_binary,
    decode_transaction,
    encode_account,
    encode_transaction,
    hash_param,
    invalid_params,
    mint_decimals,
    pubkey_param,
    signature_param,
    token_amount,
    transaction_version,
)

log = logging.getLogger(__name__)

SOLANA_CORE_VERSION = "2.2.0"  # the Agave line solders' LiteSVM is built from
FEATURE_SET = 3_294_202_862
MAX_SIGNATURE_STATUSES = 256
MAX_MULTIPLE_ACCOUNTS = 100


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


def _config(params: list[Any], index: int) -> dict[str, Any]:
    value = params[index] if len(params) > index else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_params(f"parameter {index} must be a configuration object")
    return value


def _arg(params: list[Any], index: int, what: str) -> Any:
    if len(params) <= index:
        raise invalid_params(f"missing {what}")
    return params[index]


class RpcMethods:
    """The JSON-RPC API of the local market."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            name[len("rpc_") :]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._methods)

    # -- dispatch ---------------------------------------------------------------------------------
    def handle(self, request: Any) -> Any:
        """The response to one request or a batch (None for a notification)."""
        if isinstance(request, list):
            if not request:
                return _error(None, RpcError(-32600, "Invalid request"))
            responses = [self.handle_one(item) for item in request]
            return [r for r in responses if r is not None]
        return self.handle_one(request)

    def handle_one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "method" not in request:
            return _error(
                request.get("id") if isinstance(request, dict) else None, RpcError(-32600, "Invalid request")
            )
        rid = request.get("id")
        params = request.get("params", [])
        if params is None:
            params = []
        method = self._methods.get(request["method"])
        try:
            if method is None:
                raise RpcError(-32601, "Method not found")
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            result = method(params)
        except RpcError as exc:
            return _error(rid, exc)
        except Exception as exc:  # a bug or a ledger failure: answer, log, keep serving
            log.exception("%s failed", request["method"])
            return _error(rid, RpcError(-32603, f"Internal error: {type(exc).__name__}: {exc}"))
        return {"jsonrpc": "2.0", "result": result, "id": rid}

    def _context(self) -> dict[str, Any]:
        return {"slot": self.chain.slot, "apiVersion": SOLANA_CORE_VERSION}

    def _with_context(self, value: Any) -> dict[str, Any]:
        return {"context": self._context(), "value": value}

    def _decimals(self, mint: Pubkey) -> int | None:
        return mint_decimals(self.chain.get_account(mint))

    def _account(self, key: Pubkey, config: dict[str, Any]) -> dict[str, Any] | None:
        account = self.chain.get_account(key)
        if account is None:
            return None
        return encode_account(
            account, config.get("encoding") or "binary", config.get("dataSlice"), self._decimals
        )

    # -- cluster ----------------------------------------------------------------------------------
    def rpc_getHealth(self, params: list[Any]) -> str:
        return "ok"

    def rpc_getVersion(self, params: list[Any]) -> dict[str, Any]:
        return {"solana-core": SOLANA_CORE_VERSION, "feature-set": FEATURE_SET}

    def rpc_getGenesisHash(self, params: list[Any]) -> str:
        return str(self.chain.genesis_hash)

    def rpc_getIdentity(self, params: list[Any]) -> dict[str, str]:
        return {"identity": str(self.chain.faucet.pubkey())}

    def rpc_getSlot(self, params: list[Any]) -> int:
        return self.chain.slot

    def rpc_getBlockHeight(self, params: list[Any]) -> int:
        return self.chain.block_height

    def rpc_getTransactionCount(self, params: list[Any]) -> int:
        return self.chain.transaction_count

    def rpc_getFirstAvailableBlock(self, params: list[Any]) -> int:
        return 0

    def rpc_minimumLedgerSlot(self, params: list[Any]) -> int:
        return 0

    def rpc_getEpochInfo(self, params: list[Any]) -> dict[str, int]:
        slot = self.chain.slot
        return {
            "absoluteSlot": slot,
            "blockHeight": slot,
            "epoch": slot // SLOTS_PER_EPOCH,
            "slotIndex": slot % SLOTS_PER_EPOCH,
            "slotsInEpoch": SLOTS_PER_EPOCH,
            "transactionCount": self.chain.transaction_count,
        }

    def rpc_getEpochSchedule(self, params: list[Any]) -> dict[str, Any]:
        return {
            "firstNormalEpoch": 0,
            "firstNormalSlot": 0,
            "leaderScheduleSlotOffset": SLOTS_PER_EPOCH,
            "slotsPerEpoch": SLOTS_PER_EPOCH,
            "warmup": False,
        }

    # -- blockhashes and fees ---------------------------------------------------------------------
    def rpc_getLatestBlockhash(self, params: list[Any]) -> dict[str, Any]:
        blockhash, last_valid = self.chain.latest_blockhash_info()
        return self._with_context({"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})

    def rpc_isBlockhashValid(self, params: list[Any]) -> dict[str, Any]:
        blockhash = hash_param(_arg(params, 0, "blockhash"))
        return self._with_context(self.chain.is_blockhash_valid(blockhash))

    def rpc_getFeeForMessage(self, params: list[Any]) -> dict[str, Any]:
        raw = decode_binary(_arg(params, 0, "message"), "base64")
        try:
            message = from_bytes_versioned(raw)
        except ValueError as exc:
            raise invalid_params(f"failed to deserialize the message: {exc}") from None
        if not self.chain.is_blockhash_valid(message.recent_blockhash):
            return self._with_context(None)
        return self._with_context(LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures)

    def rpc_getRecentPrioritizationFees(self, params: list[Any]) -> list[dict[str, int]]:
        if params and params[0] is not None:
            addresses = params[0]
            if not isinstance(addresses, list) or len(addresses) > 128:
                raise invalid_params("expected at most 128 addresses")
            for address in addresses:
                pubkey_param(address)
        slot = self.chain.slot
        return [{"slot": s, "prioritizationFee": 0} for s in range(max(0, slot - 149), slot + 1)]

    def rpc_getMinimumBalanceForRentExemption(self, params: list[Any]) -> int:
        size = _arg(params, 0, "data length")
        if not isinstance(size, int) or size < 0:
            raise invalid_params("data length must be a non-negative integer")
        return self.chain.minimum_balance_for_rent_exemption(size)

    # -- accounts ---------------------------------------------------------------------------------
    def rpc_getAccountInfo(self, params: list[Any]) -> dict[str, Any]:
        key = pubkey_param(_arg(params, 0, "account address"))
        return self._with_context(self._account(key, _config(params, 1)))

    def rpc_getMultipleAccounts(self, params: list[Any]) -> dict[str, Any]:
        keys = _arg(params, 0, "account addresses")
        if not isinstance(keys, list) or len(keys) > MAX_MULTIPLE_ACCOUNTS:
            raise invalid_params(f"expected a list of at most {MAX_MULTIPLE_ACCOUNTS} addresses")
        config = _config(params, 1)
        return self._with_context([self._account(pubkey_param(k), config) for k in keys])

    def rpc_getBalance(self, params: list[Any]) -> dict[str, Any]:
        key = pubkey_param(_arg(params, 0, "account address"))
        return self._with_context(self.chain.get_balance(key))

    def rpc_getProgramAccounts(self, params: list[Any]) -> Any:
        program = pubkey_param(_arg(params, 0, "program id"))
        config = _config(params, 1)
        keep = account_filter(config.get("filters"))
        encoding = config.get("encoding") or "binary"
        found = [
            {
                "pubkey": str(key),
                "account": encode_account(a, encoding, config.get("dataSlice"), self._decimals),
            }
            for key, a in self.chain.program_accounts(program)
            if keep(bytes(a.data))
        ]
        return self._with_context(found) if config.get("withContext") else found

    def rpc_getTokenAccountBalance(self, params: list[Any]) -> dict[str, Any]:
        key = pubkey_param(_arg(params, 0, "token account address"))
        account = self.chain.get_account(key)
        amount = None
        if account is not None and account.owner in TOKEN_PROGRAMS:
            amount = token_amount(bytes(account.data), self._decimals)
        if amount is None:
            raise invalid_params("Invalid param: not a Token account")
        return self._with_context(amount)

    def rpc_getTokenAccountsByOwner(self, params: list[Any]) -> dict[str, Any]:
        owner = pubkey_param(_arg(params, 0, "owner address"))
        which = _arg(params, 1, "mint or programId filter")
        config = _config(params, 2)
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
        encoding = config.get("encoding") or "binary"
        found = [
            {
                "pubkey": str(k),
                "account": encode_account(a, encoding, config.get("dataSlice"), self._decimals),
            }
            for k, a in self.chain.token_accounts(owner, mint=mint, program=program or TOKEN_PROGRAMS[0])
        ]
        return self._with_context(found)

    # -- transactions -----------------------------------------------------------------------------
    def rpc_sendTransaction(self, params: list[Any]) -> str:
        config = _config(params, 1)
        tx = decode_transaction(_arg(params, 0, "transaction"), config.get("encoding") or "base58")
        preflight = not config.get("skipPreflight", False)
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
        config = _config(params, 1)
        tx = decode_transaction(_arg(params, 0, "transaction"), config.get("encoding") or "base58")
        sig_verify = bool(config.get("sigVerify", False))
        replace = bool(config.get("replaceRecentBlockhash", False))
        if sig_verify and replace:
            raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
        wanted = config.get("accounts") or {}
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
        return self._with_context(value)

    def rpc_requestAirdrop(self, params: list[Any]) -> str:
        key = pubkey_param(_arg(params, 0, "account address"))
        lamports = _arg(params, 1, "lamports")
        if not isinstance(lamports, int) or lamports <= 0:
            raise invalid_params("lamports must be a positive integer")
        receipt = self.chain.airdrop(key, lamports)
        if not receipt.ok:
            raise RpcError(-32600, f"airdrop failed: {_describe(receipt.err)}")
        return str(receipt.signature)

    def rpc_getSignatureStatuses(self, params: list[Any]) -> dict[str, Any]:
        signatures = _arg(params, 0, "signatures")
        if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURE_STATUSES:
            raise invalid_params(f"expected a list of at most {MAX_SIGNATURE_STATUSES} signatures")
        statuses = []
        for text in signatures:
            record = self.chain.transaction(signature_param(text))
            if record is None:
                statuses.append(None)
                continue
            err = record["err"]
            statuses.append(
                {
                    "slot": record["slot"],
                    "confirmations": None,
                    "err": err,
                    "status": {"Ok": None} if err is None else {"Err": err},
                    "confirmationStatus": "finalized",
                }
            )
        return self._with_context(statuses)

    def rpc_getTransaction(self, params: list[Any]) -> dict[str, Any] | None:
        signature = signature_param(_arg(params, 0, "signature"))
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        if len(params) > 1 and isinstance(params[1], str):
            config = {"encoding": params[1]}
        record = self.chain.transaction(signature)
        if record is None:
            return None
        raw = decode_binary(record["tx"], "base64")
        version = transaction_version(raw)
        max_version = config.get("maxSupportedTransactionVersion")
        if version != "legacy" and (max_version is None or max_version < version):
            raise RpcError(
                -32015,
                f"Transaction version ({version}) is not supported by the requesting client. "
                "Please try the request again with the following configuration parameter: "
                f'"maxSupportedTransactionVersion": {version}',
            )
        err = record["err"]
        meta = {
            "computeUnitsConsumed": record["computeUnits"],
            "err": err,
            "fee": record["fee"],
            "innerInstructions": [],
            "loadedAddresses": {"readonly": [], "writable": []},
            "logMessages": record["logs"],
            "postBalances": record["postBalances"],
            "postTokenBalances": [],
            "preBalances": record["preBalances"],
            "preTokenBalances": [],
            "rewards": [],
            "status": {"Ok": None} if err is None else {"Err": err},
        }
        result = {
            "blockTime": record["blockTime"],
            "meta": meta,
            "slot": record["slot"],
            "transaction": encode_transaction(raw, config.get("encoding") or "json"),
        }
        if max_version is not None:
            result["version"] = version
        return result


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


def _error(rid: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": rid}


def parse_request(body: bytes) -> Any:
    """Decode a request body; a :class:`RpcError` (-32700) if it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RpcError(-32700, "Parse error") from None
