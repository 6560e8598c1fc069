"""Anchor IDLs of the Nosana programs that do not run on the local market: staking, rewards,
pools and nodes.

Clients (the official TypeScript SDK among them) fetch these IDLs from the chain before any
stake, reward or node call, and decode the programs' accounts with them; genesis stores them
where Anchor looks (:func:`nosana_node.chain.pda.idl_address`). The interfaces are the
programs' public ones (instruction names, accounts and their flags, arguments, account
layouts) in the pre-0.30 Anchor format that the jobs program's IDL uses too. The programs
themselves are not loaded: a transaction to them fails as to any missing program.
"""

from __future__ import annotations

from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.addresses import MAINNET

POOLS_PROGRAM = Pubkey.from_string("nosPdZrfDzND1LAR28FLMDEATUPK53K8xbRBXAirevD")
_KEY = "publicKey"


def _accounts(spec: str) -> list[dict[str, Any]]:
    """``"user:W authority:WS rent"`` -> Anchor account entries (W writable, S signer)."""
    found = []
    for item in spec.split():
        name, _, flags = item.partition(":")
        found.append({"name": name, "isMut": "W" in flags, "isSigner": "S" in flags})
    return found


def _ix(name: str, accounts: str, *args: tuple[str, Any]) -> dict[str, Any]:
    return {"name": name, "accounts": _accounts(accounts), "args": [{"name": n, "type": t} for n, t in args]}


def _struct(name: str, *fields: tuple[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": {"kind": "struct", "fields": [{"name": n, "type": t} for n, t in fields]}}


def _enum(name: str, variants: str) -> dict[str, Any]:
    return {"name": name, "type": {"kind": "enum", "variants": [{"name": v} for v in variants.split()]}}


def _errors(start: int, *items: str) -> list[dict[str, Any]]:
    """``"Name: message"`` items -> Anchor errors numbered from ``start``."""
    found = []
    for code, item in enumerate(items):
        name, _, msg = item.partition(": ")
        found.append({"code": start + code, "name": name, "msg": msg})
    return found


_NODE_SPECS = (
    ("architectureType", "u8"), ("countryCode", "u16"), ("cpu", "u16"), ("gpu", "u16"), ("memory", "u16"),
    ("iops", "u16"), ("storage", "u16"), ("endpoint", "string"), ("icon", "string"), ("version", "string"),
)  # fmt: skip

_COUNTRIES = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT "
    "BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH "
    "ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT "
    "HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS "
    "LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI "
    "NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG "
    "SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG "
    "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW Unknown"
)

STAKING_IDL: dict[str, Any] = {
    "version": "0.1.0",
    "name": "nosana_staking",
    "instructions": [
        _ix("init", "settings:W authority:WS systemProgram rent"),
        _ix(
            "stake",
            "mint user:W vault:W stake:W authority:WS systemProgram tokenProgram rent",
            ("amount", "u64"),
            ("duration", "u128"),
        ),
        _ix("unstake", "stake:W reward authority:S"),
        _ix("restake", "vault:W stake:W authority:S"),
        _ix("topup", "user:W vault:W stake:W authority:S tokenProgram", ("amount", "u64")),
        _ix("extend", "stake:W authority:S", ("duration", "u64")),
        _ix("close", "user:W stake:W vault:W authority:WS tokenProgram"),
        _ix("withdraw", "user:W vault:W stake:W authority:WS tokenProgram"),
        _ix("slash", "vault:W stake:W tokenAccount:W settings authority:S tokenProgram", ("amount", "u64")),
        _ix("updateSettings", "newAuthority tokenAccount settings:W authority:S"),
    ],
    "accounts": [
        _struct("SettingsAccount", ("authority", _KEY), ("tokenAccount", _KEY)),
        _struct(
            "StakeAccount",
            ("amount", "u64"),
            ("authority", _KEY),
            ("duration", "u64"),
            ("timeUnstake", "i64"),
            ("vault", _KEY),
            ("vaultBump", "u8"),
            ("xnos", "u128"),
        ),
    ],
    "errors": _errors(
        6000,
        "AmountNotEnough: This amount is not enough.",
        "AlreadyInitialized: This stake is already running.",
        "AlreadyClaimed: This stake is already claimed.",
        "AlreadyStaked: This stake is already staked.",
        "AlreadyUnstaked: This stake is already unstaked.",
        "NotUnstaked: This stake is not yet unstaked.",
        "Locked: This stake is still locked.",
        "DurationTooShort: This stake duration is not long enough.",
        "DurationTooLong: This stake duration is too long.",
        "DoesNotExist: This stake account does not exist.",
        "Decreased: This stake is not allowed to decrease.",
        "HasReward: This stake still has a reward account.",
        "InvalidStakeAccount: This stake does not belong to the authority.",
    ),
}

REWARDS_IDL: dict[str, Any] = {
    "version": "0.1.0",
    "name": "nosana_rewards",
    "instructions": [
        _ix("init", "mint reflection:W vault:W authority:WS systemProgram tokenProgram rent"),
        _ix("enter", "reflection:W stake reward:W authority:WS systemProgram"),
        _ix("addFee", "user:W reflection:W vault:W authority:S tokenProgram", ("amount", "u64")),
        _ix("claim", "user:W vault:W reflection:W reward:W stake authority:WS tokenProgram"),
        _ix("sync", "reward:W stake reflection:W"),
        _ix("close", "reflection:W reward:W authority:WS"),
    ],
    "accounts": [
        _struct(
            "ReflectionAccount",
            ("rate", "u128"),
            ("totalReflection", "u128"),
            ("totalXnos", "u128"),
            ("vault", _KEY),
            ("vaultBump", "u8"),
        ),
        _struct(
            "RewardAccount", ("authority", _KEY), ("bump", "u8"), ("reflection", "u128"), ("xnos", "u128")
        ),
    ],
}

POOLS_IDL: dict[str, Any] = {
    "version": "0.1.0",
    "name": "nosana_pools",
    "instructions": [
        _ix(
            "open",
            "pool:WS vault:W beneficiary authority:WS mint systemProgram tokenProgram rent",
            ("emission", "u64"),
            ("startTime", "i64"),
            ("claimType", "u8"),
            ("closeable", "bool"),
        ),
        _ix(
            "claimFee",
            "vault:W rewardsReflection:W rewardsVault:W pool:W authority:WS tokenProgram rewardsProgram",
        ),
        _ix("claimTransfer", "vault:W beneficiary:W pool:W authority:WS tokenProgram"),
        _ix("close", "vault:W user:W pool:W authority:WS tokenProgram"),
    ],
    "accounts": [
        _struct(
            "PoolAccount",
            ("authority", _KEY),
            ("beneficiary", _KEY),
            ("claimType", "u8"),
            ("claimedTokens", "u64"),
            ("closeable", "bool"),
            ("emission", "u64"),
            ("startTime", "i64"),
            ("vault", _KEY),
            ("vaultBump", "u8"),
        ),
    ],
    "types": [_enum("ClaimType", "Transfer AddFee Unknown")],
}

NODES_IDL: dict[str, Any] = {
    "version": "0.1.0",
    "name": "nosana_nodes",
    "instructions": [
        _ix("register", "node:W payer:WS authority:S systemProgram", *_NODE_SPECS),
        _ix("audit", "node:W authority:S", ("audited", "bool")),
        _ix("update", "node:W authority:S", *_NODE_SPECS),
    ],
    "accounts": [
        _struct(
            "NodeAccount",
            ("authority", _KEY),
            ("audited", "bool"),
            ("architecture", "u8"),
            ("country", "u16"),
            ("cpu", "u16"),
            ("gpu", "u16"),
            ("memory", "u16"),
            ("iops", "u16"),
            ("storage", "u16"),
            ("endpoint", "string"),
            ("icon", "string"),
            ("version", "string"),
        ),
    ],
    "types": [
        _enum(
            "ArchitectureType",
            "Amd64 Arm32v6 Arm32v7 Arm64v8 WindowsAmd64 Ppc64le S390x Mips64le Riscv64 I386 Unknown",
        ),
        _enum("CountryCode", _COUNTRIES),
    ],
    "errors": _errors(
        6000,
        "ArchitectureUnknown: This architecture does not exist.",
        "CountryCodeUnknown: This country does not exist.",
        "CpuInvalid: CPU value must be greater than zero",
        "GpuInvalid: GPU value must be greater than zero",
        "MemoryInvalid: Memory value must be greater than zero",
        "IopsInvalid: IOPS value must be greater than zero",
        "StorageInvalid: Storage value must be greater than zero",
    ),
}


def program_idls(
    staking: Pubkey = MAINNET.staking_program,
    rewards: Pubkey = MAINNET.rewards_program,
    pools: Pubkey = POOLS_PROGRAM,
    nodes: Pubkey = MAINNET.nodes_program,
) -> dict[Pubkey, dict[str, Any]]:
    """The IDL of each program, by program id (with ``metadata.address`` set)."""
    found = {}
    for program, idl in (
        (staking, STAKING_IDL),
        (rewards, REWARDS_IDL),
        (pools, POOLS_IDL),
        (nodes, NODES_IDL),
    ):
        found[program] = {**idl, "metadata": {"address": str(program)}}
    return found
