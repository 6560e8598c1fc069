"""Genesis on a plain LiteSVM, the on-chain IDL read by anchorpy, the program's config block."""

from __future__ import annotations

import json
import struct

import pytest
from anchorpy import AccountsCoder, Idl, InstructionCoder, NamedInstruction
from anchorpy import idl as anchorpy_idl
from anchorpy.program.core import _pako_inflate
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from nosana_node.chain import pda
from nosana_node.chain.accounts import JobAccount, MarketAccount, QueueType, RunAccount, StakeAccount
from nosana_node.chain.addresses import DEVNET, MAINNET, OPEN_ACCESS_KEY, TOKEN_PROGRAM
from nosana_node.chain.idl import build_idl, decode_idl_account
from nosana_node.chain.instructions import INSTRUCTIONS
from nosana_node.errors import ChainError, UserInputError
from nosana_node.localnet.genesis import GenesisOptions, apply_genesis
from nosana_node.localnet.program import (
    ProgramConfig,
    committed_program,
    patch_config,
    program_bytes,
    read_config,
)
from nosana_node.localnet.raw_accounts import staked_xnos

from .conftest import Local


def test_genesis_mint_wallets_and_stakes(local: Local) -> None:
    g, options = local.genesis, GenesisOptions()
    mint = local.svm.get_account(MAINNET.nos_mint)
    assert mint.owner == TOKEN_PROGRAM
    data = bytes(mint.data)
    assert data[4:36] == bytes(local.admin.pubkey())  # mint authority
    supply, decimals, initialized = struct.unpack_from("<QBB", data, 36)
    assert decimals == 6 and initialized == 1
    assert supply == options.nos_per_wallet * (len(g.clients) + len(g.nodes)) + options.node_stake * len(
        g.nodes
    )
    for wallet in [*g.clients, *g.nodes]:
        assert wallet.nos_account == pda.associated_token(wallet.pubkey, MAINNET.nos_mint)
        assert local.nos(wallet.nos_account) == options.nos_per_wallet
        assert local.lamports(wallet.pubkey) == options.sol_per_wallet
    for node in g.nodes:
        stake = local.svm.get_account(node.stake)
        assert stake.owner == MAINNET.staking_program
        assert node.stake == pda.stake(node.pubkey, MAINNET.nos_mint, MAINNET.staking_program)[0]
        decoded = StakeAccount.decode(bytes(stake.data))
        assert decoded.authority == node.pubkey and decoded.amount == options.node_stake
        assert decoded.duration == 365 * 86_400 and decoded.time_unstake == 0
        assert decoded.xnos == 4 * options.node_stake  # a one-year stake counts four times
        vault, bump = Pubkey.find_program_address(
            [b"vault", bytes(MAINNET.nos_mint), bytes(node.pubkey)], MAINNET.staking_program
        )
        assert (decoded.vault, decoded.vault_bump) == (vault, bump)
        assert local.nos(vault) == options.node_stake  # the staked NOS sit in the stake's vault
    assert all(c.stake is None for c in g.clients)


def test_genesis_markets_are_opened_on_chain(local: Local) -> None:
    for name, price in (("default", 0), ("priced", GenesisOptions().priced_market.job_price)):
        info = local.genesis.markets[name]
        m = local.market(info)
        assert m.authority == local.admin.pubkey() and m.job_price == price
        assert m.node_access_key == OPEN_ACCESS_KEY and m.queue_type == QueueType.EMPTY
        assert m.vault == info.vault == pda.market_vault(info.address, MAINNET.nos_mint, local.program_id)[0]
        assert local.svm.get_account(info.vault).owner == TOKEN_PROGRAM


def test_genesis_writes_the_idl_account(local: Local) -> None:
    address = pda.idl_address(local.program_id)
    assert local.genesis.idl_address == address
    account = local.svm.get_account(address)
    assert account.owner == local.program_id
    authority, idl = decode_idl_account(bytes(account.data))
    assert authority == local.admin.pubkey()
    assert idl == build_idl(local.program_id)
    assert idl["metadata"]["address"] == str(local.program_id)


def test_genesis_writes_the_idls_of_staking_rewards_pools_and_nodes(local: Local) -> None:
    """The official SDK fetches these before any stake or node call; anchorpy reads them the
    same way, and decodes a node's stake with the staking program's IDL."""
    names = {}
    for program, address in local.genesis.program_idls.items():
        assert address == pda.idl_address(program)
        account = local.svm.get_account(address)
        assert account.owner == program
        authority, raw = decode_idl_account(bytes(account.data))
        assert authority == local.admin.pubkey() and raw["metadata"]["address"] == str(program)
        names[Idl.from_json(json.dumps(raw)).name] = raw
    assert set(names) == {"nosana_staking", "nosana_rewards", "nosana_pools", "nosana_nodes"}
    assert MAINNET.staking_program in local.genesis.program_idls
    staking = AccountsCoder(Idl.from_json(json.dumps(names["nosana_staking"])))
    node = local.nodes[0]
    stake = staking.decode(local.data(node.stake))
    ours = StakeAccount.decode(local.data(node.stake))
    assert (stake.amount, stake.authority, stake.duration, stake.xnos, stake.vault) == (
        ours.amount, ours.authority, ours.duration, ours.xnos, ours.vault,
    )  # fmt: skip
    assert [ix["name"] for ix in names["nosana_rewards"]["instructions"]] == [
        "init", "enter", "addFee", "claim", "sync", "close",
    ]  # fmt: skip


def test_xnos_follows_the_staking_programs_formula() -> None:
    day, nos = 86_400, 10**6
    assert staked_xnos(1_000 * nos, 365 * day) == 4_000 * nos
    assert staked_xnos(1_000 * nos, 14 * day) == 1_000 * nos + 1_000 * nos * 14 * day // 10_512_000
    six_months = 365 * day // 2
    assert staked_xnos(1_000 * nos, six_months) == 2_500 * nos  # +0.25 per month
    assert staked_xnos(1_000 * nos, 365 * day, time_unstake=1_700_000_000) == 0
    for bad in (13 * day, 366 * day):
        with pytest.raises(ValueError, match=r"14\.\.365 days"):
            staked_xnos(nos, bad)


def test_genesis_for_devnet_with_given_market_keys() -> None:
    svm, admin = LiteSVM(), Keypair()
    svm.add_program(DEVNET.jobs_program, program_bytes("devnet", market_admin=admin.pubkey()))
    market = Keypair()
    g = apply_genesis(
        svm, program_id=DEVNET.jobs_program, admin=admin, nodes=[Keypair()], network=DEVNET,
        markets={"default": market},
    )  # fmt: skip
    assert g.markets["default"].address == market.pubkey() and g.nos_mint == DEVNET.nos_mint
    m = MarketAccount.decode(bytes(svm.get_account(market.pubkey()).data))
    assert m.vault == pda.market_vault(market.pubkey(), DEVNET.nos_mint, DEVNET.jobs_program)[0]
    assert svm.get_account(g.nodes[0].stake).owner == DEVNET.staking_program


def test_genesis_fails_clearly_when_the_program_expects_another_mint() -> None:
    svm, admin = LiteSVM(), Keypair()
    svm.add_program(MAINNET.jobs_program, program_bytes("devnet"))  # devnet mint inside
    with pytest.raises(ChainError, match="genesis transaction failed"):
        apply_genesis(svm, program_id=MAINNET.jobs_program, admin=admin)


# ---- the IDL as Anchor clients read it --------------------------------------------------------------


def test_anchorpy_parses_the_on_chain_idl_and_decodes_accounts_like_our_layouts(local: Local) -> None:
    # the steps of anchorpy's Program.fetch_raw_idl, on the account genesis wrote
    address = anchorpy_idl._idl_address(local.program_id)
    assert address == local.genesis.idl_address
    stored = anchorpy_idl._decode_idl_account(local.data(address)[8:])
    idl = Idl.from_json(_pako_inflate(bytes(stored["data"])).decode())
    assert [ix.name for ix in idl.instructions][:4] == ["open", "update", "close", "closeAdmin"]
    coder = AccountsCoder(idl)
    client, node = local.clients[0], local.nodes[0]
    local.work(local.default, local.nodes[1])  # a queue with one node
    job, run = local.running_job(local.priced, client, node, timeout=321)

    ours = local.market(local.default)
    theirs = coder.decode(local.data(local.default.address))
    assert (theirs.authority, theirs.job_price, theirs.queue_type) == (
        ours.authority,
        ours.job_price,
        ours.queue_type,
    )
    assert list(theirs.queue) == ours.queue and theirs.node_xnos_minimum == ours.node_xnos_minimum
    assert (theirs.vault, theirs.vault_bump, theirs.node_access_key) == (
        ours.vault,
        ours.vault_bump,
        ours.node_access_key,
    )

    j, tj = local.job(job), coder.decode(local.data(job))
    assert JobAccount(
        bytes(tj.ipfs_job), bytes(tj.ipfs_result), tj.market, tj.node, tj.payer, tj.price, tj.project,
        tj.state, tj.time_end, tj.time_start, tj.timeout,
    ) == j  # fmt: skip
    r, tr = local.run(run), coder.decode(local.data(run))
    assert RunAccount(tr.job, tr.node, tr.payer, tr.state, tr.time) == r


def test_anchorpy_encodes_every_instruction_like_our_table() -> None:
    coder = InstructionCoder(Idl.from_json(json.dumps(build_idl())))
    for name, spec in INSTRUCTIONS.items():
        args = {a.name: (bytes(range(32)) if a.type == "bytes32" else 3 + i) for i, a in enumerate(spec.args)}
        theirs = {k: list(v) if isinstance(v, bytes) else v for k, v in args.items()}
        assert coder.build(NamedInstruction(name=name, data=theirs)) == spec.encode_data(**args), name


# ---- the configuration block -------------------------------------------------------------------------


def test_committed_program_carries_mainnet_keys() -> None:
    assert read_config(committed_program()) == ProgramConfig.for_network(MAINNET)


def test_patching_the_config_block_round_trips() -> None:
    admin = Keypair().pubkey()
    so = program_bytes("devnet", market_admin=admin)
    assert read_config(so) == ProgramConfig(admin, DEVNET.nos_mint, DEVNET.staking_program)
    assert len(so) == len(committed_program())
    assert patch_config(so, ProgramConfig.for_network(MAINNET)) == committed_program()


def test_config_errors() -> None:
    with pytest.raises(UserInputError, match="unknown network"):
        program_bytes("moonnet")
    with pytest.raises(ChainError, match="configuration block"):
        read_config(b"\x7fELF not a program")
