"""Fixtures of the node tests: one local market served in this process per module, a market of
its own per test, node processes with their own homes and wallets, and the engine checked for
containers left behind."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nosana_node.chain.endpoint import Endpoint, localnet_endpoint
from nosana_node.localnet.instance import Localnet
from nosana_node.localnet.server import ServerThread
from tests.corekit import IMAGE, STORE_IDS, engine, leftover_containers, store_id
from tests.localnet.conftest import Served
from tests.node.nodekit import Market, NodeProcess, fresh_wallet


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with tempfile.TemporaryDirectory(prefix="nosana-market-") as tmp:
        ledger = Path(tmp) / "ledger"
        net = Localnet.open(ledger)
        server = ServerThread(net.chain).start()
        try:
            yield Served(net, server, ledger)
        finally:
            server.stop()
            net.close()


@pytest.fixture(scope="module")
def endpoint(served: Served) -> Endpoint:
    return localnet_endpoint(served.ledger, served.rpc_url, served.ws_url)


@pytest.fixture(scope="session", autouse=True)
def job_image() -> str:
    api = engine()
    try:
        api.inspect_image(IMAGE)
    except Exception as exc:  # pragma: no cover - set-up problem
        pytest.fail(f"job image {IMAGE} missing ({exc}); run `make images`")
    finally:
        api.close()
    return IMAGE


@pytest.fixture
def market(served: Served, endpoint: Endpoint) -> Iterator[Market]:
    made = Market(served, endpoint)
    yield made
    made.close()


NodeFactory = Callable[..., NodeProcess]


@pytest.fixture
def start_node(served: Served, endpoint: Endpoint, market: Market, tmp_path: Path) -> Iterator[NodeFactory]:
    """``start_node(keypair=None, home=None, rpc_url=None, ws_url=None, env={}, args=(), stderr=None)``:
    a node process on this test's market (a fresh wallet and home unless given). Stopped after the
    test; no container of its home may be left."""
    nodes: list[NodeProcess] = []
    homes: list[Path] = []

    def start(
        keypair: Path | None = None,
        home: Path | None = None,
        *,
        rpc_url: str | None = None,
        ws_url: str | None = None,
        env: dict[str, str] | None = None,
        market_address: object = None,
        args: tuple[str, ...] = (),
        stderr: Path | None = None,
    ) -> NodeProcess:
        keypair = keypair or fresh_wallet(served, endpoint, tmp_path / "keys")
        home = home or tmp_path / f"node-{len(homes)}"
        homes.append(home)
        node = NodeProcess(
            home,
            market_address or market.address,  # type: ignore[arg-type]
            keypair,
            rpc_url=rpc_url or served.rpc_url,
            ws_url=ws_url or served.ws_url,
            env=env,
            args=args,
            stderr=stderr,
        )
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()
    for home in dict.fromkeys(homes):
        sid = store_id(home)
        if sid is not None:
            STORE_IDS.append(sid)
            left = leftover_containers(home)
            assert not left, f"containers left behind: {[c['Names'] for c in left]}"
