"""The node in real processes against a local market: what the node tests share.

* :class:`Market` - a market of one test on the local market served in this process (real
  LiteSVM behind real JSON-RPC/PubSub and its IPFS endpoint): post pipelines and documents as a
  client (``client-1``) does, follow jobs through subscriptions, count what landed;
* :class:`NodeProcess` - ``nosana-node node start`` in its own process, with its own home and
  keypair (as on another host): its output read as it comes, waited on line by line;
* :func:`fresh_wallet` - a node wallet with SOL and stake and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobAccount, JobState
from nosana_node.chain.client import ChainClient
from nosana_node.chain.documents import pipeline_document
from nosana_node.chain.endpoint import Endpoint
from nosana_node.chain.provider import Provider
from nosana_node.chain.rpc import RpcClient
from nosana_node.chain.transactions import open_market
from nosana_node.storage.cid import Cid
from nosana_node.storage.http import HttpOptions
from nosana_node.storage.kubo import KuboStorage
from tests.chain.conftest import FAST, fresh_node
from tests.cli import REPO
from tests.corekit import IMAGE
from tests.localnet.conftest import Served


def pipeline(*commands: str, name: str = "work", image: str = IMAGE, extra: str = "") -> str:
    """A one-job pipeline running ``commands``."""
    lines = "".join(f"      - {json.dumps(c)}\n" for c in commands)
    return f"global:\n  image: {image}\njobs:\n  - name: {name}\n    commands:\n{lines}{extra}"


def fresh_wallet(served: Served, endpoint: Endpoint, directory: Path, *, xnos: int = 10**12) -> Path:
    """A new node wallet (SOL, stake; no NOS account) saved as a private keypair file."""
    keypair = fresh_node(served, endpoint, xnos=xnos)
    path = directory / f"{keypair.pubkey()}.json"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(bytes(keypair))))
    path.chmod(0o600)
    return path


def let_job_go(container: str) -> None:
    """Let a job waiting in ``corekit.WAIT_FOR_GO`` go on."""
    from tests.corekit import engine, let_go

    api = engine()
    try:
        let_go(api, container)
    finally:
        api.close()


def wallet_of(path: Path) -> Pubkey:
    return Keypair.from_bytes(bytes(json.loads(path.read_text()))).pubkey()


class Market:
    """One market of a test on the served local market, and a client of it."""

    def __init__(
        self,
        served: Served,
        endpoint: Endpoint,
        *,
        price: int = 0,
        timeout: int = 3600,
        minimum: int = 0,
        access_key: Pubkey | None = None,
    ) -> None:
        self.served, self.endpoint = served, endpoint
        admin, market = endpoint.local_keypair("admin"), Keypair()
        ix, _ = open_market(
            endpoint.addresses,
            admin.pubkey(),
            market.pubkey(),
            job_price=price,
            job_timeout=timeout,
            node_xnos_minimum=minimum,
            program_id=endpoint.addresses.jobs_program,
            **({} if access_key is None else {"access_key": access_key}),
        )
        with RpcClient(endpoint.rpc_url) as rpc:
            Provider(rpc, admin).send([ix], [market], action="open market")
        self.address = market.pubkey()
        self.client: ChainClient = ChainClient.connect(endpoint, endpoint.local_keypair("client-1"), FAST)
        self.storage = KuboStorage(served.rpc_url, HttpOptions(timeout=30, retries=2), label="local market")

    def close(self) -> None:
        self.client.close()
        self.storage.close()

    def post_document(self, document: Any, timeout: int = 600) -> Pubkey:
        """Store a JSON document (or raw bytes) and list it as a job."""
        cid = self.storage.put(document) if isinstance(document, bytes) else self.storage.put_json(document)
        return self.client.list_job(self.address, cid.to_chain(), timeout).job

    def post(self, text: str, timeout: int = 600) -> Pubkey:
        """Post a pipeline (its text) as a job."""
        return self.post_document(pipeline_document(text), timeout)

    def wait_job(
        self, job: Pubkey, until: Callable[[JobAccount | None], bool], timeout: float = 90
    ) -> JobAccount | None:
        """The job account once ``until(account)`` holds (a subscription; AssertionError after
        ``timeout`` seconds)."""
        cond = threading.Condition()
        seen: list[JobAccount | None] = []

        def changed(account: JobAccount | None) -> None:
            with cond:
                seen.append(account)
                cond.notify_all()

        watch = self.client.watch_job(job, changed)
        try:
            with cond:
                if not cond.wait_for(lambda: any(until(a) for a in seen), timeout):
                    raise AssertionError(f"job {job}: waited {timeout}s; saw {[_state(a) for a in seen]}")
                return next(a for a in seen if until(a))
        finally:
            watch.close()

    def wait_done(self, job: Pubkey, timeout: float = 90) -> JobAccount:
        account = self.wait_job(job, lambda a: a is not None and a.state == JobState.DONE, timeout)
        assert account is not None
        return account

    def result(self, job: Pubkey) -> dict[str, Any]:
        """The result document of a finished job, fetched through its result digest."""
        account = self.client.job(job)
        assert account is not None and account.state == JobState.DONE
        cid = Cid.from_chain(account.ipfs_result)
        assert cid is not None, f"job {job} has no result"
        return json.loads(self.storage.get(cid))


def _state(account: JobAccount | None) -> str:
    return "closed" if account is None else str(JobState(account.state).name)


class NodeProcess:
    """``nosana-node node start`` in its own process group; its output collected line by line."""

    def __init__(
        self,
        home: Path,
        market: Pubkey | None,
        keypair: Path | None,
        *,
        rpc_url: str | None,
        ws_url: str | None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        stderr: Path | None = None,
    ) -> None:
        """``stderr``: a file for the node's stderr (else it is read with stdout, line by line).
        Without a market, keypair and URLs the node finds them itself (``args``: ``--network
        localnet --market default`` on the local market's home)."""
        self.home = home
        base = {k: v for k, v in os.environ.items() if not k.startswith(("NOSANA_", "VAULT_", "BAO_"))}
        chain = {
            "NOSANA_NETWORK": "localnet" if rpc_url else None,
            "NOSANA_RPC_URL": rpc_url,
            "NOSANA_WS_URL": ws_url,
            "NOSANA_KEYPAIR": None if keypair is None else str(keypair),
            "NOSANA_MARKET": None if market is None else str(market),
        }
        base.update({k: v for k, v in chain.items() if v is not None})
        base.update(
            NOSANA_HOME=str(home),
            NOSANA_DOCKER_TIMEOUT="120",
            NOSANA_CHAIN_RETRY_FOR="60",
            NOSANA_NODE_MIN_FREE_DISK="1m",
            NOSANA_NODE_API="127.0.0.1:0",  # any free port: several nodes run at once
        )
        base.update(env or {})
        self.env, self.keypair = base, keypair
        self.wallet = None if keypair is None else wallet_of(keypair)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nosana_node", "node", "start", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stderr is None else stderr.open("w"),
            text=True,
            env=base,
            cwd=REPO,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name="node-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def mark(self) -> int:
        """The number of lines so far (for ``wait_line(since=...)``)."""
        with self._cond:
            return len(self.lines)

    def wait_line(self, pattern: str, timeout: float = 90, count: int = 1, since: int = 0) -> re.Match[str]:
        """The ``count``-th output line matching ``pattern`` from line ``since`` on
        (AssertionError after ``timeout`` seconds)."""
        regex = re.compile(pattern)

        def found() -> list[re.Match[str]]:
            return [m for m in (regex.search(line) for line in self.lines[since:]) if m]

        with self._cond:
            ok = self._cond.wait_for(lambda: len(found()) >= count or self.proc.poll() is not None, timeout)
            matches = found()
            if len(matches) >= count:
                return matches[count - 1]
        state = "exited" if self.proc.poll() is not None else "running"
        raise AssertionError(f"node ({state}, ok={ok}) never printed {pattern!r}:\n{self.output[-4000:]}")

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines if regex.search(line))

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the node (its containers stay behind, as after a crash)."""
        self.proc.kill()
        self.wait()

    def wait(self, timeout: float = 90) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stop(self) -> int:
        """SIGTERM, then wait; SIGKILL if it does not end."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                return self.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.wait()
