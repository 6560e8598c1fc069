"""A market job's checkout (``nosana_node.checkout.public``): public hosts only, pinned to the
checked address, no redirects, none of the operator's git configuration or credentials. Real
git against real HTTP servers on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nosana_node.addresses import is_public
from nosana_node.checkout.public import RefusedRepository, pin, pin_options, public_env
from tests.node.gitkit import GitServer


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("140.82.112.3", True),
        ("2606:50c0:8000::153", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.17.0.1", False),  # the Docker bridge
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def _resolver(*addresses: str) -> Any:
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


def test_a_repository_is_pinned_to_its_public_addresses() -> None:
    options = pin("https://github.com/o/r.git", _resolver("140.82.112.3", "140.82.112.4"))
    assert options == [
        "-c",
        "http.curloptResolve=github.com:443:140.82.112.3,140.82.112.4",
        "-c",
        "http.followRedirects=false",
    ]
    assert pin("http://git.example:8080/r", _resolver("2606:50c0:8000::153"))[1] == (
        "http.curloptResolve=git.example:8080:[2606:50c0:8000::153]"
    )


@pytest.mark.parametrize(
    ("repo", "resolver", "words"),
    [
        ("ssh://git@github.com/o/r.git", None, "must be an https:// or http:// URL"),
        ("git@github.com:o/r.git", None, "must be an https:// or http:// URL"),
        ("git://github.com/o/r.git", None, "must be an https:// or http:// URL"),
        ("file:///etc", None, "must be an https:// or http:// URL"),
        ("http://127.0.0.1:8200/v1/secret", None, "resolves to 127.0.0.1, not a public address"),
        ("http://localhost:8989/status", None, "not a public address"),
        ("http://[::1]/r", None, "resolves to ::1"),
        ("https://rebind.example/r", ("140.82.112.3", "10.0.0.5"), "resolves to 10.0.0.5"),
        ("https://meta.example/r", ("169.254.169.254",), "resolves to 169.254.169.254"),
        ("https://h.example:99999/r", None, "not a valid port"),
        ("https://no-such-host.invalid/r", None, "cannot resolve the repository host no-such-host.invalid"),
    ],
)
def test_a_repository_off_the_public_internet_is_refused(
    repo: str, resolver: tuple[str, ...] | None, words: str
) -> None:
    with pytest.raises(RefusedRepository) as caught:
        pin(repo, _resolver(*resolver)) if resolver else pin(repo)
    assert words in str(caught.value)


def _clone(
    repo: str, target: Path, options: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *options, "clone", "--quiet", "--", repo, str(target)],
        env={**env, "GIT_TERMINAL_PROMPT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_git_connects_to_the_pinned_address_and_follows_no_redirect(tmp_path: Path) -> None:
    empty = tmp_path / "home"
    empty.mkdir()
    env = public_env(dict(os.environ), empty)
    with GitServer(tmp_path / "served") as served:
        # a name nobody resolves reaches the pinned address: the options work on this git
        repo = f"http://repo.invalid:{served.port}/r.git"
        done = _clone(repo, tmp_path / "a", pin_options("repo.invalid", served.port, ["127.0.0.1"]), env)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "a" / "hello.txt").read_text() == "hello from the repository\n"
        with GitServer(tmp_path / "hop", redirect_to=f"http://127.0.0.1:{served.port}") as hop:
            before = len(served.requests)
            options = pin_options("hop.invalid", hop.port, ["127.0.0.1"])
            done = _clone(f"http://hop.invalid:{hop.port}/r.git", tmp_path / "b", options, env)
            assert done.returncode != 0 and hop.requests and len(served.requests) == before
            assert not (tmp_path / "b").exists()


def test_the_operators_git_configuration_and_agent_do_not_serve_a_public_checkout(tmp_path: Path) -> None:
    operator = tmp_path / "operator"  # the node operator's HOME: a URL rewrite, an SSH agent
    operator.mkdir()
    with GitServer(tmp_path / "served") as served:
        (operator / ".gitconfig").write_text(
            f'[url "http://127.0.0.1:{served.port}/"]\n\tinsteadOf = https://private.invalid/\n'
        )
        base = {**os.environ, "HOME": str(operator), "SSH_AUTH_SOCK": "/run/agent.sock"}
        base.pop("GIT_CONFIG_GLOBAL", None)
        repo = "https://private.invalid/r.git"
        assert _clone(repo, tmp_path / "as-operator", [], base).returncode == 0  # the rewrite applies
        empty = tmp_path / "home"
        empty.mkdir()
        env = public_env(base, empty)
        assert "SSH_AUTH_SOCK" not in env and env["HOME"] == str(empty)
        before = len(served.requests)
        assert _clone(repo, tmp_path / "public", [], env).returncode != 0  # not for a market job
        assert len(served.requests) == before
