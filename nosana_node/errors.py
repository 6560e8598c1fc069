"""The project's exception hierarchy.

Every error a user can cause or meet derives from :class:`NosanaError` and carries a one-line
message, the process exit code the CLI uses for it and, when it fails an op, the kind of failure
recorded with it (``reason``, a value of ``nosana_node.flow.results.Reason``). Anything else
reaching the CLI is a bug.
"""

from __future__ import annotations


class NosanaError(Exception):
    """Base of all expected errors: one-line message, exit code 1."""

    exit_code: int = 1
    reason: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UserInputError(NosanaError):
    """Bad input from the user (file, schema, flag): exit code 2, nothing ran."""

    exit_code = 2


class ConfigError(UserInputError):
    """The configuration (config.edn, environment, flags) is invalid."""


class SecretError(NosanaError):
    """A secret could not be resolved; the message names the reference, never a value."""

    reason = "secret"


class DockerUnavailableError(NosanaError):
    """The Docker engine cannot be reached (a fault of the node: an op it ends is resumable)."""

    reason = "engine-unreachable"


class ChainError(NosanaError):
    """A transaction or query against the chain failed."""
