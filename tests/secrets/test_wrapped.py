"""Masking of base64 that ``base64`` wrapped over several lines (76 columns; PEM: 64).

For secrets of many lengths (short, just over 57 bytes, several lines), at every byte offset
inside a longer encoded text (as in ``base64("user:" + secret)``), wrapped at 76 and 64 columns
and with CRLF line ends: no character of the encoding that depends on the secret alone survives
on any line, whole-text and streamed masking agree whatever the chunking, unrelated base64 is left
alone, and ordinary lines are not held back.
"""

from __future__ import annotations

import base64
import random
import re

import pytest

from nosana_node.secrets.masking import MASK, Masker
from nosana_node.secrets.wrapped import MIN_WIDTH, hold_from

RNG = random.Random(13)
PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#%^&*()-_=+:;,.<> "


def secret(length: int) -> str:
    return "".join(RNG.choice(PRINTABLE) for _ in range(length)).strip("= ") or "x" * length


def wrap(encoded: str, width: int, end: str = "\n") -> str:
    return end.join(encoded[i : i + width] for i in range(0, len(encoded), width)) + end


def dependent(before: int, size: int) -> range:
    """Positions in the encoding of ``before`` bytes + the secret (``size`` bytes) + more bytes
    whose 6 bits all come from the secret."""
    return range(-(-before * 8 // 6), (before + size) * 8 // 6)


def kept_positions(original: str, masked: str) -> list[int]:
    """Positions (in ``original``) of the characters that ``masked`` still shows."""
    kept, pos = [], 0
    for part in masked.split(MASK):
        found = original.index(part, pos)
        kept.extend(range(found, found + len(part)))
        pos = found + len(part)
    return kept


CASES = [
    (size, before, width, end)
    for size in (4, 20, 57, 58, 61, 100, 333)
    for before in (0, 1, 2, 5)
    for width, end in ((76, "\n"), (64, "\n"), (76, "\r\n"))
]


@pytest.mark.parametrize(("size", "before", "width", "end"), CASES)
def test_no_character_of_a_wrapped_secret_survives(size: int, before: int, width: int, end: str) -> None:
    value = secret(size)
    raw = value.encode()
    masker = Masker([value])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        data = b"u" * before + raw + b"-tail"
        encoded = encode(data).decode()
        text = "output:\n" + wrap(encoded, width, end) + "done\n"
        masked = masker.mask(text)
        offset = len("output:\n")
        # position in ``text`` of each character of ``encoded``
        where = [offset + i + (i // width) * len(end) for i in range(len(encoded))]
        kept = set(kept_positions(text, masked))
        leaked = [i for i in dependent(before, len(raw)) if where[i] in kept]
        # a short secret at an offset has a shifted form of MIN_LENGTH characters or more only
        if len(dependent(before, len(raw))) >= 4:
            assert not leaked, (masked, leaked)
        assert masked.startswith("output:\n") and masked.endswith("done\n")
        lines = re.split(r"\r?\n", masked)
        touched = {p // (width + len(end)) for p in (where[i] - offset for i in dependent(before, len(raw)))}
        for index in touched:
            assert MASK in lines[1 + index], (index, lines)
        # streamed in chunks of any size: the same text
        for _ in range(3):
            stream = masker.stream()
            pieces, pos = [], 0
            while pos < len(text):
                step = RNG.randint(1, 90)
                pieces.append(stream.feed(text[pos : pos + step]))
                pos += step
            assert "".join(pieces) + stream.flush() == masked


def test_unrelated_wrapped_base64_and_ordinary_text_are_left_alone() -> None:
    masker = Masker([secret(80), secret(24)])
    other = wrap(base64.b64encode(RNG.randbytes(3000)).decode(), 76)
    assert masker.mask(other) == other
    prose = "Downloading packages\nINSTALLING dependencies-of-the-project-now-and-then-more\nok\n"
    assert masker.mask(prose) == prose


def test_ordinary_lines_are_released_at_once() -> None:
    stream = Masker([secret(200)]).stream()
    assert stream.feed("Downloading packages\n") == "Downloading packages\n"
    assert stream.feed("step 2: building-the-project-image\n") == "step 2: building-the-project-image\n"
    # a full base64 line may be continued by the next one: it waits for it
    line = base64.b64encode(RNG.randbytes(57)).decode()
    assert stream.feed(line + "\n") == ""
    assert stream.feed("end\n") == line + "\nend\n"


def test_held_text_stays_bounded_on_endless_base64() -> None:
    value = secret(400)
    masker = Masker([value])
    stream = masker.stream()
    chunk = base64.b64encode(RNG.randbytes(3 * 20000)).decode()
    released = 0
    for flat in (True, False):
        for _ in range(20):
            released += len(stream.feed(chunk if flat else wrap(chunk, 76)))
            assert stream.pending <= 2 * masker.longest + 4 * MIN_WIDTH
    assert released > 0 and MASK not in stream.flush()


def test_hold_from_reaches_back_over_wrapped_lines_only() -> None:
    full = "A" * 76
    assert hold_from("x\n" + full + "\n" + full + "\nAB", 100) == len("x\n") + 76 - (100 - 2 - 76)
    assert hold_from("short\nAB", 100) == len("short\n")  # "short" cannot be a wrapped line
    assert hold_from("text ABC", 100) == len("text ")
    assert hold_from("done\n", 100) == len("done\n")
    assert hold_from(full + "\r\n", 10) == 76 - 10


def test_masked_forms_never_blank_whole_ordinary_lines() -> None:
    masker = Masker(["correct horse battery staple"])
    text = "correct\nhorse battery\nstaple\n"
    assert masker.mask(text) == text  # not base64-wrapped: plain words are not joined
    assert re.fullmatch(r"\[MASKED\]\n", masker.mask("correct horse battery staple\n"))
