"""Client-side instructions of the jobs program's main path: open, list, work, finish.

Thin wrappers over :data:`~nosana_node.chain.instructions.INSTRUCTIONS` that fill the fixed
accounts (programs, sysvars, rewards) so that callers pass only what varies:

    ix = list_job(MAINNET, market, vault, client, client_nos, job=job, run=run, ipfs_job=digest)
"""

from __future__ import annotations

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from nosana_node.chain import pda
from nosana_node.chain.addresses import OPEN_ACCESS_KEY, RENT_SYSVAR, SYSTEM_PROGRAM, TOKEN_PROGRAM, Network
from nosana_node.chain.instructions import INSTRUCTIONS


def rewards_accounts(network: Network) -> tuple[Pubkey, Pubkey]:
    """The rewards reflection and vault accounts passed to ``list`` (the program does not read them)."""
    reflection, _ = Pubkey.find_program_address([b"reflection"], network.rewards_program)
    vault, _ = Pubkey.find_program_address([bytes(network.nos_mint)], network.rewards_program)
    return reflection, vault


def list_job(
    network: Network,
    market: Pubkey,
    vault: Pubkey,
    client: Pubkey,
    client_nos: Pubkey,
    *,
    job: Pubkey,
    run: Pubkey,
    ipfs_job: bytes,
    timeout: int = 3600,
    program_id: Pubkey | None = None,
) -> Instruction:
    """``list``: post a job (signers: ``client``, ``job``, ``run``)."""
    reflection, rewards_vault = rewards_accounts(network)
    accounts = {
        "job": job,
        "market": market,
        "run": run,
        "user": client_nos,
        "vault": vault,
        "payer": client,
        "rewards_reflection": reflection,
        "rewards_vault": rewards_vault,
        "authority": client,
        "rewards_program": network.rewards_program,
        "token_program": TOKEN_PROGRAM,
        "system_program": SYSTEM_PROGRAM,
    }
    return INSTRUCTIONS["list"].build(
        program_id or network.jobs_program, accounts, ipfs_job=ipfs_job, timeout=timeout
    )


def work(
    network: Network,
    market: Pubkey,
    node: Pubkey,
    stake: Pubkey,
    *,
    run: Pubkey,
    nft: Pubkey | None = None,
    metadata: Pubkey | None = None,
    program_id: Pubkey | None = None,
) -> Instruction:
    """``work``: take the next job of ``market`` or wait in its queue (signers: ``node``, ``run``).

    ``nft`` (a token account of the node; default: its NOS account) and ``metadata`` matter
    only on access-key markets.
    """
    accounts = {
        "run": run,
        "market": market,
        "payer": node,
        "stake": stake,
        "nft": nft or pda.associated_token(node, network.nos_mint),
        "metadata": metadata or node,
        "authority": node,
        "system_program": SYSTEM_PROGRAM,
    }
    return INSTRUCTIONS["work"].build(program_id or network.jobs_program, accounts)


def finish(
    network: Network,
    *,
    job: Pubkey,
    run: Pubkey,
    market: Pubkey,
    vault: Pubkey,
    deposit: Pubkey,
    node: Pubkey,
    node_nos: Pubkey,
    payer_run: Pubkey,
    payer_job: Pubkey,
    ipfs_result: bytes,
    program_id: Pubkey | None = None,
) -> Instruction:
    """``finish``: post the result of a running job (signer: ``node``)."""
    accounts = {
        "job": job,
        "run": run,
        "market": market,
        "vault": vault,
        "deposit": deposit,
        "user": node_nos,
        "payer_run": payer_run,
        "payer_job": payer_job,
        "authority": node,
        "token_program": TOKEN_PROGRAM,
    }
    return INSTRUCTIONS["finish"].build(program_id or network.jobs_program, accounts, ipfs_result=ipfs_result)


def open_market(
    network: Network,
    authority: Pubkey,
    market: Pubkey,
    *,
    job_price: int = 0,
    job_timeout: int = 3600,
    job_expiration: int = 86400,
    job_type: int = 0,
    node_xnos_minimum: int = 0,
    access_key: Pubkey = OPEN_ACCESS_KEY,
    program_id: Pubkey | None = None,
) -> tuple[Instruction, Pubkey]:
    """``open``: a new market (signers: ``authority``, ``market``); returns it and the market's vault."""
    program = program_id or network.jobs_program
    vault, _ = pda.market_vault(market, network.nos_mint, program)
    accounts = {
        "mint": network.nos_mint,
        "market": market,
        "vault": vault,
        "authority": authority,
        "access_key": access_key,
        "rent": RENT_SYSVAR,
        "system_program": SYSTEM_PROGRAM,
        "token_program": TOKEN_PROGRAM,
    }
    ix = INSTRUCTIONS["open"].build(
        program,
        accounts,
        job_expiration=job_expiration,
        job_price=job_price,
        job_timeout=job_timeout,
        job_type=job_type,
        node_xnos_minimum=node_xnos_minimum,
    )
    return ix, vault
