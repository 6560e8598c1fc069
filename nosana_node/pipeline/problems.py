"""Problems found in a pipeline file, each one line: ``file:line:col: key.path: message``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nosana_node.errors import UserInputError

if TYPE_CHECKING:
    from nosana_node.pipeline.loader import Mark


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, mark, key path) and what."""

    file: str
    mark: Mark | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.mark.line}:{self.mark.column}" if self.mark else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def sort_key(self) -> tuple[int, int, str]:
        """Order of appearance in the file."""
        return (self.mark.line, self.mark.column, self.path) if self.mark else (0, 0, self.path)


class ProblemList(UserInputError):
    """One or more problems; the message has one line per problem (exit code 2)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def lines(self) -> list[str]:
        """One line per problem."""
        return [str(p) for p in self.problems]


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
