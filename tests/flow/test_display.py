"""What the live display shows: control sequences made inert, lines split in linear time, cut.

The end-to-end cases (a real job, a real pseudo-terminal) are in tests/docker/test_terminal.py.
"""

from __future__ import annotations

import io
import random

import pytest

from nosana_node.cli.display import LineSplitter, PlainDisplay, RichDisplay, cut_marker
from nosana_node.flow.model import Flow, Op
from nosana_node.terminal import neutralise

HOSTILE = "a\x1b[2Jb\x1b]52;c;SGk=\x07c\x1b[31mred\x1b[0m\rd\x9b1;1He\u202ef\x7fg\x1bPq\x1b\\\th"


def test_names_and_messages_escape_every_control() -> None:
    shown = neutralise(HOSTILE)
    assert shown == (
        r"a\x1b[2Jb\x1b]52;c;SGk=\x07c\x1b[31mred\x1b[0m\x0dd\x9b1;1He\u202ef\x7fg\x1bPq\x1b" + "\\\th"
    )
    assert neutralise("plain text, ünïcode ✔\tand tabs\n") == "plain text, ünïcode ✔\tand tabs\n"


def test_terminal_keeps_sgr_only_and_plain_drops_it() -> None:
    kept = neutralise(HOSTILE, "keep")
    assert "\x1b[31mred\x1b[0m" in kept and kept.count("\x1b") == 2
    assert r"\x1b[2J" in kept and r"\x1b]52;c;SGk=\x07" in kept and r"\x9b1;1H" in kept
    stripped = neutralise(HOSTILE, "strip")
    assert "\x1b" not in stripped and "cred" in stripped and r"\x1b]52;" in stripped
    # an over-long parameter list is not a colour: escaped
    assert neutralise("\x1b[" + "1;" * 40 + "m", "keep").startswith(r"\x1b[1;1;")


def test_splitter_gives_the_same_lines_however_the_text_is_chunked() -> None:
    rng = random.Random(3)
    text = "".join(rng.choice(["ab", "c\n", "\n", "xyz" * 5, "é"]) for _ in range(3000))
    whole = LineSplitter(cap=None)
    expected = whole.feed("k", text) + [line for _, line in whole.flush()]
    pieces, pos = [], 0
    while pos < len(text):
        step = rng.randint(1, 40)
        pieces.append(text[pos : pos + step])
        pos += step
    split = LineSplitter(cap=None)
    got = [line for piece in pieces for line in split.feed("k", piece)] + [rest for _, rest in split.flush()]
    assert got == expected == text.split("\n")[: len(expected)]


def test_a_long_line_is_cut_once_and_the_next_line_is_whole() -> None:
    split = LineSplitter(cap=10)
    assert split.feed("k", "0123") == []
    assert split.feed("k", "456789AB") == ["0123456789" + cut_marker(10)]
    assert split.feed("k", "C" * 1000) == []  # the rest of the cut line: dropped
    assert split.feed("k", "DE\nnext\nlast") == ["next"]
    assert split.feed("j", "other key\n") == ["other key"]
    assert split.flush(lambda key: key == "k") == [("k", "last")]
    assert split.feed("k", "x" * 25 + "\n") == ["x" * 10 + cut_marker(10)]  # ends in the same chunk
    assert split.feed("k", "y\n") == ["y"]


def describe(op: Op) -> str:
    return f"{op.id} ({op.args['image']})"


def _flow(name: str) -> tuple[Flow, Op]:
    op = Op(id=name, type="docker/run", args={"image": "img\x1b]0;t\x07"})
    return Flow(id="f1", name=name, ops=[op]), op


def test_plain_display_writes_no_control_character() -> None:
    out = io.StringIO()
    flow, op = _flow("job\x1b[2J")
    display = PlainDisplay(out, describe)
    display.flow_started(flow, resumed=False)
    display.op_started(flow, op)
    display.op_output(op, "stdout", HOSTILE + "\nsecond\r\n")
    display.op_output(op, "stderr", "unfinished \x1b]0;x")
    display.op_finished(flow, op)
    display.flow_finished(flow)
    display.message("note \x07")
    text = out.getvalue()
    assert not any(ch in text for ch in "\x1b\x07\r\x9b\u202e\x7f"), text
    assert r"job\x1b[2J | second" + "\n" in text  # CRLF: the carriage return is dropped
    assert r"job\x1b[2J ! unfinished \x1b]0;x" in text
    assert r"img\x1b]0;t\x07" in text and r"· note \x07" in text


class Terminal(io.StringIO):
    """A text stream that says it is a terminal (what rich checks)."""

    def isatty(self) -> bool:
        return True


def test_rich_display_renders_colours_and_escapes_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Terminal()
    flow, op = _flow("job\x1b]0;t\x07")
    display = RichDisplay(out, describe)
    display.flow_started(flow, resumed=False)
    display.op_started(flow, op)
    display.op_output(op, "stdout", "\x1b[31mred\nstill red\x1b[0m plain\n" + HOSTILE + "\n")
    display.op_finished(flow, op)
    display.flow_finished(flow)
    text = out.getvalue()
    assert "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text and "\u202e" not in text
    assert "\x1b[31mred" in text and "\x1b[31mstill red" in text  # the colour goes on to the next line
    assert r"job\x1b]0;t\x07" in text and r"\x1b]52;c;SGk=\x07" in text
