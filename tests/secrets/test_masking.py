"""The masker: every form of a registered value is hidden, in whole texts and in chunked streams."""

from __future__ import annotations

import base64
import json
import logging
import random
from urllib.parse import quote, quote_plus

import pytest

from nosana_node.secrets.masking import (
    MASK,
    MIN_LENGTH,
    Masker,
    MaskingFilter,
    StreamMasker,
    process_masker,
    variants,
)

SECRET = "s3cr3t-P@ss/w0rd+x y"


def stream_all(masker: Masker, chunks: list[str]) -> str:
    stream = masker.stream()
    return "".join(stream.feed(c) for c in chunks) + stream.flush()


def test_raw_value_is_masked() -> None:
    masker = Masker([SECRET])
    assert masker.mask(f"password is {SECRET}.") == f"password is {MASK}."
    assert masker.mask("nothing here") == "nothing here"


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
    ],
)
def test_encoded_forms_are_masked(encoded: str) -> None:
    masker = Masker([SECRET])
    assert SECRET not in masker.mask(encoded)
    assert masker.mask(f"<{encoded}>") == f"<{MASK}>"


def test_lower_case_percent_escapes() -> None:
    masker = Masker(["a/b c?d=e"])
    assert masker.mask("x=a%2fb%20c%3fd%3de") == f"x={MASK}"
    assert masker.mask("x=a%2Fb%20c%3Fd%3De") == f"x={MASK}"


@pytest.mark.parametrize("prefix", ["", "u:", "us:", "user:", "longer-user-name:"])
@pytest.mark.parametrize("suffix", ["", "!", "!!", "!!!"])
def test_base64_of_value_embedded_in_longer_text(prefix: str, suffix: str) -> None:
    """base64("user:" + password) -- HTTP basic auth -- does not show the password's bits."""
    masker = Masker([SECRET])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(f"{prefix}{SECRET}{suffix}".encode()).decode()
        masked = masker.mask(whole)
        assert MASK in masked
        # what is left is only the encoding of the prefix and suffix, a few characters each side
        left, _, right = masked.partition(MASK)
        assert len(left) <= len(encode(prefix.encode()).decode()) + 1
        # (one character mixing value and suffix bits, and padding)
        assert len(right) <= len(encode(suffix.encode()).decode()) + 3


def test_multiline_value_each_line_and_json_form() -> None:
    pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\r\nLine3WithSecretStuff\n-----END KEY-----\n"
    masker = Masker([pem])
    out = masker.mask(f"key:\n{pem}done")
    for line in pem.strip().splitlines():
        assert line.strip() not in out
    assert out.count(MASK) == 4
    # as a JSON document would carry it (newlines escaped) and as one base64 blob
    assert masker.mask(json.dumps({"k": pem})) == json.dumps({"k": MASK})
    assert masker.mask(base64.b64encode(pem.encode()).decode()) == MASK
    # a line appearing alone is masked too
    assert masker.mask("Line3WithSecretStuff") == MASK


def test_value_with_surrounding_whitespace_masked_stripped() -> None:
    masker = Masker(["  token-from-file\n"])
    assert masker.mask("token-from-file") == MASK
    assert masker.mask(base64.b64encode(b"token-from-file").decode()) == MASK


def test_quotes_and_backslashes_in_json() -> None:
    value = 'pa"ss\\word'
    masker = Masker([value])
    doc = json.dumps({"env": {"P": value}})
    assert value not in masker.mask(doc) and json.dumps(value)[1:-1] not in masker.mask(doc)
    assert masker.mask(doc) == json.dumps({"env": {"P": MASK}})


def test_non_ascii_value_in_json_both_escapings() -> None:
    value = "pässwörd-ünïcode"
    masker = Masker([value])
    assert masker.mask(json.dumps(value)) == f'"{MASK}"'
    assert masker.mask(json.dumps(value, ensure_ascii=False)) == f'"{MASK}"'


def test_short_values_are_not_masked() -> None:
    """Documented: values shorter than MIN_LENGTH stay visible (logs stay readable)."""
    assert MIN_LENGTH == 4
    masker = Masker(["abc", "xy", ""])
    assert not masker
    assert masker.mask("abc xy") == "abc xy"
    masker.add("abcd")
    assert masker.mask("abc abcd") == f"abc {MASK}"
    # and no form shorter than MIN_LENGTH is ever produced (e.g. a multi-line value's short line)
    assert all(len(f) >= MIN_LENGTH for f in variants("ab\nlong-enough-line\nc"))
    assert Masker(["ab\nlong-enough-line\nc"]).mask("ab c long-enough-line") == f"ab c {MASK}"


def test_longest_form_wins_over_shared_prefix() -> None:
    masker = Masker(["secret", "secret-longer-value"])
    assert masker.mask("secret-longer-value") == MASK
    assert masker.mask("secret-longer") == f"{MASK}-longer"


def test_mask_obj_masks_keys_and_nested_values() -> None:
    masker = Masker([SECRET])
    doc = {"a": [SECRET, {"b": f"x{SECRET}"}], SECRET: 1, "n": 3, "t": (SECRET,)}
    assert masker.mask_obj(doc) == {"a": [MASK, {"b": f"x{MASK}"}], MASK: 1, "n": 3, "t": [MASK]}


def test_stream_without_secrets_passes_through() -> None:
    stream = Masker().stream()
    assert stream.feed("abc") == "abc"
    assert stream.flush() == ""


@pytest.mark.parametrize("split", range(1, len(SECRET)))
def test_stream_value_split_across_two_chunks(split: int) -> None:
    masker = Masker([SECRET])
    text = f"before {SECRET} after\n"
    cut = len("before ") + split
    out = stream_all(masker, [text[:cut], text[cut:]])
    assert out == f"before {MASK} after\n"


def test_stream_releases_complete_lines_immediately() -> None:
    masker = Masker([SECRET])
    stream = masker.stream()
    assert stream.feed(f"line one {SECRET}\nline two\n") == f"line one {MASK}\nline two\n"
    assert stream.pending == 0
    # a partial line may be held back, but never more than the longest form minus one
    released = stream.feed("partial output without newline " * 10)
    assert stream.pending <= masker.longest - 1
    assert released + stream.flush() == "partial output without newline " * 10


def test_stream_holds_back_prefix_of_longer_form() -> None:
    masker = Masker(["secret", "secret-longer-value"])
    stream = masker.stream()
    first = stream.feed("x secret")
    assert "secret" not in first
    rest = stream.feed("-longer-value y") + stream.flush()
    assert first + rest == f"x {MASK} y"


def test_stream_value_split_over_many_single_character_chunks() -> None:
    masker = Masker([SECRET])
    text = f"a{SECRET}b{base64.b64encode(SECRET.encode()).decode()}c"
    assert stream_all(masker, list(text)) == f"a{MASK}b{MASK}c"


def test_stream_secret_registered_mid_stream() -> None:
    masker = Masker()
    stream = masker.stream()
    assert stream.feed("early\n") == "early\n"
    masker.add(SECRET)
    out = stream.feed(SECRET[:5]) + stream.feed(SECRET[5:] + "\n") + stream.flush()
    assert out == f"{MASK}\n"


def test_stream_equals_whole_text_masking_random() -> None:
    """Property: for any chunking, streaming gives exactly what masking the whole text gives."""
    rng = random.Random(4)
    alphabet = "abcxyz-_/+= \n:"
    for _ in range(300):
        secrets = ["".join(rng.choice(alphabet.strip()) for _ in range(rng.randint(1, 12))) for _ in range(3)]
        masker = Masker(secrets)
        pieces = []
        for _ in range(rng.randint(1, 12)):
            kind = rng.random()
            if kind < 0.4:
                pieces.append(rng.choice(secrets))
            elif kind < 0.55:
                pieces.append(base64.b64encode(rng.choice(secrets).encode()).decode())
            else:
                pieces.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
        text = "".join(pieces)
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 6))))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert stream_all(masker, chunks) == masker.mask(text), (secrets, chunks)
        for s in secrets:
            if len(s.strip()) >= MIN_LENGTH and "\n" not in s:
                assert s not in stream_all(masker, chunks)


def test_stream_masker_is_per_stream() -> None:
    masker = Masker([SECRET])
    a, b = masker.stream(), masker.stream()
    assert isinstance(a, StreamMasker)
    out_a = a.feed(SECRET[:6])
    out_b = b.feed("plain\n")
    assert out_b == "plain\n"
    assert out_a + a.feed(SECRET[6:] + "\n") == f"{MASK}\n"


def test_logging_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    masker = Masker([SECRET])
    logger = logging.getLogger("nosana-test-masking")
    handler_records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handler_records.append(self.format(record))

    handler = Keep()
    handler.addFilter(MaskingFilter(masker))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token %s in use", SECRET)
        try:
            raise RuntimeError(f"bad {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(handler_records)
    assert SECRET not in text
    assert "token [MASKED] in use" in text
    assert "RuntimeError: bad [MASKED]" in text


def test_the_process_masker_hides_global_values_and_those_of_open_scopes() -> None:
    masker = Masker()
    masker.add("global-token-value")
    before = len(masker)
    one, two = masker.scope("flow-1"), masker.scope("flow-2")
    one.add("flow-one-secret")
    two.add("flow-two-secret")
    text = "global-token-value flow-one-secret flow-two-secret"
    assert masker.mask(text) == f"{MASK} {MASK} {MASK}" and one.mask(text) == masker.mask(text)
    stream = masker.stream()  # a log stream opened while both scopes are open
    assert stream.feed("x flow-one-") + stream.feed("secret y\n") == f"x {MASK} y\n"
    one.close()
    assert masker.mask(text) == f"{MASK} flow-one-secret {MASK}"  # forgotten with its scope
    assert masker.open_scopes == 1
    two.close()
    assert masker.mask(text) == f"{MASK} flow-one-secret flow-two-secret"
    assert len(masker) == before and masker.open_scopes == 0  # nothing of the flows is kept
    with pytest.raises(RuntimeError, match="closed"):
        one.add("too-late-value")


def test_every_part_of_the_process_shares_one_masker() -> None:
    from nosana_node.secrets.value import Secret

    value = "shared-by-every-caller-" + str(random.Random().random())
    Secret(value)  # a Secret registers with the process masker, globally
    assert process_masker().mask(f"a {value}") == f"a {MASK}"
    scoped = "only-for-this-flow-" + str(random.Random().random())
    with process_masker().scope("flow") as scope:
        scope.add(scoped)
        assert process_masker().mask(scoped) == MASK  # seen by every user of the process masker
    assert process_masker().mask(scoped) == scoped  # the flow's value is gone with its scope
    assert process_masker().mask(value) == MASK  # the global value stays


def test_trie_pattern_matches_like_longest_first_alternation() -> None:
    import re

    from nosana_node.secrets.masking import compile_forms

    rng = random.Random(11)
    for _ in range(200):
        count = rng.randint(1, 8)
        forms = {"".join(rng.choice("abc") for _ in range(rng.randint(1, 7))) for _ in range(count)}
        flat = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
        trie = compile_forms(forms)
        text = "".join(rng.choice("abcd") for _ in range(60))
        assert trie.sub("#", text) == flat.sub("#", text), (forms, text)


def test_deeply_nested_forms_still_compile() -> None:
    """Forms that are prefixes of one another nest the trie; past the compiler's depth it falls back."""
    values = ["q" * n for n in range(4, 600)]
    masker = Masker(values)
    assert masker.mask("x" + "q" * 599 + "x") == f"x{MASK}x"
    assert masker.mask("x" + "q" * 5 + "x") == f"x{MASK}x"
