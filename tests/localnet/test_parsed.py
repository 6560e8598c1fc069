"""jsonParsed instructions: what Solana's RPC parses, built by the SPL and solders builders."""

from __future__ import annotations

from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    CloseAccountParams,
    MintToParams,
    TransferCheckedParams,
    close_account,
    mint_to,
    transfer_checked,
)

from nosana_node.localnet.parsed import parse_instruction


def _parsed(ix) -> dict:
    return parse_instruction(ix.program_id, bytes(ix.data), [str(a.pubkey) for a in ix.accounts], None)


def test_token_and_system_instructions_parse_as_solana_parses_them() -> None:
    a, b, c, d = (Pubkey.new_unique() for _ in range(4))
    minted = _parsed(mint_to(MintToParams(TOKEN_PROGRAM_ID, a, b, c, 42)))
    assert minted["parsed"] == {
        "info": {"mint": str(a), "account": str(b), "amount": "42", "mintAuthority": str(c)},
        "type": "mintTo",
    }
    closed = _parsed(close_account(CloseAccountParams(TOKEN_PROGRAM_ID, a, b, c)))
    assert closed["parsed"]["type"] == "closeAccount" and closed["parsed"]["info"]["owner"] == str(c)
    checked = _parsed(
        transfer_checked(TransferCheckedParams(TOKEN_PROGRAM_ID, a, b, c, d, 1_500_000, 6, signers=[]))
    )
    assert checked["parsed"]["type"] == "transferChecked"
    assert checked["parsed"]["info"]["tokenAmount"]["uiAmountString"] == "1.5"
    assert checked["parsed"]["info"]["authority"] == str(d) and checked["program"] == "spl-token"
    params = CreateAccountParams(
        from_pubkey=a, to_pubkey=b, lamports=10**9, space=165, owner=TOKEN_PROGRAM_ID
    )
    made = _parsed(create_account(params))
    assert made["parsed"] == {
        "info": {"source": str(a), "newAccount": str(b), "lamports": 10**9, "space": 165,
                 "owner": str(TOKEN_PROGRAM_ID)},
        "type": "createAccount",
    }  # fmt: skip


def test_what_does_not_parse_is_partially_decoded() -> None:
    program, a = Pubkey.new_unique(), Pubkey.new_unique()
    other = parse_instruction(program, b"\x01\x02", [str(a)], 2)
    assert other == {"accounts": [str(a)], "data": "5T", "programId": str(program), "stackHeight": 2}
    truncated = parse_instruction(TOKEN_PROGRAM_ID, b"\x03\x01", [str(a)], None)  # a transfer cut short
    assert "parsed" not in truncated and truncated["programId"] == str(TOKEN_PROGRAM_ID)
