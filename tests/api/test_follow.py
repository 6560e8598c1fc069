"""Live logs over real HTTP: a job's container prints, a client follows it by Server-Sent Events
or WebSocket from the middle of the run, and gets each line once, in order, then the end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from nosana_node.api.bus import LogBus
from tests.api.apikit import WAIT, FlowThread, Recorder, job_address, log_text, serve, sse_events
from tests.corekit import pipeline

pytestmark = pytest.mark.docker

COUNT = 30


def counting(count: int = COUNT, pause: str = "0.05") -> str:
    """A job printing ``line 1`` … ``line N`` on stdout, ``pause`` seconds apart."""
    script = f"i=1; while [ $i -le {count} ]; do echo line $i; sleep {pause}; i=$((i+1)); done"
    return pipeline(f"  - name: count\n    commands:\n      - {json.dumps(script)}\n")


def expected(count: int = COUNT) -> list[str]:
    return [f"line {i}" for i in range(1, count + 1)]


def printed(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("line ")]


def test_a_follower_joining_mid_run_gets_every_line_once_then_the_end(home: Path) -> None:
    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    with serve(home, bus) as api, FlowThread(home, bus, counting(), job) as run:
        recorder.wait(lambda: sum("line " in e.text for e in recorder.lines(job)) >= 5)
        with (
            api.client() as client,
            client.stream("GET", f"/jobs/{job}/logs?follow=1", headers=api.operator) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = list(sse_events(response))
        flow = run.join()
    recorder.close()
    assert str(flow.status) == "succeeded"
    assert printed(log_text(events, "stdout")) == expected()
    assert events[-1].event == "end" and events[-1].data["status"] == "succeeded"
    ops = [(e.data["op"], e.data["status"]) for e in events if e.event == "op"]
    assert ("count", "succeeded") in ops


def test_the_stored_log_of_an_ended_job_as_json_lines_and_text(home: Path) -> None:
    bus, job = LogBus(), job_address()
    FlowThread(home, bus, counting(5, "0"), job).start().join()
    with serve(home, bus) as api, api.client() as client:
        lines = client.get(f"/jobs/{job}/logs", headers=api.operator)
        text = client.get(f"/jobs/{job}/logs?format=text", headers=api.operator)
        follow = client.get(f"/jobs/{job}/logs?follow=1", headers=api.operator)
    assert lines.status_code == 200 and lines.headers["content-type"] == "application/x-ndjson"
    records = [json.loads(line) for line in lines.text.splitlines()]
    assert {r["op"] for r in records} == {"count"} and {"t", "attempt", "s", "d"} <= records[0].keys()
    assert printed("".join(r["d"] for r in records if r["s"] == "stdout")) == expected(5)
    assert printed(text.text) == expected(5) and text.headers["content-type"].startswith("text/plain")
    # following a job that has ended: its log, then the end at once
    assert follow.status_code == 200 and follow.text.rstrip().endswith('"status":"succeeded"}')


def test_a_websocket_follower_with_its_credentials_as_first_message(home: Path) -> None:
    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    with serve(home, bus) as api, FlowThread(home, bus, counting(), job) as run:
        recorder.wait(lambda: len(recorder.lines(job)) >= 3)

        async def follow() -> list[dict[str, object]]:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"{api.url}/jobs/{job}/logs/ws") as ws,
            ):
                await ws.send_str(json.dumps({"authorization": f"Bearer {api.token}"}))
                got = []
                async for message in ws:
                    got.append(json.loads(message.data))
                    if got[-1]["type"] == "end":
                        break
                return got

        messages = asyncio.run(asyncio.wait_for(follow(), WAIT))
        run.join()
    recorder.close()
    text = "".join(str(m["d"]) for m in messages if m["type"] == "log" and m["s"] == "stdout")
    assert printed(text) == expected()
    assert messages[-1] == {"type": "end", "t": messages[-1]["t"], "status": "succeeded"}
