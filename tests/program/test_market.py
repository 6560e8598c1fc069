"""open, update, close, close_admin against the real SVM."""

from __future__ import annotations

import struct

from solders.pubkey import Pubkey

from nosana_node.chain import pda
from nosana_node.chain.accounts import MARKET_SIZE, JobType, MarketAccount, QueueType
from nosana_node.chain.addresses import MAINNET, SYSTEM_PROGRAM, TOKEN_PROGRAM
from nosana_node.chain.errors import CommonError
from nosana_node.localnet.genesis import MarketSettings

from .conftest import Local, builtin, custom

PRICED = MarketSettings(
    job_price=50, job_timeout=900, job_expiration=7200, job_type=JobType.GPU, node_xnos_minimum=7
)


def test_open_writes_market_bytes_at_spec_offsets(local: Local) -> None:
    access_key = Pubkey.new_unique()
    settings = MarketSettings(
        job_price=123, job_timeout=456, job_expiration=789, job_type=JobType.LARGE,
        node_xnos_minimum=(1 << 70) + 3, access_key=access_key,
    )  # fmt: skip
    authority = local.clients[0].keypair
    tx = local.tx_open(settings, authority)
    local.send(tx).expect_ok()
    market = tx.keys["market"].pubkey()
    account = local.svm.get_account(market)
    assert account.owner == local.program_id and len(account.data) == MARKET_SIZE == 10224
    data = bytes(account.data)
    vault, bump = pda.market_vault(market, MAINNET.nos_mint, local.program_id)
    assert data[:8] == MarketAccount.DISCRIMINATOR
    assert data[8:40] == bytes(authority.pubkey())
    assert struct.unpack_from("<qQq", data, 40) == (789, 123, 456)
    assert data[64] == JobType.LARGE
    assert data[65:97] == bytes(vault) and data[97] == bump
    assert data[98:130] == bytes(access_key)
    assert int.from_bytes(data[130:146], "little") == (1 << 70) + 3
    assert data[146] == QueueType.EMPTY and data[147:151] == bytes(4)
    assert data[151:] == bytes(MARKET_SIZE - 151)


def test_open_creates_the_vault_owned_by_itself(local: Local) -> None:
    tx = local.tx_open(PRICED, local.clients[0].keypair)
    local.send(tx).expect_ok()
    vault = tx.accounts["vault"]
    account = local.svm.get_account(vault)
    assert account.owner == TOKEN_PROGRAM and len(account.data) == 165
    data = bytes(account.data)
    assert data[0:32] == bytes(MAINNET.nos_mint)  # mint
    assert data[32:64] == bytes(vault)  # token owner: the vault PDA itself
    assert struct.unpack_from("<Q", data, 64)[0] == 0 and data[108] == 1  # empty, initialized
    assert account.lamports == local.svm.minimum_balance_for_rent_exemption(165)


def test_open_stores_unknown_job_types_as_unknown(local: Local) -> None:
    tx = local.tx_open(MarketSettings(job_price=0, job_type=9), local.admin)
    local.send(tx).expect_ok()
    assert local.market(tx.keys["market"].pubkey()).job_type == JobType.UNKNOWN


def test_open_rejects_another_mint(local: Local) -> None:
    other_mint = Pubkey.new_unique()
    tx = local.tx_open(PRICED, local.admin, mint=other_mint)
    tx.accounts["vault"], _ = pda.market_vault(tx.keys["market"].pubkey(), other_mint, local.program_id)
    assert local.send(tx).error == custom(CommonError.InvalidMint)


def test_open_rejects_a_vault_that_is_not_the_pda(local: Local) -> None:
    tx = local.tx_open(PRICED, local.admin, vault=Pubkey.new_unique())
    assert local.send(tx).error == builtin("InvalidSeeds")


def test_open_checks_programs_and_rent_sysvar(local: Local) -> None:
    tx = local.tx_open(PRICED, local.admin, token_program=Pubkey.new_unique())
    assert local.send(tx).error == builtin("IncorrectProgramId")
    tx = local.tx_open(PRICED, local.admin, system_program=TOKEN_PROGRAM)
    assert local.send(tx).error == builtin("IncorrectProgramId")
    tx = local.tx_open(PRICED, local.admin, rent=Pubkey.new_unique())
    assert local.send(tx).error == builtin("InvalidArgument")


def test_open_refuses_an_existing_market(local: Local) -> None:
    tx = local.tx_open(PRICED, local.admin)
    local.send(tx).expect_ok()
    again = local.tx_open(PRICED, local.admin)
    again.keys, again.signers = tx.keys, [local.admin, tx.keys["market"]]
    again.accounts.update(market=tx.accounts["market"], vault=tx.accounts["vault"])
    local.svm.expire_blockhash()
    assert local.send(again).error == builtin("AccountAlreadyInitialized")


def test_open_tops_up_a_prefunded_vault_address(local: Local) -> None:
    """Like Anchor's init: lamports sent to the vault PDA beforehand do not block the market."""
    tx = local.tx_open(PRICED, local.admin)
    local.svm.airdrop(tx.accounts["vault"], 5_000)
    local.send(tx).expect_ok()
    assert local.lamports(tx.accounts["vault"]) == local.svm.minimum_balance_for_rent_exemption(165)


def test_update_overwrites_settings_and_access_key(local: Local) -> None:
    key = Pubkey.new_unique()
    tx = local.tx_update(
        local.priced, local.admin, access_key=key, job_expiration=1, job_price=2, job_type=7,
        node_stake_minimum=(1 << 100), job_timeout=3,
    )  # fmt: skip
    local.send(tx).expect_ok()
    m = local.market(local.priced)
    assert (m.job_expiration, m.job_price, m.job_timeout, m.node_xnos_minimum) == (1, 2, 3, 1 << 100)
    assert m.job_type == 7  # update stores the byte as given
    assert m.node_access_key == key and m.authority == local.admin.pubkey()


def test_update_requires_the_market_authority(local: Local) -> None:
    tx = local.tx_update(local.priced, local.clients[0].keypair, job_price=1)
    assert local.send(tx).error == custom(CommonError.Unauthorized)


def test_update_rejects_accounts_that_are_not_markets(local: Local) -> None:
    job = local.list_job(local.default, local.clients[0]).keys["job"].pubkey()
    tx = local.tx_update(local.priced, local.admin)
    tx.accounts["market"] = job
    assert local.send(tx).error == builtin("InvalidAccountData")
    tx = local.tx_update(local.priced, local.admin)
    tx.accounts["market"] = local.clients[0].nos_account
    assert local.send(tx).error == builtin("InvalidAccountOwner")


def test_close_drains_the_vault_and_closes_both_accounts(local: Local) -> None:
    owner, client = local.clients[1], local.clients[0]
    market = local.open(PRICED, owner.keypair)
    local.list_job(market, client, timeout=100)  # 5_000 deposited
    assert local.nos(market.vault) == 5_000
    sink = local.token_account(owner.pubkey, 0)
    before = local.lamports(owner.pubkey)
    rent = local.lamports(market.address) + local.lamports(market.vault)
    outcome = local.send(local.tx_close(market, owner.keypair, sink)).expect_ok()
    assert local.nos(sink) == 5_000
    assert not local.exists(market.vault) and not local.exists(market.address)
    assert local.lamports(owner.pubkey) == before + rent - 5_000  # rent back, minus the fee
    assert outcome.ok


def test_close_requires_the_market_authority_and_its_vault(local: Local) -> None:
    owner = local.clients[1]
    market = local.open(PRICED, owner.keypair)
    sink = local.token_account(owner.pubkey, 0)
    stranger = local.clients[0].keypair
    assert local.send(local.tx_close(market, stranger, sink)).error == custom(CommonError.Unauthorized)
    other = local.open(PRICED, owner.keypair)
    tx = local.tx_close(market, owner.keypair, sink, vault=other.vault)
    assert local.send(tx).error == custom(CommonError.InvalidVault)
    tx = local.tx_close(market, owner.keypair, sink, token_program=SYSTEM_PROGRAM)
    assert local.send(tx).error == builtin("IncorrectProgramId")


def test_close_admin_is_for_the_market_admin_only(local: Local) -> None:
    owner = local.clients[1]
    market = local.open(PRICED, owner.keypair)
    sink = local.token_account(owner.pubkey, 0)
    tx = local.tx_close(market, owner.keypair, sink, admin=True)
    assert local.send(tx).error == custom(CommonError.Unauthorized)
    local.send(local.tx_close(market, local.admin, sink, admin=True)).expect_ok()
    assert not local.exists(market.address)


def test_a_closed_market_takes_no_jobs(local: Local) -> None:
    owner = local.clients[1]
    market = local.open(MarketSettings(job_price=0), owner.keypair)
    local.send(local.tx_close(market, owner.keypair, local.token_account(owner.pubkey, 0))).expect_ok()
    tx = local.tx_list(market, local.clients[0])
    assert local.send(tx).error == builtin("InvalidAccountOwner")


def test_open_needs_the_nos_mint_account(local: Local) -> None:
    mint = local.svm.get_account(MAINNET.nos_mint)
    local.svm.set_account(
        MAINNET.nos_mint, type(mint)(mint.lamports, bytes(mint.data), SYSTEM_PROGRAM, False, 0)
    )
    assert local.send(local.tx_open(PRICED, local.admin)).error == builtin("InvalidAccountOwner")


def test_close_needs_a_writable_authority_for_the_rent(local: Local) -> None:
    owner = local.clients[1]
    market = local.open(PRICED, owner.keypair)
    tx = local.tx_close(market, owner.keypair, local.token_account(owner.pubkey, 0))
    fee_payer = local.clients[0].keypair  # the authority then signs read-only
    assert local.send(tx, payer=fee_payer).error == builtin("Immutable")
