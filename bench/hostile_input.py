"""Benchmark: how fast, and with how much memory, is a hostile pipeline file refused?

Each case runs ``nosana_node.pipeline.load`` on one file in a fresh Python process (the
validator imported first), which reports the time from the call to the refusal, the memory
allocated during the call (tracemalloc peak) and the whole process's peak resident memory
(interpreter and imports included). The baseline is the same process validating a small
valid pipeline. Targets: refused in under 1 s and under
100 MB peak, for a 64 MiB hostile YAML file and for ``/dev/zero``.

Cases: a 64 MiB YAML list (size cap, checked before reading), ``/dev/zero`` (not a regular
file), a FIFO nobody writes to (refused without blocking), a 1 MiB flow list just under the
size cap (node budget while composing), an alias bomb (expansion budget), 10 000 nested lists
(depth limit), a 1 MiB JSON job definition of 500 000 values (the same budget, as values).

    .venv/bin/python bench/hostile_input.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time, tracemalloc
from pathlib import Path
import nosana_node.formats, nosana_node.pipeline.validate, nosana_node.jobdef.validate  # before timing
from nosana_node.pipeline import load as load_pipeline
from nosana_node.jobdef.validate import load as load_jobdef
from nosana_node.pipeline.problems import ProblemList

def high_water():  # VmHWM: this process's peak RSS (ru_maxrss would include the parent's at fork)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0

trace = sys.argv[2] == "trace"  # tracemalloc slows allocation down: timed runs go without it
if trace:
    tracemalloc.start()
started = time.perf_counter()
try:
    path = Path(sys.argv[1])
    (load_jobdef if path.suffix == ".json" else load_pipeline)(path)
    outcome = "valid"
except ProblemList as exc:
    outcome = exc.lines[0]
elapsed = time.perf_counter() - started
_, allocated = tracemalloc.get_traced_memory() if trace else (0, 0)
print(json.dumps({"seconds": elapsed, "peak": high_water(), "allocated": allocated, "outcome": outcome}))
"""

VALID = "global: {image: busybox}\njobs:\n  - name: a\n    commands: [echo hi]\n"


def write_cases(root: Path) -> dict[str, Path]:
    cases: dict[str, Path] = {}
    valid = root / "valid.yml"
    valid.write_text(VALID)
    cases["baseline: small valid pipeline"] = valid
    big = root / "big.yml"
    with big.open("w") as file:
        file.write("global: {}\njobs:\n")
        line = "  - {name: a, commands: [x]}\n"
        file.write(line * (64 * 1024 * 1024 // len(line)))
    cases[f"64 MiB YAML list ({big.stat().st_size >> 20} MiB)"] = big
    cases["/dev/zero"] = Path("/dev/zero")
    fifo = root / "fifo.yml"
    os.mkfifo(fifo)
    cases["FIFO with no writer"] = fifo
    flow = root / "flow.yml"
    flow.write_text("global: {}\njobs: [" + "1," * (1024 * 1024 // 2 - 16) + "]\n")
    cases["1 MiB flow list (node budget)"] = flow
    bomb = root / "bomb.yml"
    lines = ["a0: &a0 [" + ", ".join(["x"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    bomb.write_text("\n".join(lines) + "\n")
    cases["alias bomb (10^10 values)"] = bomb
    deep = root / "deep.yml"
    deep.write_text("global: " + "[" * 10000 + "]" * 10000 + "\n")
    cases["10 000 nested lists"] = deep
    values = root / "values.json"
    values.write_text(
        '{"version": "0.1", "type": "container", "ops": [' + "1," * (1024 * 1024 // 2 - 40) + "1]}"
    )
    cases["1 MiB JSON job def (values)"] = values
    return cases


def measure(path: Path, mode: str = "time") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        cases = write_cases(Path(tmp))
        results: dict[str, list[dict[str, object]]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, path in cases.items():
                results[name].append(measure(path))
        allocations = {name: float(measure(path, "trace")["allocated"]) for name, path in cases.items()}
    print(f"{'case':32} {'refused in':>10} {'allocated':>10} {'peak RSS':>9}  first line")
    worst_time, worst_peak = 0.0, 0.0
    for name, runs in results.items():
        seconds = statistics.median(float(r["seconds"]) for r in runs)
        allocated = allocations[name]
        peak = statistics.median(float(r["peak"]) for r in runs)
        outcome = str(runs[0]["outcome"]).split(": ", 1)[-1]
        row = f"{name:32} {seconds * 1000:8.1f}ms {allocated / 2**20:8.2f}MB {peak / 2**20:7.1f}MB"
        print(f"{row}  {outcome}")
        if not name.startswith("baseline"):
            worst_time, worst_peak = max(worst_time, seconds), max(worst_peak, peak)
    verdict = "met" if worst_time < 1 and worst_peak < 100 * 2**20 else "NOT met"
    worst = f"worst: refused in {worst_time * 1000:.1f} ms, {worst_peak / 2**20:.1f} MB peak RSS"
    print(f"{worst} (whole process, interpreter and imports included; target < 1 s, < 100 MB: {verdict})")


if __name__ == "__main__":
    main()
