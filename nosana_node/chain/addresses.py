"""Well-known addresses of the Nosana programs on each network (jobs-program spec, "Addresses")."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
RENT_SYSVAR = Pubkey.from_string("SysvarRent111111111111111111111111111111111")
METAPLEX_METADATA_PROGRAM = Pubkey.from_string("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s")

#: "Open" in an access-key field: the system program id.
OPEN_ACCESS_KEY = SYSTEM_PROGRAM


@dataclass(frozen=True)
class Network:
    """The addresses the node needs on one network."""

    name: str
    jobs_program: Pubkey
    nos_mint: Pubkey
    staking_program: Pubkey
    rewards_program: Pubkey
    nodes_program: Pubkey
    market_admin: Pubkey
    node_nft_collection: Pubkey


MAINNET = Network(
    name="mainnet",
    jobs_program=Pubkey.from_string("nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM"),
    nos_mint=Pubkey.from_string("nosXBVoaCTtYdLvKY6Csb4AC8JCdQKKAaWYtx2ZMoo7"),
    staking_program=Pubkey.from_string("nosScmHY2uR24Zh751PmGj9ww9QRNHewh9H59AfrTJE"),
    rewards_program=Pubkey.from_string("nosRB8DUV67oLNrL45bo2pFLrmsWPiewe2Lk2DRNYCp"),
    nodes_program=Pubkey.from_string("nosNeZR64wiEhQc5j251bsP4WqDabT6hmz4PHyoHLGD"),
    market_admin=Pubkey.from_string("AdmMVMMU3po5BP3bVWsF9GgN6NNEfpfxpTDGTzjgb72S"),
    node_nft_collection=Pubkey.from_string("nftNgYSG5pbwL7kHeJ5NeDrX8c4KrG1CzWhEXT8RMJ3"),
)

DEVNET = Network(
    name="devnet",
    jobs_program=Pubkey.from_string("nosJTmGQxvwXy23vng5UjkTbfv91Bzf9jEuro78dAGR"),
    nos_mint=Pubkey.from_string("devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP"),
    staking_program=MAINNET.staking_program,
    rewards_program=MAINNET.rewards_program,
    nodes_program=MAINNET.nodes_program,
    market_admin=Pubkey.from_string("XXXxddiNnmoD2h2LbQYaL76Swi21MaQbtBbRynAdQL8"),
    node_nft_collection=Pubkey.from_string("CBLH5YsCPhaQ79zDyzqxEMNMVrE5N7J6h4hrtYNahPLU"),
)

NETWORKS: dict[str, Network] = {n.name: n for n in (MAINNET, DEVNET)}

#: Default JSON-RPC endpoint of each network.
RPC_URLS = {
    "mainnet": "https://api.mainnet-beta.solana.com",
    "devnet": "https://api.devnet.solana.com",
    "localnet": "http://127.0.0.1:8899",
}
