"""Benchmark: validating the 403 job definitions of the corpus.

Each round loads and validates every file of ``shared/corpus/jobdefs`` the way ``nosana-node job
validate`` does (read, parse with positions, schema, rules across ops, plan). The plain baseline,
in the same process, only parses the same files (``json.loads`` / ``yaml.safe_load``, no positions,
no checks). Prints files per second (median of the rounds), the time for all files (target: under
2 s) and the ratio to the plain parse.

    .venv/bin/python bench/jobdef_validate.py [--rounds 5] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nosana_node.jobdef import JobProblems, load  # noqa: E402


def _corpus(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    for parent in REPO.parents:
        if (parent / "shared" / "corpus" / "jobdefs").is_dir():
            return parent / "shared" / "corpus" / "jobdefs"
    raise SystemExit("error: corpus not found (give --corpus DIR)")


def ours(files: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    accepted = 0
    for path in files:
        try:
            load(path)
            accepted += 1
        except JobProblems:
            pass
    return time.perf_counter() - start, accepted


def plain(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        text = path.read_text(encoding="utf-8")
        json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus")
    args = parser.parse_args()
    files = sorted(_corpus(args.corpus).iterdir())
    ours(files)  # warm-up: imports, caches
    times, bases, accepted = [], [], 0
    for _ in range(args.rounds):
        elapsed, accepted = ours(files)
        times.append(elapsed)
        bases.append(plain(files))
    t, b = statistics.median(times), statistics.median(bases)
    print(f"job definitions: {len(files)} files, {accepted} valid, {len(files) - accepted} refused")
    verdict = "ok" if t < 2 else "MISSED"
    print(f"  nosana-node validate : {t:.3f} s  ({len(files) / t:,.0f} files/s)  target < 2 s: {verdict}")
    print(f"  plain parse only     : {b:.3f} s  ({len(files) / b:,.0f} files/s)")
    print(f"  ratio validate/parse : {t / b:.1f}x the time of parsing alone")


if __name__ == "__main__":
    main()
