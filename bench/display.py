"""Benchmark: the live display fed 64 MiB of job output without a newline vs with newlines.

Each case streams the output in 32 KiB chunks (the size the engine hands over) through the path
of a real run: the op's log sink (decoding, masking, the stored log, capped above the total)
forwarding to the display. Baseline, in the same process: the same 64 MiB made of 100-byte lines.
Both displays are measured: plain (a pipe) and rich (a terminal), their output discarded. Prints
seconds and the ratio no-newline / newlines (target: at most 1.5, i.e. linear, no re-scan).

    .venv/bin/python bench/display.py            # 64 MiB
    .venv/bin/python bench/display.py --mib 8    # smaller, quicker
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from nosana_node.cli.display import PlainDisplay, RichDisplay
from nosana_node.flow.logs import LogSink
from nosana_node.flow.model import Flow, Op

CHUNK = 32 * 1024
LINE = 100


class NullTerminal(io.TextIOBase):
    """Discards what is written, and says it is a terminal (so rich renders as for one)."""

    def write(self, text: str) -> int:
        return len(text)

    def isatty(self) -> bool:
        return True


def describe(op: Op) -> str:
    return f"{op.id} ({op.args['image']})"


def make_flow() -> tuple[Flow, Op]:
    op = Op(id="flood", type="docker/run", args={"image": "busybox"})
    return Flow(id="bench", name="bench", ops=[op]), op


def feed(display: PlainDisplay | RichDisplay, chunk: bytes, count: int, log: Path) -> float:
    flow, op = make_flow()
    sink = LogSink(log, cap=(count + 1) * len(chunk), forward=lambda s, t: display.op_output(op, s, t))
    display.flow_started(flow, resumed=False)  # the rich display starts its progress bar
    started = time.perf_counter()
    for _ in range(count):
        sink.write("stdout", chunk)
    sink.close()
    display.op_output(op, "stdout", "\n")
    seconds = time.perf_counter() - started
    display.flow_finished(flow)
    return seconds


def measure(kind: str, total: int, tmp: Path) -> tuple[float, float]:
    count = total // CHUNK
    no_newline = b"x" * CHUNK
    line = b"y" * (LINE - 1) + b"\n"
    with_newlines = (line * (CHUNK // LINE + 1))[:CHUNK]
    results = []
    for name, chunk in (("without newlines", no_newline), ("with newlines", with_newlines)):
        if kind == "rich":
            display: PlainDisplay | RichDisplay = RichDisplay(NullTerminal(), describe)
            display.console.width = 120
        else:
            display = PlainDisplay(NullTerminal(), describe)
        seconds = feed(display, chunk, count, tmp / f"{kind}-{len(results)}.jsonl")
        results.append(seconds)
        print(f"  {kind:5} {name:17} {total / (1 << 20):5.0f} MiB: {seconds:7.2f} s")
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    total = parser.parse_args().mib << 20
    print(f"live display: {total >> 20} MiB of output in {CHUNK // 1024} KiB chunks")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("plain", "rich"):
            flat, lines = measure(kind, total, Path(tmp))
            print(f"  {kind:5} ratio without / with newlines: {flat / lines:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
