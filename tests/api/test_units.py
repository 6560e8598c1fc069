"""The parts under the server, on their own: stored logs read back (partial lines, skips, merge by
time), the fan-out's limits (a follower too far behind, events nobody follows, a stalled loop),
the log bus numbering lines per attempt, access checks without HTTP, and the exposition format."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from solders.keypair import Keypair

from nosana_node.api import fanout as fanout_module
from nosana_node.api.access import Access, AccessDenied, challenge_message, verify_signature
from nosana_node.api.bus import LogBus, LogLine
from nosana_node.api.fanout import Fanout, TooManyFollowers
from nosana_node.api.metrics import Registry
from nosana_node.api.storedlog import StoredLog
from nosana_node.flow.model import Flow, Op


def write_log(path: Path, records: list[tuple[float, str, str]], partial: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"t": t, "s": s, "d": d}) + "\n" for t, s, d in records)
    path.write_text(lines + partial)


def test_a_stored_log_is_merged_by_time_without_its_partial_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_log(logs / "000.1.jsonl", [(1.0, "stdout", "a1\n"), (3.0, "stdout", "a3\n")])
    write_log(logs / "001.1.jsonl", [(2.0, "stderr", "b2\n")], partial='{"t": 4.0, "s": "stdout", "d": "b4')
    write_log(logs / "001.2.jsonl", [(5.0, "node", "b5\n")])
    (logs / "notes.txt").write_text("ignored")
    stored = StoredLog(logs, ["first", "second"])
    lines = []
    while not stored.done:
        lines += stored.batch(max_chars=1)
    assert [(line.op, line.attempt, line.text) for line in lines] == [
        ("first", 1, "a1\n"),
        ("second", 1, "b2\n"),
        ("first", 1, "a3\n"),
        ("second", 2, "b5\n"),
    ]
    assert stored.counts == {("first", 1): 2, ("second", 1): 1, ("second", 2): 1}
    again = StoredLog(logs, ["first", "second"], skip={("first", 1): 1, ("second", 2): 1})
    assert [line.text for line in again.batch()] == ["b2\n", "a3\n"]
    assert StoredLog(tmp_path / "none", []).batch() == []


def flow_with(op_id: str) -> tuple[Flow, Op]:
    op = Op(id=op_id, type="docker/run", args={})
    return Flow(id="flowA", name="test", ops=[op]), op


def test_the_bus_numbers_lines_per_attempt_and_counts_running_containers() -> None:
    bus = LogBus()
    seen: list[LogLine] = []
    stop = bus.listen(lambda e: seen.append(e) if isinstance(e, LogLine) else None)
    flow, op = flow_with("work")
    for attempt in (1, 2):
        flow.states["work"].run_count = attempt
        bus.op_started(flow, op)
        assert bus.running_containers == 1 and bus.running("flowA") == {"work": 0}
        bus.op_output(op, "stdout", "x\n")
        bus.op_output(op, "stderr", "y\n")
        bus.op_finished(flow, op)
    bus.op_output(op, "stdout", "after the end\n")  # an op the bus does not run: ignored
    stop()
    assert [(e.attempt, e.seq, e.text) for e in seen] == [
        (1, 1, "x\n"),
        (1, 2, "y\n"),
        (2, 1, "x\n"),
        (2, 2, "y\n"),
    ]
    assert bus.running_containers == 0


def test_fanout_limits() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        bus = LogBus()
        fan = Fanout(bus, loop, max_followers=2, max_pending=300)
        flow, op = flow_with("work")
        dropped: list[str] = []
        slow = fan.follow("flowA", on_drop=lambda: dropped.append("slow"))
        quick = fan.follow("flowA")
        with pytest.raises(TooManyFollowers):
            fan.follow("flowB")
        bus.op_started(flow, op)
        bus.op_output(op, "stdout", "one\n")
        items = await quick.take(5)
        assert [i.kind for i in items] == ["op", "log"] and json.loads(items[1].json)["d"] == "one\n"
        for _ in range(5):  # the quick one reads each line, the slow one none
            bus.op_output(op, "stdout", "x" * 40 + "\n")
            assert len(await quick.take(5)) == 1
        assert slow.dropped and dropped == ["slow"] and quick.dropped is None and fan.dropped == 1
        fan.unfollow(slow)
        fan.unfollow(slow)  # twice: nothing
        assert fan.count == 1 and fan.followers("flowA") == 1
        fan.unfollow(quick)
        assert fan.count == 0 and fan._followed == frozenset()
        # events of a flow nobody follows are not even handed over
        bus.op_output(op, "stdout", "nobody\n")
        assert len(fan._handover) == 0
        fan.close()

    asyncio.run(scenario())


def test_a_stalled_loop_drops_the_followers_of_a_flow_past_the_hand_over_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout_module, "MAX_HANDOVER", 3)

    async def scenario() -> None:
        bus = LogBus()
        fan = Fanout(bus, asyncio.get_running_loop(), max_followers=10, max_pending=1 << 20)
        follower = fan.follow("flowA")
        flow, op = flow_with("work")
        bus.op_started(flow, op)
        for _ in range(5):  # the loop does not run meanwhile: the hand-over fills up
            bus.op_output(op, "stdout", "line\n")
        await follower.take(5)
        assert follower.dropped == "the node fell behind sending this log; it was disconnected"

    asyncio.run(scenario())


def test_access_without_http() -> None:
    now = [100.0]
    poster, other = Keypair(), Keypair()
    access = Access("NODE", "t" * 32, lambda job: {str(poster.pubkey())}, clock=lambda: now[0])
    challenge = access.issue("JOB")
    assert challenge.message == challenge_message("NODE", "JOB", challenge.nonce, 160.0)
    signature = poster.sign_message(challenge.message.encode())
    assert verify_signature(str(poster.pubkey()), str(signature), challenge.message.encode())
    assert not verify_signature(str(other.pubkey()), str(signature), challenge.message.encode())
    assert not verify_signature("not a key", "not a signature", b"")
    header = f"Nosana-Signature pubkey={poster.pubkey()},nonce={challenge.nonce},signature={signature}"
    reader = access.authenticate(header, "JOB")
    assert access.authorize(reader, "JOB").key == str(poster.pubkey()) and access.waiting == 0
    assert access.authenticate(f"Bearer {'t' * 32}", "JOB").role == "operator"
    access.issue("JOB")
    now[0] += 61
    assert access.waiting == 0  # expired ones are forgotten
    with pytest.raises(AccessDenied) as denied:
        access.authorize(type(reader)("poster", str(other.pubkey())), "JOB")
    assert denied.value.status == 403


def test_the_exposition_escapes_label_values_and_survives_a_failing_source() -> None:
    registry = Registry()
    counter = registry.counter("c_total", "A counter.", ("what",))
    counter.inc('a "quoted"\nline\\')
    registry.gauge("broken", "Fails.", source=lambda: 1 / 0)
    registry.gauge("g", "A gauge.").set(2.5)
    text = registry.render()
    assert 'c_total{what="a \\"quoted\\"\\nline\\\\"} 1\n' in text
    assert "# broken unavailable: ZeroDivisionError\n" in text and "g 2.5\n" in text
    with pytest.raises(ValueError):
        counter.inc()


def test_a_value_invalidated_while_it_is_fetched_is_fetched_again() -> None:
    import threading

    from nosana_node.api.refresh import Refreshed

    started, release = threading.Event(), threading.Event()
    fetched: list[int] = []

    def fetch() -> int:
        if not fetched:
            started.set()
            release.wait(10)
        fetched.append(len(fetched) + 1)
        return len(fetched)

    async def scenario() -> tuple[int, int, int]:
        value = Refreshed(fetch, ttl=3600)
        first = asyncio.ensure_future(value.get())
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)  # under way, blocked
        value.invalidate()  # e.g. the node finished a job meanwhile
        release.set()
        got = await first
        return got, await value.get(), len(fetched)

    assert asyncio.run(scenario()) == (2, 2, 2)  # fetched again once, then kept for the TTL


def test_job_logs_printer_makes_hostile_output_inert_and_cuts_an_endless_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`job logs`: what a job wrote reaches the reader's terminal inert (escaped, colours dropped
    off a terminal), an endless line arrives in pieces and is shown cut once, `--json` is ASCII."""
    from nosana_node.cli.display import LINE_CAP, cut_marker
    from nosana_node.cli.job import _LogPrinter

    printer = _LogPrinter(as_json=False)
    op = "evil\x1b]0;t\x07"
    for chunk in ("A\x1b[2J\x1b]52;c;SGk=\x07", "\x1b[31mred\x1b[0m\r\nB\u202e", "x\n"):
        printer.add({"type": "log", "op": op, "s": "stdout", "d": chunk})
    for _ in range(64):  # 2 MiB without a newline, 32 KiB a record
        printer.add({"type": "log", "op": op, "s": "stderr", "d": "y" * 32768})
    printer.add({"type": "log", "op": op, "s": "stderr", "d": "\nafter\n"})
    printer.flush()
    name = r"evil\x1b]0;t\x07"
    assert capsys.readouterr().out.splitlines() == [
        rf"{name} | A\x1b[2J\x1b]52;c;SGk=\x07red",
        rf"{name} | B\u202ex",
        f"{name} ! " + "y" * LINE_CAP + cut_marker(LINE_CAP),
        f"{name} ! after",
    ]
    as_json = _LogPrinter(as_json=True)
    as_json.add({"type": "log", "op": op, "s": "stdout", "d": "\x9b2J\u202e"})
    out = capsys.readouterr().out
    assert out.isascii() and json.loads(out)["d"] == "\x9b2J\u202e"
