"""Faults and load on live logs: clients that leave mid-stream, a client that reads nothing,
a thousand followers of one job. Each is bounded, and the job runs as it would alone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest

from nosana_node.api.bus import LogBus
from nosana_node.flow.cancel import CancelReason
from tests.api.apikit import (
    WAIT,
    FlowThread,
    Recorder,
    eventually,
    gated,
    job_address,
    open_gate,
    serve,
    sse_events,
)
from tests.corekit import job_log

pytestmark = pytest.mark.docker


def rss() -> int:
    """This process's resident memory, bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_clients_leaving_mid_stream_are_forgotten_and_the_job_goes_on(home: Path) -> None:
    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    with serve(home, bus) as api, FlowThread(home, bus, gated("echo after"), job) as run:
        recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
        fanout = api.server.api.fanout  # type: ignore[union-attr]
        for _ in range(3):
            with (
                api.client() as client,
                client.stream("GET", f"/jobs/{job}/logs?follow=1", headers=api.operator) as response,
            ):
                stream = sse_events(response)  # kept open until the block ends
                first = next(e for e in stream if e.event == "log")
                assert "ready" in first.data["d"]
                assert fanout.followers(job) >= 1
            # the connection is closed here, mid-stream
        eventually(lambda: fanout.count == 0, message="followers forgotten")

        async def leave_a_websocket() -> str:
            session = aiohttp.ClientSession()
            ws = await session.ws_connect(f"{api.url}/jobs/{job}/logs/ws", headers=api.operator)
            first = json.loads((await ws.receive(timeout=WAIT)).data)
            assert fanout.followers(job) == 1
            ws.get_extra_info("socket").shutdown(socket.SHUT_RDWR)  # gone mid-stream, no closing handshake
            await session.close()
            return str(first["d"])

        assert "ready" in asyncio.run(asyncio.wait_for(leave_a_websocket(), WAIT))
        eventually(lambda: fanout.count == 0, message="the WebSocket follower forgotten")
        with api.client() as client:
            assert "nosana_node_log_followers 0\n" in client.get("/metrics").text
        open_gate(job)
        flow = run.join()
    recorder.close()
    assert str(flow.status) == "succeeded"
    assert any("after" in e.text for e in recorder.lines(job))


READER = """
import socket, sys
host, port, path, token, out = sys.argv[1:]
s = socket.create_connection((host, int(port)))
head = f"GET {path} HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer {token}\\r\\nConnection: close"
s.sendall((head + "\\r\\n\\r\\n").encode())
with open(out, "wb") as f:
    while chunk := s.recv(1 << 20):
        f.write(chunk)
"""


def request(job: str, token: str) -> bytes:
    lines = [f"GET /jobs/{job}/logs?follow=1 HTTP/1.1", "Host: x", f"Authorization: Bearer {token}", "", ""]
    return "\r\n".join(lines).encode()


def test_a_client_that_reads_nothing_is_dropped_and_others_get_everything(home: Path, tmp_path: Path) -> None:
    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    size = 24 * 1024 * 1024  # far more than the kernel's socket buffers hold
    body = f"(yes 0123456789abcdefghijklmnopqrstuvwxyz || true) | head -c {size}; echo; echo done"
    with (
        serve(home, bus, max_pending=4 * 1024 * 1024) as api,
        FlowThread(home, bus, gated(body), job, log_cap=64 * 1024 * 1024) as run,
    ):
        recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
        fanout = api.server.api.fanout  # type: ignore[union-attr]
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", api.server.port))
        stuck.sendall(request(job, api.token))
        eventually(lambda: fanout.followers(job) == 1, message="the stuck client follows")
        out = tmp_path / "read.sse"
        path = f"/jobs/{job}/logs?follow=1"
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, "127.0.0.1", str(api.server.port), path, api.token, str(out)]
        )
        try:
            eventually(lambda: fanout.followers(job) == 2, message="the reader follows")
            open_gate(job)
            assert reader.wait(WAIT) == 0
        finally:
            reader.kill()
        flow = run.join()
        eventually(lambda: fanout.count == 0, message="both followers gone")
        with api.client() as client:
            metrics = client.get("/metrics").text
        stuck.settimeout(WAIT)
        received = 0
        with contextlib.suppress(ConnectionResetError):  # dropped: the connection was aborted
            while chunk := stuck.recv(1 << 20):
                received += len(chunk)
        stuck.close()
    recorder.close()
    assert str(flow.status) == "succeeded"
    records = [json.loads(line[6:]) for line in out.read_text().splitlines() if line.startswith("data: ")]
    text = "".join(r["d"] for r in records if r["type"] == "log" and r["s"] == "stdout")
    assert text == job_log(flow, "work", "stdout") and text.endswith("\ndone\n") and len(text) > size
    assert records[-1]["type"] == "end"
    assert "nosana_node_log_followers_dropped_total 1\n" in metrics
    assert received < size  # the stuck client never got the whole log


@pytest.mark.slow
def test_a_thousand_followers_of_one_job(home: Path) -> None:
    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    lines = 20
    body = f"i=1; while [ $i -le {lines} ]; do echo line $i; i=$((i+1)); done"
    with serve(home, bus) as api, FlowThread(home, bus, gated(body), job) as run:
        recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
        server = api.server.api  # type: ignore[union-attr]
        fanout = server.fanout
        headers = api.operator

        async def follow(session: aiohttp.ClientSession) -> str:
            async with session.get(f"{api.url}/jobs/{job}/logs?follow=1", headers=headers) as response:
                assert response.status == 200
                text = ""
                async for raw in response.content:
                    line = raw.decode()
                    if line.startswith("data: "):
                        record = json.loads(line[6:])
                        if record["type"] == "log" and record["s"] == "stdout":
                            text += record["d"]
                        elif record["type"] == "end":
                            return text
                return text + "<no end>"

        async def crowd(n: int, gate: bool) -> list[str]:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(WAIT)) as s:
                tasks = [asyncio.ensure_future(follow(s)) for _ in range(n)]
                if gate:
                    while fanout.followers(job) < n:
                        await asyncio.sleep(0.02)
                    await asyncio.get_running_loop().run_in_executor(None, open_gate, job)
                return await asyncio.gather(*tasks)

        texts = asyncio.run(asyncio.wait_for(crowd(1000, gate=True), 4 * WAIT))
        flow = run.join()
        eventually(lambda: fanout.count == 0, message="every follower forgotten")
        want = "".join(f"line {i}\n" for i in range(1, lines + 1))
        bad = [text for text in texts if not (text.endswith(want) and text.count("line 1\n") == 1)]
        assert not bad, (len(bad), bad[:2])
        # the same crowd again, twice (the job has ended: stored log and end): no growth
        sizes = []
        for _ in range(2):
            again = asyncio.run(asyncio.wait_for(crowd(1000, gate=False), 4 * WAIT))
            assert all(text.endswith(want) for text in again)
            eventually(lambda: fanout.count == 0, message="every follower forgotten")
            sizes.append(rss())
        loop = api.server._loop
        assert loop is not None
        # no handler left behind: the server's own task and the one counting
        eventually(
            lambda: asyncio.run_coroutine_threadsafe(_tasks(), loop).result(WAIT) <= 2, message="tasks"
        )
    recorder.close()
    assert str(flow.status) == "succeeded"
    assert sizes[1] - sizes[0] < 8 * 1024 * 1024, sizes


async def _tasks() -> int:
    return len(asyncio.all_tasks())


def test_a_follower_limit_says_503(home: Path) -> None:
    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    with serve(home, bus, max_followers=1) as api, FlowThread(home, bus, gated("echo after"), job) as run:
        recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
        with (
            api.client() as client,
            client.stream("GET", f"/jobs/{job}/logs?follow=1", headers=api.operator) as first,
        ):
            stream = sse_events(first)  # kept: closing the generator would close the connection
            assert next(stream).event == "log"
            second = httpx.get(f"{api.url}/jobs/{job}/logs?follow=1", headers=api.operator, timeout=WAIT)
            assert second.status_code == 503 and "limit" in second.json()["error"]
            assert second.headers["retry-after"] == "30"
            run.cancel.cancel(CancelReason.STOPPED, "the test is over")
            events = list(stream)
        run.join()
    recorder.close()
    assert events[-1].event == "end" and events[-1].data["status"] == "stopped"


def test_connections_past_the_limit_get_503_until_some_close(home: Path) -> None:
    with serve(home, LogBus(), max_connections=3) as api:
        port = api.server.port
        assert port is not None
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]  # nothing sent
        guard = api.server.guard
        assert guard is not None
        eventually(lambda: guard.open == 3, message="three connections counted")
        refused = httpx.get(f"{api.url}/health", timeout=WAIT)
        assert refused.status_code == 503 and "too many connections" in refused.text
        idle.pop().close()
        eventually(lambda: guard.open == 2, message="a connection closed")
        with api.client() as client:  # one connection, kept alive: served
            assert client.get("/health").status_code == 200
            assert client.get("/metrics").status_code == 200
        for sock in idle:
            sock.close()
        eventually(lambda: guard.open == 0, message="every connection closed")
