"""Who may read a job's logs, over real HTTP against a job posted on the local market: the
operator with its token, the poster with a signature of a fresh challenge (its Solana keypair);
everyone else gets 401 or 403, and an unknown job 404. The developer's `job logs` command does
the poster's part in a real process."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from solders.keypair import Keypair

from nosana_node.api.access import ChainParties
from nosana_node.api.bus import LogBus
from nosana_node.chain.client import ChainClient
from nosana_node.chain.endpoint import Endpoint
from tests.api.apikit import WAIT, FlowThread, job_address, serve
from tests.api.apikit import Served as Api
from tests.api.test_follow import counting, expected, printed
from tests.chain.conftest import FAST
from tests.cli import REPO
from tests.localnet.conftest import Served

pytestmark = pytest.mark.docker


@dataclass
class Posted:
    job: str
    poster: Keypair
    client: ChainClient


@pytest.fixture(scope="module")
def posted(served: Served, endpoint: Endpoint) -> Iterator[Posted]:
    """A job posted by ``client-1`` on the default market."""
    poster = endpoint.local_keypair("client-1")
    client = ChainClient.connect(endpoint, poster, FAST)
    address, _ = served.market("default")
    job = client.list_job(address, hashlib.sha256(b"api access test").digest(), 600).job
    try:
        yield Posted(str(job), poster, client)
    finally:
        client.close()


def parties_of(client: ChainClient) -> ChainParties:
    def read(job: str) -> tuple[str, str] | None:
        from solders.pubkey import Pubkey

        account = client.job(Pubkey.from_string(job))
        return None if account is None else (str(account.project), str(account.payer))

    return ChainParties(read)


@pytest.fixture
def api(home: Path, posted: Posted) -> Iterator[Api]:
    """The API over a home where the posted job's flow ran (5 lines)."""
    bus = LogBus()
    FlowThread(home, bus, counting(5, "0"), posted.job).start().join()
    with serve(home, bus, parties=parties_of(posted.client)) as served:
        yield served


def signed(api: Api, job: str, key: Keypair, *, message: str | None = None) -> str:
    """Credentials of ``key`` for a fresh challenge of ``job`` (``message``: sign that instead)."""
    with api.client() as client:
        challenge = client.post(f"/jobs/{job}/challenge").json()
    signature = key.sign_message((message if message is not None else challenge["message"]).encode())
    return f"Nosana-Signature pubkey={key.pubkey()},nonce={challenge['nonce']},signature={signature}"


def logs(api: Api, job: str, authorization: str | None) -> tuple[int, str]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with api.client() as client:
        response = client.get(f"/jobs/{job}/logs?format=text", headers=headers)
    return response.status_code, response.text


def test_the_operator_and_the_poster_read_the_log(api: Api, posted: Posted) -> None:
    assert printed(logs(api, posted.job, f"Bearer {api.token}")[1]) == expected(5)
    status, text = logs(api, posted.job, signed(api, posted.job, posted.poster))
    assert status == 200 and printed(text) == expected(5)
    token = api.ctx.home / "api-token"
    assert token.stat().st_mode & 0o777 == 0o600 and token.read_text().strip() == api.token


def test_without_or_with_wrong_credentials_nothing_of_the_log_is_shown(api: Api, posted: Posted) -> None:
    other = Keypair()
    with api.client() as client:
        first = client.post(f"/jobs/{posted.job}/challenge").json()
    reused = f"Nosana-Signature pubkey={posted.poster.pubkey()},nonce={first['nonce']},signature=" + str(
        posted.poster.sign_message(first["message"].encode())
    )
    cases = {
        "none": (None, 401),
        "wrong token": ("Bearer not-the-token-0123456789", 401),
        "unknown scheme": ("Basic dXNlcjpwYXNz", 401),
        "malformed": ("Nosana-Signature pubkey=abc", 401),
        "unknown nonce": (f"Nosana-Signature pubkey={other.pubkey()},nonce=00,signature=11", 401),
        "signed by another key as the poster": (
            signed(api, posted.job, other).replace(str(other.pubkey()), str(posted.poster.pubkey())),
            401,
        ),
        "another message signed": (signed(api, posted.job, posted.poster, message="something else"), 401),
        "not the poster": (signed(api, posted.job, other), 403),
    }
    for name, (authorization, status) in cases.items():
        got, text = logs(api, posted.job, authorization)
        assert got == status, f"{name}: {got} {text}"
        assert "line 1" not in text and json.loads(text)["error"], name
    assert logs(api, posted.job, reused)[0] == 200
    assert logs(api, posted.job, reused)[0] == 401  # a challenge is used once
    with api.client() as client:
        response = client.get(f"/jobs/{posted.job}/logs")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_challenge_and_one_for_another_job_are_refused(home: Path, posted: Posted) -> None:
    now = [1_000_000.0]
    bus, other_job = LogBus(), job_address()
    FlowThread(home, bus, counting(2, "0"), posted.job).start().join()
    FlowThread(home, bus, counting(2, "0"), other_job).start().join()
    with serve(home, bus, parties=parties_of(posted.client), access_clock=lambda: now[0]) as api:
        late = signed(api, posted.job, posted.poster)
        now[0] += 61
        status, text = logs(api, posted.job, late)
        assert (status, json.loads(text)["error"]) == (401, "the challenge expired; ask for a new one")
        elsewhere = signed(api, other_job, posted.poster)
        assert logs(api, posted.job, elsewhere)[0] == 401


def test_unknown_jobs_and_bad_addresses(api: Api, posted: Posted) -> None:
    unknown = job_address()
    with api.client() as client:
        for method, path in [
            ("GET", f"/jobs/{unknown}"),
            ("GET", f"/jobs/{unknown}/logs"),
            ("GET", f"/jobs/{unknown}/logs?follow=1"),
            ("GET", f"/jobs/{unknown}/logs/ws"),
            ("POST", f"/jobs/{unknown}/challenge"),
        ]:
            response = client.request(method, path, headers=api.operator)
            assert response.status_code == 404, path
            assert response.json()["error"] == f"this node has no job {unknown}"
        assert client.get("/jobs/not-an-address!", headers=api.operator).status_code == 400
        assert client.get("/jobs/0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl/logs").status_code == 400
        assert client.get("/nothing-here").status_code == 404


def test_too_many_challenges_waiting_is_429(home: Path, posted: Posted) -> None:
    bus = LogBus()
    FlowThread(home, bus, counting(1, "0"), posted.job).start().join()
    with serve(home, bus, max_challenges=3) as api, api.client() as client:
        codes = [client.post(f"/jobs/{posted.job}/challenge").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_job_document_is_open_and_holds_no_log_text(api: Api, posted: Posted) -> None:
    with api.client() as client:
        doc = client.get(f"/jobs/{posted.job}").json()
    assert doc["job"] == posted.job and doc["flow"]["status"] == "succeeded"
    (op,) = doc["flow"]["ops"]
    assert op["op"] == "count" and op["status"] == "succeeded" and op["exit_code"] == 0
    assert "line 1" not in json.dumps(doc)


def test_websocket_credentials_refused_before_or_after_the_upgrade(api: Api, posted: Posted) -> None:
    async def attempt(header: str | None, first: str | None) -> tuple[int | None, int | None]:
        headers = {"Authorization": header} if header else {}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{api.url}/jobs/{posted.job}/logs/ws", headers=headers) as ws:
                    if first is not None:
                        await ws.send_str(first)
                    message = await ws.receive()
                    return None, ws.close_code if message.type != aiohttp.WSMsgType.TEXT else -1
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status, None

    other = Keypair()
    run = lambda h, f: asyncio.run(asyncio.wait_for(attempt(h, f), WAIT))  # noqa: E731
    assert run("Bearer wrong-token-0123456789", None) == (401, None)
    assert run(signed(api, posted.job, other), None) == (403, None)
    assert run(None, json.dumps({"authorization": "Bearer wrong-token-0123456789"})) == (None, 4401)
    assert run(None, json.dumps({"authorization": signed(api, posted.job, other)})) == (None, 4403)
    assert run(None, "not json") == (None, 4401)
    assert run(f"Bearer {api.token}", None) == (None, -1)  # the log comes


def test_job_logs_signs_as_the_poster_in_a_real_process(api: Api, posted: Posted, tmp_path: Path) -> None:
    key = tmp_path / "poster.json"
    key.write_text(json.dumps(list(bytes(posted.poster))))
    key.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    env.update(NOSANA_HOME=str(tmp_path / "dev-home"), NOSANA_KEYPAIR=str(key), NOSANA_NETWORK="devnet")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "nosana_node", "job", "logs", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=WAIT)

    done = cli(posted.job, "--node", api.url)
    assert done.returncode == 0, done.stderr
    assert "count | line 1\ncount | line 2\n" in done.stdout
    followed = cli(posted.job, "--node", api.url, "--follow", "--json")
    records = [json.loads(line) for line in followed.stdout.splitlines()]
    assert printed("".join(r.get("d", "") for r in records)) == expected(5)
    assert records[-1]["type"] == "end" and records[-1]["status"] == "succeeded"
    operator = cli(posted.job, "--node", api.url, "--token-file", str(api.ctx.home / "api-token"))
    assert operator.returncode == 0 and "count | line 5" in operator.stdout
    key.write_text(json.dumps(list(bytes(Keypair()))))
    refused = cli(posted.job, "--node", api.url)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().endswith(f"did not post job {posted.job} (HTTP 403)")
    assert "Traceback" not in refused.stderr
    gone = cli(posted.job, "--node", "http://127.0.0.1:9")
    assert gone.returncode == 1 and "cannot be reached" in gone.stderr and "Traceback" not in gone.stderr
