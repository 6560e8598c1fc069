"""Raw account data for the local chain: what genesis writes directly into the ledger.

Accounts of programs that do not run on the local chain (the staking program, Metaplex) and
SPL Token state created without transactions are built here, byte for byte as their programs
lay them out. Only fields the jobs program (or a client) reads need meaningful values.
"""

from __future__ import annotations

import struct
from typing import Protocol

from solders.account import Account
from solders.pubkey import Pubkey

from nosana_node.chain.accounts import StakeAccount


class RentOracle(Protocol):
    def minimum_balance_for_rent_exemption(self, data_len: int) -> int: ...


MINT_SIZE = 82
TOKEN_ACCOUNT_SIZE = 165
#: ``8 + size_of::<StakeAccount>()`` on SBF (105 bytes of fields padded to 112).
STAKE_ACCOUNT_SIZE = 120
#: Metaplex allocates metadata accounts at their maximum length.
METADATA_SIZE = 679

_NAME_LEN, _SYMBOL_LEN, _URI_LEN = 32, 10, 200  # Metaplex pads these strings with NULs


def _coption_key(key: Pubkey | None) -> bytes:
    """SPL's ``COption<Pubkey>``: u32 tag, then 32 bytes (zero when absent)."""
    return struct.pack("<I", 0 if key is None else 1) + (bytes(32) if key is None else bytes(key))


def mint_data(
    mint_authority: Pubkey | None, supply: int, decimals: int = 6, freeze_authority: Pubkey | None = None
) -> bytes:
    """An initialized SPL Token mint (82 bytes)."""
    return (
        _coption_key(mint_authority)
        + struct.pack("<QBB", supply, decimals, 1)
        + _coption_key(freeze_authority)
    )


def token_account_data(mint: Pubkey, owner: Pubkey, amount: int, *, frozen: bool = False) -> bytes:
    """An initialized SPL Token account (165 bytes): no delegate, not native, no close authority."""
    data = (
        bytes(mint)
        + bytes(owner)
        + struct.pack("<Q", amount)
        + _coption_key(None)  # delegate
        + bytes([2 if frozen else 1])  # state
        + struct.pack("<IQ", 0, 0)  # is_native: None
        + struct.pack("<Q", 0)  # delegated_amount
        + _coption_key(None)  # close_authority
    )
    assert len(data) == TOKEN_ACCOUNT_SIZE
    return data


#: Stake durations the staking program accepts (seconds).
STAKE_DURATION_MIN, STAKE_DURATION_MAX = 14 * 86_400, 365 * 86_400
_XNOS_PRECISION = 10**15
_XNOS_DURATION = 10_512_000  # 4 x 365 days / 12: +0.25 per month staked


def staked_xnos(amount: int, duration: int, time_unstake: int = 0) -> int:
    """xNOS as the staking program computes it: ``(duration x 10^15 / 10,512,000 + 10^15) x
    amount / 10^15`` while staked (integer arithmetic; a year counts 4 x), 0 once unstaking."""
    if not STAKE_DURATION_MIN <= duration <= STAKE_DURATION_MAX:
        raise ValueError(f"stake duration {duration}s is outside 14..365 days")
    if time_unstake:
        return 0
    return (duration * _XNOS_PRECISION // _XNOS_DURATION + _XNOS_PRECISION) * amount // _XNOS_PRECISION


def stake_data(
    authority: Pubkey,
    *,
    xnos: int,
    amount: int = 0,
    duration: int = 0,
    time_unstake: int = 0,
    vault: Pubkey | None = None,
    vault_bump: int = 255,
) -> bytes:
    """A StakeAccount of the Nosana staking program, padded to its allocated size."""
    stake = StakeAccount(
        amount, authority, duration, time_unstake, vault or Pubkey.default(), vault_bump, xnos
    )
    return stake.encode().ljust(STAKE_ACCOUNT_SIZE, b"\0")


def _padded_string(text: str, size: int) -> bytes:
    raw = text.encode()
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} bytes")
    return struct.pack("<I", size) + raw.ljust(size, b"\0")


def metadata_data(
    mint: Pubkey,
    *,
    collection: Pubkey | None,
    verified: bool = True,
    update_authority: Pubkey | None = None,
    name: str = "Nosana Node",
    symbol: str = "NOS",
    uri: str = "",
    edition_nonce: int = 255,
) -> bytes:
    """Metaplex token metadata (MetadataV1) for ``mint``, with an optional collection.

    Fields up to ``collection`` are laid out as Metaplex stores them (Borsh, strings padded to
    their maximum lengths, no creators, a NonFungible token standard); the optional fields
    after it are absent; the account is padded to its allocated size.
    """
    data = (
        bytes([4])  # Key::MetadataV1
        + bytes(update_authority or Pubkey.default())
        + bytes(mint)
        + _padded_string(name, _NAME_LEN)
        + _padded_string(symbol, _SYMBOL_LEN)
        + _padded_string(uri, _URI_LEN)
        + struct.pack("<H", 0)  # seller_fee_basis_points
        + bytes([0])  # creators: None
        + bytes([1, 1])  # primary_sale_happened, is_mutable
        + bytes([1, edition_nonce])  # edition_nonce: Some
        + bytes([1, 0])  # token_standard: Some(NonFungible)
        + (bytes([0]) if collection is None else bytes([1, int(verified)]) + bytes(collection))
        + bytes([0, 0, 0])  # uses, collection_details, programmable_config: None
    )
    return data.ljust(METADATA_SIZE, b"\0")


def account(data: bytes, owner: Pubkey, lamports: int) -> Account:
    """A solders Account holding ``data``."""
    return Account(lamports=lamports, data=data, owner=owner, executable=False)


def rent_exempt(chain: RentOracle, data: bytes, owner: Pubkey) -> Account:
    """An account holding ``data`` with just enough lamports to be rent exempt on ``chain``."""
    return account(data, owner, chain.minimum_balance_for_rent_exemption(len(data)))
