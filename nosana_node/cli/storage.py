"""`nosana-node storage`: put, get and compute IPFS CIDs (CIDv0, as ``ipfs add`` gives them).

The backend is ``:storage :backend`` (``--backend`` overrides it): the embedded store under
``<home>/storage`` by default, the local market's endpoint on ``--network localnet``. ``get``
writes nothing until the content is complete and verified (a temporary file, renamed or copied
out at the end). Exit codes: 2 bad input (malformed CID, CIDv1, missing file, over the cap),
1 failure (not found, content mismatch, backend down or slow).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from nosana_node.cli import options
from nosana_node.errors import UserInputError

if TYPE_CHECKING:
    from nosana_node.storage.base import Storage
    from nosana_node.storage.cid import Cid

T = TypeVar("T")

app = typer.Typer(help="Store and fetch content by IPFS CID (job documents, results).", no_args_is_help=True)

BACKEND = typer.Option(
    None,
    "--backend",
    "-b",
    help="embedded, localnet, kubo, pinata or gateway [default: :storage :backend].",
)
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
NETWORK = typer.Option(
    None,
    "--network",
    help="mainnet, devnet or localnet; on localnet the default backend is the local market's "
    "IPFS endpoint at --rpc-url [default: :network].",
)
RPC_URL = typer.Option(None, "--rpc-url", help="The local market's URL [default: :rpc-url].")


def _open(where: Where) -> Storage:
    from nosana_node import wiring
    from nosana_node.config.load import Flag
    from nosana_node.storage.factory import BACKENDS

    if where.backend is not None and where.backend not in (*BACKENDS, "auto"):
        raise UserInputError(f"--backend: unknown backend {where.backend!r} (one of {', '.join(BACKENDS)})")
    flags = options.config_flags(home=where.home)
    if where.network is not None:
        flags["network"] = Flag(where.network, "--network")
    if where.rpc_url is not None:
        flags["rpc-url"] = Flag(where.rpc_url, "--rpc-url")
    loaded = wiring.load_configuration(flags=flags)
    return wiring.storage_for(loaded, backend=where.backend)


@dataclass(frozen=True)
class Where:
    """The storage a command uses: its flags on top of the configuration."""

    backend: str | None
    home: Path | None
    network: str | None = None
    rpc_url: str | None = None


def _input(path: str, cap: int) -> Any:
    """An open binary file for ``path`` (``-``: standard input); a file over ``cap`` is refused."""
    from nosana_node import units

    if path == "-":
        return sys.stdin.buffer
    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise UserInputError(f"{path}: is a directory (store a file, or an archive of the directory)")
        if size > cap:
            raise UserInputError(
                f"{path}: {units.approx_size(size)} is over the storage cap of {units.size(cap)} "
                "(:storage :max-size)"
            )
        return open(p, "rb")
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read ({exc.strerror})") from None


def _print(as_json: bool, doc: dict[str, Any], text: str) -> None:
    sys.stdout.write((json.dumps(doc) if as_json else text) + "\n")


@app.command("put")
def put(
    file: str = typer.Argument(..., metavar="FILE|-", help="File to store; - reads standard input."),
    backend: str | None = BACKEND,
    home: Path | None = options.HOME,
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Store a file and print its CID (Qm…)."""
    storage = _open(Where(backend, home, network, rpc_url))
    try:
        source = _input(file, storage.max_size)
        try:
            cid = storage.put(source)
        finally:
            if source is not sys.stdin.buffer:
                source.close()
    finally:
        storage.close()
    _print(as_json, {"cid": str(cid), "digest": cid.digest.hex(), "backend": storage.name}, str(cid))


@app.command("get")
def get(
    cid: str = typer.Argument(..., metavar="CID", help="CIDv0 (Qm…), or /ipfs/Qm…"),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Write to this file (replaced only when complete) [default: standard output].",
    ),
    backend: str | None = BACKEND,
    home: Path | None = options.HOME,
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = typer.Option(False, "--json", help="With -o: print what was written as JSON."),
) -> None:
    """Fetch content by CID, verified against it, to stdout or a file."""
    from nosana_node.storage.base import save
    from nosana_node.storage.cid import Cid

    parsed = Cid.parse(cid)
    if as_json and output is None:
        raise UserInputError("storage get --json needs -o FILE (stdout carries the JSON summary)")
    target = None
    if output is not None:
        target = output.expanduser()
        if target.is_dir():
            raise UserInputError(f"-o {output}: is a directory; name the file to write")
        if not target.parent.is_dir():
            raise UserInputError(f"-o {output}: directory {target.parent} does not exist")
    storage = _open(Where(backend, home, network, rpc_url))
    try:
        if target is not None:
            size = save(storage, parsed, target)
            if as_json:
                doc = {"cid": str(parsed), "size": size, "path": str(target), "backend": storage.name}
                sys.stdout.write(json.dumps(doc) + "\n")
            else:
                print(f"{parsed}: {size} bytes written to {target}", file=sys.stderr)
            return
        with tempfile.TemporaryDirectory(prefix="nosana-get-") as tmp:
            spooled = Path(tmp) / "content"
            save(storage, parsed, spooled)
            with open(spooled, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.flush()
    finally:
        storage.close()


@app.command("cid")
def cid(
    file: str = typer.Argument(..., metavar="FILE|-", help="File to hash; - reads standard input."),
    as_json: bool = JSON,
) -> None:
    """Print the CID a file has (as ipfs add gives it); nothing is stored."""
    from nosana_node.storage.dag import DagBuilder, pieces

    source = _input(file, 1 << 62)
    builder = DagBuilder()
    try:
        for piece in pieces(source):
            builder.feed(piece)
    except OSError as exc:
        raise UserInputError(f"{file}: cannot read ({exc.strerror})") from None
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    root = builder.finish()
    _print(as_json, {"cid": str(root), "digest": root.digest.hex(), "size": builder.size}, str(root))


@app.command("pin")
def pin(
    cid: str = typer.Argument(..., metavar="CID"),
    backend: str | None = BACKEND,
    home: Path | None = options.HOME,
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Ask the backend to keep a CID."""
    parsed, (_, name) = _on(cid, Where(backend, home, network, rpc_url), lambda storage, c: storage.pin(c))
    _print(as_json, {"cid": str(parsed), "pinned": True, "backend": name}, f"{parsed} pinned")


@app.command("has")
def has(
    cid: str = typer.Argument(..., metavar="CID"),
    backend: str | None = BACKEND,
    home: Path | None = options.HOME,
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Say whether the backend keeps a CID (exit 0 yes, 1 no)."""
    parsed, (found, name) = _on(
        cid, Where(backend, home, network, rpc_url), lambda storage, c: storage.has(c)
    )
    said = "is" if found else "is not"
    _print(as_json, {"cid": str(parsed), "has": found, "backend": name}, f"{parsed} {said} kept by {name}")
    if not found:
        raise typer.Exit(1)


def _on(cid: str, where: Where, action: Callable[[Storage, Cid], T]) -> tuple[Cid, tuple[T, str]]:
    """``action(storage, CID)`` on the configured storage (the CID checked first, the storage
    closed after); returns the CID and (the action's result, the storage's name)."""
    from nosana_node.storage.cid import Cid

    parsed = Cid.parse(cid)
    storage = _open(where)
    try:
        return parsed, (action(storage, parsed), storage.name)
    finally:
        storage.close()
