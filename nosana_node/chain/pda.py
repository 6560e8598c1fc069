"""Program-derived addresses used by the jobs program and its clients."""

from __future__ import annotations

from solders.pubkey import Pubkey

from nosana_node.chain.addresses import ASSOCIATED_TOKEN_PROGRAM, METAPLEX_METADATA_PROGRAM, TOKEN_PROGRAM


def market_vault(market: Pubkey, mint: Pubkey, jobs_program: Pubkey) -> tuple[Pubkey, int]:
    """The market's NOS vault: seeds ``[market, mint]`` under the jobs program."""
    return Pubkey.find_program_address([bytes(market), bytes(mint)], jobs_program)


def stake(node: Pubkey, mint: Pubkey, staking_program: Pubkey) -> tuple[Pubkey, int]:
    """A node's stake: seeds ``["stake", mint, node]`` under the staking program."""
    return Pubkey.find_program_address([b"stake", bytes(mint), bytes(node)], staking_program)


def metadata(nft_mint: Pubkey) -> tuple[Pubkey, int]:
    """Metaplex metadata of a mint: seeds ``["metadata", metaplex program, mint]``."""
    return Pubkey.find_program_address(
        [b"metadata", bytes(METAPLEX_METADATA_PROGRAM), bytes(nft_mint)], METAPLEX_METADATA_PROGRAM
    )


def associated_token(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The associated token account of ``owner`` for ``mint``."""
    return Pubkey.find_program_address(
        [bytes(owner), bytes(TOKEN_PROGRAM), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM
    )[0]


def idl_address(program: Pubkey) -> Pubkey:
    """Where Anchor clients fetch a program's IDL: ``create_with_seed(base, "anchor:idl", program)``."""
    base, _ = Pubkey.find_program_address([], program)
    return Pubkey.create_with_seed(base, "anchor:idl", program)
