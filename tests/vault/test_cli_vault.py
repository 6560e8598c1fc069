"""`nosana-node vault get|put|list|rm` through the real command, against a real OpenBao server
and against the read-only config backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.vault.bao import BaoServer

pytestmark = pytest.mark.openbao


def config_file(tmp_path: Path, server: BaoServer, extra: str = "") -> tuple[Path, dict[str, str]]:
    path = tmp_path / "config.edn"
    path.write_text(
        f'{{:vault {{:backend :openbao :address "{server.addr}" :token #env NODE_VAULT_TOKEN {extra}}}}}'
    )
    return path, {"HOME": str(tmp_path), "NODE_VAULT_TOKEN": server.root_token}


def test_put_get_list_rm(bao: BaoServer, prefix: str, tmp_path: Path) -> None:
    cfg, env = config_file(tmp_path, bao)
    (tmp_path / "pw.txt").write_text("password-from-a-file\n")

    def cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        r = run_cli("--config", str(cfg), "vault", *args, env=env, stdin=stdin)
        assert bao.root_token not in r.stdout + r.stderr  # the vault token never shows
        return r.returncode, r.stdout, r.stderr

    assert cli("put", f"{prefix}/db", "user=app", f"password=@{tmp_path / 'pw.txt'}") == (
        0, f"wrote {prefix}/db (version 1): password, user\n", "",
    )  # fmt: skip
    assert cli("put", f"{prefix}/db", "user=app", "password=-", stdin="password-from-stdin\n")[1].startswith(
        f"wrote {prefix}/db (version 2)"
    )
    assert cli("put", f"{prefix}/token", "value=single-token-value")[0] == 0
    assert cli("get", f"{prefix}/db#password") == (0, "password-from-stdin\n", "")
    assert cli("get", f"{prefix}/db#password", "--version", "1") == (0, "password-from-a-file\n", "")
    assert cli("get", f"{prefix}/token") == (0, "single-token-value\n", "")
    code, out, _ = cli("get", f"{prefix}/db", "--json")
    assert code == 0 and json.loads(out) == {"password": "password-from-stdin", "user": "app"}
    assert cli("list", prefix) == (0, "db\ntoken\n", "")
    assert cli("rm", f"{prefix}/token") == (0, f"deleted {prefix}/token\n", "")
    code, out, err = cli("get", f"{prefix}/token")
    assert (
        code == 1
        and out == ""
        and err == f"error: {prefix}/token: not found at secret/{prefix}/token in vault {bao.addr} (kv v2)\n"
    )
    assert cli("list", prefix) == (0, "db\ntoken\n", "")  # KV v2 keeps a soft-deleted secret's metadata
    assert cli("rm", f"{prefix}/db", "--all-versions") == (0, f"deleted {prefix}/db (all versions)\n", "")
    assert cli("rm", f"{prefix}/token")[2].startswith(
        f"error: {prefix}/token: not found"
    )  # nothing left to delete
    assert cli("rm", f"{prefix}/token", "--all-versions")[0] == 0  # but a soft-deleted secret can be purged
    assert cli("list", prefix) == (0, "", "")


def test_cli_errors(bao: BaoServer, prefix: str, tmp_path: Path) -> None:
    cfg, env = config_file(tmp_path, bao)
    r = run_cli("--config", str(cfg), "vault", "put", f"{prefix}/x", "novalue", env=env)
    assert (
        r.returncode == 2
        and r.stderr == "error: vault put: expected KEY=VALUE, KEY=@FILE or KEY=-, got 'novalue'\n"
    )
    r = run_cli("--config", str(cfg), "vault", "get", "../escape#k", env=env)
    assert r.returncode == 1 and "invalid secret path '../escape'" in r.stderr
    run_cli("--config", str(cfg), "vault", "put", f"{prefix}/two", "a=value-a-1", "b=value-b-2", env=env)
    r = run_cli("--config", str(cfg), "vault", "get", f"{prefix}/two", env=env)
    assert r.returncode == 2 and "holds keys a, b: name one as PATH#KEY, or use --json" in r.stderr
    assert "value-a-1" not in r.stderr
    bad_env = {**env, "NODE_VAULT_TOKEN": "not-a-real-token-123"}
    r = run_cli("--config", str(cfg), "vault", "get", f"{prefix}/two#a", env=bad_env)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "not-a-real-token-123" not in r.stderr and "Traceback" not in r.stderr


def test_denied_and_unreachable(bao_own: BaoServer, prefix: str, tmp_path: Path) -> None:
    bao_own.policy("nothing", 'path "secret/data/other/*" { capabilities = ["read"] }')
    bao_own.client().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/s", secret={"k": "denied-value-xyz"}
    )
    cfg, env = config_file(tmp_path, bao_own, ":timeout 2")
    limited = {**env, "NODE_VAULT_TOKEN": bao_own.token(["nothing"])}
    r = run_cli("--config", str(cfg), "vault", "get", f"{prefix}/s#k", env=limited)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: secret {prefix}/s#k: permission denied to secret/{prefix}/s by vault")
    assert "denied-value-xyz" not in r.stdout + r.stderr and limited["NODE_VAULT_TOKEN"] not in r.stderr
    bao_own.stop()
    r = run_cli("--config", str(cfg), "vault", "list", env=env)
    assert (r.returncode, r.stderr) == (
        1,
        f"error: /: vault {bao_own.addr} is unreachable (connection refused or lost)\n",
    )


def test_config_backend_is_read_only(tmp_path: Path) -> None:
    cfg = tmp_path / "config.edn"
    cfg.write_text('{:secrets {"api/key" #env NODE_API_KEY "reg" {:user "u" :password #env NODE_REG}}}')
    env = {"HOME": str(tmp_path), "NODE_API_KEY": "config-api-key-value", "NODE_REG": "registry-pass"}
    r = run_cli("--config", str(cfg), "vault", "get", "api/key", env=env)
    assert (r.returncode, r.stdout) == (0, "config-api-key-value\n")
    r = run_cli("--config", str(cfg), "vault", "get", "reg#password", env=env)
    assert (r.returncode, r.stdout) == (0, "registry-pass\n")
    r = run_cli("--config", str(cfg), "vault", "list", env=env)
    assert (r.returncode, r.stdout) == (0, "api/\nreg\n")
    for args in (("put", "api/key", "v=1"), ("rm", "api/key")):
        r = run_cli("--config", str(cfg), "vault", *args, env=env)
        assert r.returncode == 2
        assert r.stderr == (
            f"error: vault {args[0]}: the config backend ({cfg}) is read-only; set secrets in config.edn "
            "(:secrets, with #env or #file) or use :vault {:backend :openbao}\n"
        )
    r = run_cli("--config", str(cfg), "vault", "get", "api/key", "--version", "2", env=env)
    assert r.returncode == 1 and "keeps no versions" in r.stderr
    r = run_cli("--config", str(cfg), "vault", "get", "reg#password", env={"HOME": str(tmp_path)})
    assert r.returncode == 1
    assert (
        r.stderr
        == "error: secret reg#password: not set in config (its value is nil, e.g. an unset #env variable)\n"
    )
