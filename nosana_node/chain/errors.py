"""Custom error codes of the jobs program and their names: its own (6000-6018) and the Nosana
errors the original program takes from its shared crate, numbered apart (6100 and up)."""

from __future__ import annotations

from enum import IntEnum


class JobsError(IntEnum):
    InvalidMarketAccount = 6000
    MarketInWrongState = 6001
    NotInMarketQueue = 6002
    InvalidJobAccount = 6003
    JobInWrongState = 6004
    JobNotExpired = 6005
    JobResultNull = 6006
    JobInvalidProject = 6007
    JobTimeoutNotGreater = 6008
    JobInvalidRunAccount = 6009
    JobResultsAlreadySet = 6010
    NodeQueueDoesNotMatch = 6011
    NodeStakeUnauthorized = 6012
    NodeNotEnoughStake = 6013
    NodeAlreadyQueued = 6014
    NodeNftWrongMetadata = 6015
    NodeNftWrongOwner = 6016
    NodeNftInvalidAmount = 6017
    NodeKeyInvalidCollection = 6018


class CommonError(IntEnum):
    Unauthorized = 6100
    InvalidVault = 6101
    InvalidPayer = 6102
    InvalidATA = 6103
    InvalidMint = 6104


def error_name(code: int) -> str:
    """``NotInMarketQueue (6002)`` for a known code, ``custom error 7000`` otherwise."""
    for kind in (JobsError, CommonError):
        try:
            return f"{kind(code).name} ({code})"
        except ValueError:
            continue
    return f"custom error {code}"
