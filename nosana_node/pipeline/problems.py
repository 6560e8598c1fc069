"""Problems found in a pipeline file, each one line: ``file:line:col: key.path: message``.

A problem is an error (the file is refused, exit 2) or a warning (the file is accepted: the
original Nosana node ignored what the warning names). ``--strict`` turns warnings into errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from nosana_node.errors import UserInputError


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, mark, key path), what, and whether it is only a warning."""

    file: str
    mark: Mark | None
    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.mark.line}:{self.mark.column}" if self.mark else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    @property
    def label(self) -> str:
        """``warning`` or ``error``: how the CLI prefixes the line."""
        return "warning" if self.warning else "error"

    def as_error(self) -> Problem:
        """The same problem as an error (``--strict``)."""
        return replace(self, warning=False)

    def sort_key(self) -> tuple[int, int, str]:
        """Order of appearance in the file."""
        return (self.mark.line, self.mark.column, self.path) if self.mark else (0, 0, self.path)


def in_order(problems: Iterable[Problem]) -> list[Problem]:
    """``problems`` in file order (a stable sort: equal places keep their order)."""
    return sorted(problems, key=Problem.sort_key)


class ProblemList(UserInputError):
    """The file is refused: one or more errors, and the warnings found with them (exit code 2).

    The message has one line per problem; :attr:`problems` keeps errors and warnings apart.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = in_order(problems)
        #: the warnings found along with the errors
        self.warnings = [p for p in self.problems if p.warning]
        super().__init__("\n".join(f"{p.label}: {p}" if p.warning else str(p) for p in self.problems))

    @property
    def lines(self) -> list[str]:
        """One line per error (warnings are in :attr:`warnings`)."""
        return [str(p) for p in self.problems if not p.warning]


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    match = nearest(word, choices)
    return f" (did you mean {match!r}?)" if match else ""


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to ``word`` (case-insensitive, ``-`` and ``_`` alike), if any is close."""
    options = list(choices)
    folded = {c.lower().replace("-", "_"): c for c in options}
    match = difflib.get_close_matches(word.lower().replace("-", "_"), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None
