"""`nosana-node storage` in a real process: put, get, cid, --json; bad input and faults as one
line with exit 2 (bad input) or 1 (failure), and nothing half-written."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from nosana_node.storage.dag import cid_of
from nosana_node.storage.embedded import EmbeddedStorage
from nosana_node.storage.unixfs import CHUNK_SIZE
from tests.cli import run_cli
from tests.storage.servers import AppThread, Silent, closed_port_url
from tests.storage.vectors import HELLO, content


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "nosana"


def cli(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``nosana-node ARGS --home HOME`` (``storage cid`` stores nothing and takes no home)."""
    return run_cli(*args, *(() if args[1] == "cid" else ("--home", str(home))), stdin=stdin)


def one_error_line(done: subprocess.CompletedProcess[str], code: int, *says: str) -> None:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for part in says:
        assert part in lines[0], lines[0]
    assert "Traceback" not in done.stderr


def test_put_get_cid_round_trip(home: Path, tmp_path: Path) -> None:
    doc = tmp_path / "job.json"
    doc.write_bytes(content(CHUNK_SIZE + 3))
    expected = str(cid_of(doc.read_bytes()))
    put = cli(home, "storage", "put", str(doc))
    assert put.returncode == 0 and put.stdout == expected + "\n"
    assert cli(home, "storage", "cid", str(doc)).stdout == expected + "\n"
    assert (home / "storage" / "blocks").is_dir()
    out = tmp_path / "copy.json"
    got = cli(home, "storage", "get", expected, "-o", str(out), "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) | {"backend": ""} == {
        "cid": expected,
        "size": CHUNK_SIZE + 3,
        "path": str(out),
        "backend": "",
    }
    assert out.read_bytes() == doc.read_bytes()


def test_stdin_stdout_and_json(home: Path) -> None:
    put = cli(home, "storage", "put", "-", "--json", stdin=HELLO[0].decode())
    doc = json.loads(put.stdout)
    assert doc["cid"] == HELLO[1] and doc["digest"] == cid_of(HELLO[0]).digest.hex()
    assert "embedded store" in doc["backend"]
    got = cli(home, "storage", "get", f"/ipfs/{HELLO[1]}")
    assert got.returncode == 0 and got.stdout == HELLO[0].decode()
    computed = json.loads(cli(home, "storage", "cid", "-", "--json", stdin="hello\n").stdout)
    assert computed == {"cid": HELLO[1], "digest": doc["digest"], "size": 6}
    assert cli(home, "storage", "has", HELLO[1]).returncode == 0
    assert cli(home, "storage", "has", str(cid_of(b"no"))).returncode == 1
    assert cli(home, "storage", "pin", HELLO[1], "--json").returncode == 0


@pytest.mark.parametrize(
    ("cid", "says"),
    [
        ("QmZULkCELmmk5XNfCgTnCy", "not a CIDv0"),
        ("QmNotReallyACid", "not base58"),
        ("hello", "not a CID"),
        (
            "bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4",
            f"its CIDv0 form is {HELLO[1]}",
        ),
    ],
)
def test_bad_cids_exit_2(home: Path, cid: str, says: str) -> None:
    one_error_line(cli(home, "storage", "get", cid), 2, says)


def test_bad_input_exits_2(home: Path, tmp_path: Path) -> None:
    one_error_line(cli(home, "storage", "put", str(tmp_path / "missing")), 2, "cannot read")
    one_error_line(cli(home, "storage", "put", str(tmp_path)), 2, "is a directory")
    one_error_line(cli(home, "storage", "cid", str(tmp_path / "missing")), 2, "cannot read")
    big = tmp_path / "big"
    big.write_bytes(content(2000))
    capped = run_cli("--set", "storage.max-size=1k", "storage", "put", str(big), "--home", str(home))
    one_error_line(capped, 2, "over the storage cap of 1 KiB")
    capped_stdin = run_cli(
        "--set", "storage.max-size=1k", "storage", "put", "-", "--home", str(home), stdin="x" * 2000
    )
    one_error_line(capped_stdin, 2, "larger than the storage cap of 1 KiB")
    one_error_line(cli(home, "storage", "get", HELLO[1], "--json"), 2, "--json needs -o FILE")
    one_error_line(
        cli(home, "storage", "get", HELLO[1], "-o", str(tmp_path / "no" / "x")), 2, "does not exist"
    )
    one_error_line(cli(home, "storage", "put", "-", "--backend", "ftp", stdin=""), 2, "unknown backend")


def test_failures_exit_1_and_write_nothing(home: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "out.bin"
    missing = str(cid_of(b"never stored"))
    one_error_line(cli(home, "storage", "get", missing, "-o", str(target)), 1, missing, "not in the store")
    assert not target.exists()
    # a block missing in the middle of a DAG: nothing on stdout, the old file untouched
    data = content(3 * CHUNK_SIZE)
    cid = EmbeddedStorage(home / "storage").put(data)
    (home / "storage" / "blocks").joinpath(*_block_path(cid_of(data[CHUNK_SIZE : 2 * CHUNK_SIZE]))).unlink()
    target.write_bytes(b"previous")
    failed = cli(home, "storage", "get", str(cid), "-o", str(target))
    one_error_line(failed, 1, "not in the store")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in out_dir.iterdir()] == ["out.bin"]
    to_stdout = cli(home, "storage", "get", str(cid))
    one_error_line(to_stdout, 1)
    assert to_stdout.stdout == ""


def _block_path(cid: object) -> tuple[str, str]:
    digest = cid.digest.hex()  # type: ignore[attr-defined]
    return digest[:2], digest


@pytest.fixture
def liar() -> Iterator[str]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"not what you asked for")

    app = web.Application()
    app.router.add_get("/ipfs/{cid}", handler)
    with AppThread(app) as server:
        yield server.url


def test_backend_faults_exit_1(home: Path, tmp_path: Path, liar: str) -> None:
    target = tmp_path / "x"
    fast = ["--set", "storage.timeout=1", "--set", "storage.retries=0"]
    down = run_cli(
        *fast, "--set", f"storage.kubo-url={closed_port_url()}", "storage", "get", HELLO[1], "-b", "kubo"
    )
    one_error_line(down, 1, "cannot connect", "connection refused")
    with Silent() as hung:
        slow = run_cli(
            *fast, "--set", f"storage.kubo-url={hung.url}", "storage", "put", "-", "-b", "kubo", stdin="x"
        )
    one_error_line(slow, 1, "no answer within 1s")
    mismatch = run_cli(
        *fast,
        "--set",
        f"storage.gateways={liar}",
        "storage",
        "get",
        HELLO[1],
        "-b",
        "gateway",
        "-o",
        str(target),
    )
    one_error_line(mismatch, 1, "no gateway served it", "that hash to")
    assert not target.exists()
    read_only = run_cli(
        *fast, "--set", f"storage.gateways={liar}", "storage", "put", "-", "-b", "gateway", stdin="x"
    )
    one_error_line(read_only, 2, "read only")


def test_config_show_documents_every_storage_setting() -> None:
    done = run_cli("config", "show", "storage", "--doc", "--json")
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)["settings"]
    for key in (
        "backend",
        "max-size",
        "gateways",
        "kubo-url",
        "pinata-url",
        "pinata-jwt",
        "timeout",
        "retries",
    ):
        assert len(settings[f"storage.{key}"]["doc"]) > 20, key
    assert settings["storage.backend"]["value"] == "auto"
    assert all(
        name in settings["storage.backend"]["doc"]
        for name in ("embedded", "localnet", "kubo", "pinata", "gateway")
    )
    assert "vault" in settings["storage.pinata-jwt"]["doc"].lower()
