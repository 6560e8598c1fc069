"""`node start` serves the API: a real node process on a local market (real LiteSVM behind real
JSON-RPC/PubSub), a pipeline posted by a client, its live log followed by the poster over HTTP
with a signed challenge, the page in a real browser, /status, /jobs, /metrics, /health, and the
node's own log as JSON lines (each lifecycle event once, with its ids)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.pubkey import Pubkey

from nosana_node.api.client import LogClient
from nosana_node.chain.endpoint import Endpoint
from tests.api.apikit import WAIT, eventually, gated, open_gate
from tests.node.conftest import start_node  # noqa: F401 - fixture
from tests.node.nodekit import Market, NodeProcess, pipeline

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PRICE = 1000  # NOS base units per second
SECRET = "tok-5ecr3t-api-value-17"
TOKEN_ENV = "    environment:\n      TOKEN: {type: nos/vault, value: ci/token}\n"


@pytest.fixture
def market(served: Any, endpoint: Endpoint) -> Iterator[Market]:
    """A market of this test that pays: a job's node earns price x seconds it ran."""
    made = Market(served, endpoint, price=PRICE)
    yield made
    made.close()


def api_url(node: NodeProcess) -> str:
    return node.wait_line(r"API and status page (http://\S+)/ ").group(1)


def test_the_poster_follows_a_job_live_and_the_node_reports_it(
    start_node: Any,  # noqa: F811
    market: Market,
    endpoint: Endpoint,
    tmp_path: Path,
) -> None:
    home = tmp_path / "node"
    home.mkdir()
    (home / "config.edn").write_text(  # a secret the job reads: masked in all the API says
        '{:vault {:backend :config} :secrets {"ci/token" #env NODE_TEST_TOKEN} :node {:vault-secrets true}}\n'
    )
    node = start_node(home=home, env={"NOSANA_LOG_FORMAT": "json", "NODE_TEST_TOKEN": SECRET})
    url = api_url(node)
    node.wait_line("waiting in the queue")
    token = (node.home / "api-token").read_text().strip()
    operator = {"Authorization": f"Bearer {token}"}
    tag = uuid.uuid4().hex[:8]
    job = str(market.post(gated(f"echo line-$((40+2))-{tag} token=$TOKEN", extra=TOKEN_ENV)))
    with httpx.Client(base_url=url, timeout=WAIT) as http:
        eventually(
            lambda: (http.get("/status").json().get("current") or {}).get("job") == job, message="current"
        )
        node.wait_line(f'"event": "op-started", "job": "{job}"')
        poster = LogClient(url, keypair=endpoint.local_keypair("client-1"))
        records: list[dict[str, Any]] = []
        with poster:
            for record in poster.follow(job):
                records.append(record)
                said = "".join(r.get("d", "") for r in records)
                if re.search(r"(^|\n)ready\n", said) and "gate" not in records[0]:
                    records[0]["gate"] = "opened"
                    open_gate(job)
        market.wait_done(job)
        node.wait_line(f"job {job} finished")
        status = http.get("/status").json()
        listed = http.get("/jobs").json()["jobs"]
        detail = http.get(f"/jobs/{job}").json()
        metrics = http.get("/metrics").text
        health = http.get("/health")
        stored = http.get(f"/jobs/{job}/logs?format=text", headers=operator).text
        stranger = http.get(f"/jobs/{job}/logs")
    assert records[0].pop("gate") == "opened"
    text = "".join(r["d"] for r in records if r["type"] == "log")
    assert f"line-42-{tag} token=[MASKED]\n" in text and text == stored
    said = [json.dumps(records), stored, json.dumps(detail), json.dumps(listed), metrics, node.output]
    assert not [i for i, what in enumerate(said) if SECRET in what]
    assert records[-1] == {"type": "end", "t": records[-1]["t"], "status": "succeeded"}
    assert stranger.status_code == 401
    # what the node says about it
    assert detail["step"] == "finished" and detail["status"] == "succeeded"
    assert detail["result_cid"].startswith("Qm") and detail["finish_signature"]
    assert detail["flow"]["ops"][0]["status"] == "succeeded" and detail["flow"]["ops"][0]["exit_code"] == 0
    assert listed[0]["job"] == job and listed[0]["step"] == "finished"
    assert status["node"] == str(node.wallet) and status["version"] and status["uptime"] > 0
    assert status["current"] is None and status["finished"] == 1
    assert status["market"]["address"] == str(market.address) and status["balances"]["sol"] > 0
    account = market.wait_done(Pubkey.from_string(job))
    paid = PRICE * min(account.time_end - account.time_start, account.timeout)
    assert status["earnings"]["per_job"] == {job: paid} and status["earnings"]["nos"] == paid
    assert health.status_code == 200 and [c["check"] for c in health.json()["checks"]] == [
        "engine",
        "rpc",
        "vault",
        "disk",
    ]
    assert 'nosana_node_jobs_total{outcome="succeeded"} 1\n' in metrics
    assert "nosana_node_pickup_latency_seconds_count 1\n" in metrics
    assert 'nosana_node_job_duration_seconds_count{outcome="succeeded"} 1\n' in metrics
    assert re.search(r'nosana_node_rpc_requests_total\{method="getAccountInfo"\} [1-9]', metrics)
    assert "nosana_node_queue_wait_seconds_count 1\n" in metrics
    # the node's log: JSON lines; each lifecycle event of the job once, with its ids
    logged = [json.loads(line) for line in node.lines if line.startswith("{")]
    mine = [r for r in logged if r.get("job") == job]
    kinds = [r["event"] for r in mine]
    for kind in ("claimed", "started", "result-stored", "finish-sent", "finished"):
        assert kinds.count(kind) == 1, (kind, kinds)
    assert kinds.count("op-started") == 1 and kinds.count("op-ended") == 1
    finished = next(r for r in mine if r["event"] == "finished")
    assert finished["run"] and detail["result_cid"] in finished["message"] and finished["time"].endswith("Z")
    assert next(r for r in mine if r["event"] == "op-ended")["op"] == "work"
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in logged)


def test_the_status_page_shows_the_nodes_current_job_and_its_live_log(
    start_node: Any,  # noqa: F811
    market: Market,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.api.browser import chromium
    from tests.api.test_page import state

    node = start_node()
    url = api_url(node)
    node.wait_line("waiting in the queue")
    token = (node.home / "api-token").read_text().strip()
    tag = uuid.uuid4().hex[:8]
    with chromium() as browser:
        wait = WebDriverWait(browser, WAIT)
        browser.get(f"{url}/#token={token}")
        wait.until(lambda b: "queue" in b.find_element(By.ID, "market").text)
        job = str(market.post(gated(f"echo page-$((40+2))-{tag}")))
        wait.until(lambda b: job in b.find_element(By.ID, "current").text)  # no reload: it polls /status
        log = browser.find_element(By.ID, "log")
        wait.until(lambda b: "ready" in log.text)
        assert f"page-42-{tag}" not in log.text
        open_gate(job)
        wait.until(lambda b: f"page-42-{tag}" in log.text)  # arrived live
        wait.until(lambda b: "ended: succeeded" in state(b))
        market.wait_done(job)
        wait.until(lambda b: job[:12] in b.find_element(By.ID, "jobs").text)
        wait.until(lambda b: "earned" in b.find_element(By.ID, "market").text)
        health = browser.find_element(By.ID, "health").text
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert all(check in health for check in ("engine", "rpc", "vault", "disk"))
    assert not errors, errors


def test_the_api_is_off_or_its_port_is_taken(start_node: Any, market: Market) -> None:  # noqa: F811
    off = start_node(env={"NOSANA_NODE_API": "off", "NOSANA_LOG_FORMAT": "text"})
    off.wait_line("waiting in the queue")
    assert "API and status page" not in off.output
    # no API: the node's log (human text) still tells each lifecycle event and each op once
    job = str(market.post(pipeline("echo no-api")))
    off.wait_line(f"job {job} finished")
    events = (
        "claimed [(]run",
        "started [(]flow",
        "result stored: Qm",
        "finish sent: ",
        "finished: result Qm",
    )
    said = {what: off.count(rf"^\S+ \S+ INFO nosana_node\.\S+: job {job} {what}") for what in events}
    assert set(said.values()) == {1}, said
    assert off.count(rf"INFO nosana_node\.api: job {job} op work started$") == 1
    assert off.count(rf"INFO nosana_node\.api: job {job} op work ended: succeeded$") == 1
    assert not off.count(r'^[{]"time"')  # text, not JSON
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        clash = start_node(env={"NOSANA_NODE_API": f"127.0.0.1:{port}"})
        assert clash.wait(WAIT) == 2
    finally:
        taken.close()
    last = clash.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"127.0.0.1:{port}" in last and ":node :api" in last
    assert "Traceback" not in clash.output
