"""``:node :api`` in config.edn, the environment and flags: where the API listens, or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nosana_node.config.kinds import ListenAddress
from nosana_node.config.load import load_config
from nosana_node.config.options import ConfigOptions
from nosana_node.errors import ConfigError


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("NOSANA_", "VAULT_", "BAO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


def api(tmp_path: Path, text: str | None = None, *sets: str) -> ListenAddress:
    path = None
    if text is not None:
        path = tmp_path / "config.edn"
        path.write_text(text)
    return load_config(ConfigOptions(config=path, overrides=sets)).config.node.api  # type: ignore[no-any-return]


def test_loopback_by_default_and_the_forms_it_is_given_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api(tmp_path) == ListenAddress("127.0.0.1", 8989)
    assert api(tmp_path, '{:node {:api {:address "0.0.0.0" :port 9100}}}') == ListenAddress("0.0.0.0", 9100)
    assert api(tmp_path, "{:node {:api {:port 0}}}") == ListenAddress("127.0.0.1", 0)
    assert not api(tmp_path, "{:node {:api false}}").enabled
    assert api(tmp_path, None, "node.api=[::1]:9200") == ListenAddress("::1", 9200)
    monkeypatch.setenv("NOSANA_NODE_API", "off")
    assert str(api(tmp_path)) == "off"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{:node {:api {:port 70000}}}", "0-65535"),
        ('{:node {:api {:host "x"}}}', "not :host"),
        ('{:node {:api "somewhere"}}', "HOST:PORT"),
        ("{:node {:api [1 2]}}", ":address"),
    ],
)
def test_bad_values_say_what_is_expected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        api(tmp_path, text)
    assert ":node :api" in str(caught.value)
