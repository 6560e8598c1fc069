"""The EDN reader and aero's tags, one by one, with their errors (which name the file, the key
path and the tag)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nosana_node.config.edn import read_config_file
from nosana_node.errors import ConfigError

Write = Callable[..., Path]


def read(path: Path, profile: str | None = None) -> dict:
    return read_config_file(path, profile).plain()


def error(path: Path, profile: str | None = None) -> str:
    with pytest.raises(ConfigError) as exc:
        read_config_file(path, profile)
    message = str(exc.value)
    assert "\n" not in message
    return message


# -- plain EDN ----------------------------------------------------------------------------------


def test_plain_values_keywords_become_strings(write: Write) -> None:
    path = write(
        '{:a 1 :b 2.5 :c "s" :d :kw :e true :f nil :g [1 "x"] :h {:i 1} "j/k" 2 :ns/l 3 ; comment\n}'
    )
    assert read(path) == {
        "a": 1, "b": 2.5, "c": "s", "d": "kw", "e": True, "f": None,
        "g": [1, "x"], "h": {"i": 1}, "j/k": 2, "ns/l": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{:a 1", "unexpected end of file"),
        ("{:a 1 :b}", "a map needs an even number of forms"),
        ('{:a "unclosed}', "cannot read '\"' at line 1, column 5"),
        ("{:a 1}\n  }", "unexpected '}' at line 2, column 3"),
        ("{:a 1} {:b 2}", "holds 2 top-level forms"),
        ("", "is empty"),
        ("{:a #nope 1}", "unknown tag #nope (known tags: #env #envf #or"),
        ("{:a b}", '[:a] unquoted symbol b: write a string "b", a keyword :b, or #env b'),
        ("{:a #{1 2}}", "[:a] sets are not supported"),
        ("[1 2]", "the configuration must be a map"),
    ],
)
def test_syntax_errors_name_the_file(write: Write, text: str, expected: str) -> None:
    path = write(text)
    message = error(path)
    assert message.startswith(f"{path}:")
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    assert error(tmp_path / "nope.edn") == f"{tmp_path / 'nope.edn'}: no such configuration file"


# -- #env #envf ----------------------------------------------------------------------------------


def test_env(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_A", "from-env")
    path = write('{:a #env NODE_TEST_A :b #env "NODE_TEST_A" :c #env NODE_TEST_UNSET}')
    assert read(path) == {"a": "from-env", "b": "from-env", "c": None}
    t = read_config_file(path).value["a"]
    assert t.via == ("#env NODE_TEST_A",) and t.file == path


def test_env_error(write: Write) -> None:
    path = write("{:x {:y #env [1 2]}}")
    assert error(path) == f"{path}: [:x :y] #env expects a variable name (a symbol or string), got [1, 2]"


def test_envf(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_H", "/h")
    monkeypatch.setenv("NODE_TEST_U", "me")
    path = write('{:a #envf ["%s/x/%s" NODE_TEST_H NODE_TEST_U] :b #envf ["%s" NODE_TEST_UNSET]}')
    assert read(path) == {"a": "/h/x/me", "b": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{:a #envf ["%s %s" HOME]}', "#envf format '%s %s' has 2 %s for 1 variable(s)"),
        ("{:a #envf [HOME]}", '#envf expects a format string first: #envf ["%s/x" HOME]'),
        ('{:a #envf "x"}', "#envf expects a vector"),
    ],
)
def test_envf_errors(write: Write, text: str, expected: str) -> None:
    path = write(text)
    message = error(path)
    assert message.startswith(f"{path}: [:a] #envf") and expected in message


# -- #or #join -----------------------------------------------------------------------------------


def test_or_first_non_nil_and_lazy(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_B", "b")
    # the #file after the chosen alternative does not exist: #or must not read it
    path = write(
        '{:a #or [#env NODE_TEST_UNSET #env NODE_TEST_B #file "missing"] :b #or [nil nil] :c #or [false 1]}'
    )
    assert read(path) == {"a": "b", "b": None, "c": False}
    assert read_config_file(path).value["a"].via == ("#or", "#env NODE_TEST_B")


def test_or_error(write: Write) -> None:
    path = write("{:a #or 1}")
    assert error(path) == f"{path}: [:a] #or expects a vector [first-choice fallback ...], got 1"


def test_join(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_P", "8200")
    path = write('{:a #join ["http://h:" #env NODE_TEST_P "/v" 1 nil true]}')
    assert read(path) == {"a": "http://h:8200/v1true"}


def test_join_error(write: Write) -> None:
    path = write('{:a #join ["x" {:b 1}]}')
    assert error(path) == f"{path}: [:a] #join expects a single value, got a dict"


# -- #profile ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "expected"), [("dev", 1), ("prod", 2), (None, 3), ("staging", 3)])
def test_profile(write: Write, profile: str | None, expected: int) -> None:
    path = write("{:a #profile {:dev 1 :prod 2 :default 3} :b #profile {:dev 9}}")
    values = read(path, profile)
    assert values["a"] == expected
    assert values["b"] == (9 if profile == "dev" else None)


def test_profile_only_evaluates_the_chosen_branch(write: Write) -> None:
    path = write('{:a #profile {:prod #file "/nonexistent/key.json" :default "ok"}}')
    assert read(path, "dev") == {"a": "ok"}
    assert "#file: file /nonexistent/key.json does not exist" in error(path, "prod")


def test_profile_error(write: Write) -> None:
    path = write("{:a #profile [1 2]}")
    assert error(path) == f"{path}: [:a] #profile expects a map {{:dev ... :prod ...}}, got [1, 2]"


# -- #include ------------------------------------------------------------------------------------


def test_include_relative_to_including_file(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_X", "x")
    write('{:port 8899 :deeper #include "more/deep.edn"}', "sub/part.edn")
    write("{:level #env NODE_TEST_X}", "sub/more/deep.edn")
    path = write('{:a #include "sub/part.edn" :b 1}')
    assert read(path) == {"a": {"port": 8899, "deeper": {"level": "x"}}, "b": 1}
    deep = read_config_file(path).value["a"].value["deeper"].value["level"]
    assert deep.file.name == "deep.edn" and deep.via == ("#env NODE_TEST_X",)


def test_include_errors(write: Write) -> None:
    path = write('{:a #include "missing.edn"}')
    assert error(path) == f"{path}: [:a] #include 'missing.edn': no such file {path.parent / 'missing.edn'}"
    write('{:b #include "loop-b.edn"}', "loop-a.edn")
    write('{:c #include "loop-a.edn"}', "loop-b.edn")
    path = write('{:a #include "loop-a.edn"}')
    assert "#include cycle:" in error(path)
    write("{:a 1", "broken.edn")
    path = write('{:a #include "broken.edn"}')
    assert error(path).startswith(f"{path.parent / 'broken.edn'}: invalid EDN: unexpected end of file")


# -- #ref ----------------------------------------------------------------------------------------


def test_ref(write: Write) -> None:
    write("{:port 8200}", "inc.edn")
    path = write(
        '{:vault {:port #long "8200" :addr #join ["http://h:" #ref [:vault :port]]}'
        " :copy #ref [:vault :addr] :chain #ref [:copy]"
        " :prof #profile {:dev {:x 5}} :inprof #ref [:prof :x]"
        ' :inc #include "inc.edn" :ininc #ref [:inc :port]'
        " :list [10 20] :item #ref [:list 1]}"
    )
    values = read(path, "dev")
    assert values["vault"]["addr"] == "http://h:8200"
    assert values["copy"] == values["chain"] == "http://h:8200"
    assert values["inprof"] == 5 and values["ininc"] == 8200 and values["item"] == 20
    assert read_config_file(path, "dev").value["chain"].via[:2] == ("#ref [:copy]", "#ref [:vault :addr]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{:a #ref [:b]}", "[:a] #ref [:b]: no key [:b]"),
        ("{:a #ref [:a]}", "#ref cycle: [:a] -> [:a]"),
        ("{:a #ref [:b] :b {:c #ref [:a]}}", "[:a] #ref cycle: [:b] -> [:a] -> [:b]"),
        ("{:a #ref [:b :c] :b 1}", "#ref [:b :c]: nothing at [:b :c]"),
        ("{:a #ref :b}", "#ref expects a vector [:section :key]"),
        ("{:a #ref [1.5]}", "#ref keys must be keywords, strings or indexes, got 1.5"),
    ],
)
def test_ref_errors(write: Write, text: str, expected: str) -> None:
    path = write(text)
    message = error(path)
    assert message.startswith(f"{path}:") and expected in message


# -- conversions -----------------------------------------------------------------------------------


def test_conversions(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_TEST_N", " 42 ")
    monkeypatch.setenv("NODE_TEST_F", "2.5")
    monkeypatch.setenv("NODE_TEST_B", "Yes")
    path = write(
        "{:l #long #env NODE_TEST_N :l2 #long 7.0 :d #double #env NODE_TEST_F :d2 #double 3"
        ' :b #boolean #env NODE_TEST_B :b2 #boolean "off" :k #keyword "info" :k2 #keyword ":warn"'
        " :n #long #env NODE_TEST_UNSET :o #long #or [#env NODE_TEST_UNSET 8080]}"
    )
    assert read(path) == {
        "l": 42, "l2": 7, "d": 2.5, "d2": 3.0, "b": True, "b2": False,
        "k": "info", "k2": "warn", "n": None, "o": 8080,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{:a {:b #long "12x"}}', "[:a :b] #long: cannot read '12x' as an integer"),
        ("{:a #long true}", "#long: cannot read True as an integer"),
        ('{:a #double "x"}', "#double: cannot read 'x' as a number"),
        (
            '{:a #boolean "maybe"}',
            "#boolean: cannot read 'maybe' as a boolean (true/false, yes/no, on/off, 1/0)",
        ),
        ("{:a #keyword 5}", "#keyword: cannot read 5 as a keyword"),
        ("{:a #long [1]}", "#long expects a single value, got a list"),
    ],
)
def test_conversion_errors(write: Write, text: str, expected: str) -> None:
    path = write(text)
    message = error(path)
    assert message.startswith(f"{path}: [:a") and expected in message


def test_conversion_error_does_not_show_a_secret(write: Write) -> None:
    write("not-a-number-secret", "token.txt", 0o600)
    path = write('{:a #long #file "token.txt"}')
    message = error(path)
    assert "not-a-number-secret" not in message
    assert message == f"{path}: [:a] #long: cannot read a secret value as an integer"


# -- #file ---------------------------------------------------------------------------------------


def test_file_reads_private_file(write: Write, clean_env: Path) -> None:
    keypair = json.dumps(list(range(64)))
    write(keypair + "\n", "id.json", 0o600)
    (clean_env / ".secret").write_text("from-home")
    (clean_env / ".secret").chmod(0o400)
    path = write('{:k #file "id.json" :h #file "~/.secret" :n #file #env NODE_TEST_UNSET}')
    assert read(path) == {"k": keypair, "h": "from-home", "n": None}
    traced = read_config_file(path).value["k"]
    assert traced.secret and traced.via == ("#file id.json",)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_file_refuses_group_or_other_access(write: Write, mode: int) -> None:
    secret = write("[1,2,3]", "id.json", mode)
    path = write('{:keypair #file "id.json"}')
    message = error(path)
    assert message == (
        f"{path}: [:keypair] #file: file {secret} is accessible by group or others (mode {mode:04o}); "
        f"it holds a secret: run `chmod 600 {secret}`"
    )
    assert "[1,2,3]" not in message


def test_file_errors(write: Write, tmp_path: Path) -> None:
    path = write('{:a #file "nope.json"}')
    assert error(path) == f"{path}: [:a] #file: file {path.parent / 'nope.json'} does not exist"
    (path.parent / "adir").mkdir()
    path = write('{:a #file "adir"}')
    assert error(path) == f"{path}: [:a] #file: file {path.parent / 'adir'} is not a regular file"
    path = write("{:a #file 5}")
    assert error(path) == f"{path}: [:a] #file expects a file name, got 5"
