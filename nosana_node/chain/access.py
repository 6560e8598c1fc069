"""The access NFT of a node on a market that requires one (jobs-program spec, "Node eligibility").

A market whose ``node_access_key`` is not "open" admits nodes holding an NFT of that verified
Metaplex collection: ``work`` and ``claim`` pass the node's token account of the NFT and the
Metaplex metadata of its mint. :func:`find_access_nft` looks for one among the node's tokens.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from nosana_node.chain import pda
from nosana_node.chain.addresses import METAPLEX_METADATA_PROGRAM, TOKEN_PROGRAM
from nosana_node.chain.rpc import RpcClient, parse_account

METADATA_KEY_V1 = 4


@dataclass(frozen=True)
class AccessNft:
    """A token account holding an access NFT, and the metadata of its mint."""

    token_account: Pubkey
    mint: Pubkey
    metadata: Pubkey


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("metadata too short")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def option(self, size: int) -> None:
        if self.u8() == 1:
            self.take(size)


def metadata_collection(data: bytes) -> tuple[Pubkey, bool] | None:
    """(collection key, verified) of Metaplex Metadata (Borsh), or None when it has none.

    Layout read: key u8 (4), update authority, mint, name, symbol, uri (u32-length strings),
    seller fee u16, creators Option<Vec<34 bytes>>, primary sale bool, mutable bool,
    edition nonce Option<u8>, token standard Option<u8>, collection Option<{verified, key}>.
    """
    r = _Reader(data)
    try:
        if r.u8() != METADATA_KEY_V1:
            return None
        r.take(64)
        for _ in range(3):
            r.take(r.u32())
        r.take(2)
        if r.u8() == 1:
            r.take(34 * r.u32())
        r.take(2)
        r.option(1)
        r.option(1)
        if r.u8() != 1:
            return None
        verified = r.u8() == 1
        return Pubkey.from_bytes(r.take(32)), verified
    except ValueError:
        return None


def find_access_nft(rpc: RpcClient, node: Pubkey, collection: Pubkey) -> AccessNft | None:
    """A token account of ``node`` holding an NFT of the verified ``collection``, or None."""
    found = rpc.call(
        "getTokenAccountsByOwner",
        str(node),
        {"programId": str(TOKEN_PROGRAM)},
        {"encoding": "base64", "commitment": rpc.commitment},
    )["value"]
    holdings: list[tuple[Pubkey, Pubkey]] = []
    for item in found:
        account = parse_account(item["account"])
        if account is None or len(account.data) < 72:
            continue
        amount = int.from_bytes(account.data[64:72], "little")
        if amount >= 1:
            holdings.append((Pubkey.from_string(item["pubkey"]), Pubkey.from_bytes(account.data[:32])))
    if not holdings:
        return None
    metadata = [pda.metadata(mint)[0] for _, mint in holdings]
    for (token_account, mint), address, account in zip(
        holdings, metadata, rpc.accounts(metadata), strict=True
    ):
        if account is None or account.owner != METAPLEX_METADATA_PROGRAM:
            continue
        if metadata_collection(account.data) == (collection, True):
            return AccessNft(token_account, mint, address)
    return None
