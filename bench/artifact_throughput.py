"""Benchmark: how fast does an artifact travel from one job to the next?

A 2-job pipeline runs through ``nosana-node pipeline run --json``: the first job writes a
512 MiB file and leaves it as an artifact, the second receives it as a resource. The node's
transfer time is what it reports itself: taking the artifact out (stream from the engine, sha256
while writing, safety scan, store) plus placing it into the next container. The plain baseline
moves the same data between two containers with ``docker cp … - > file`` and
``docker cp - … < file``. Several rounds, alternately; prints MiB/s (median) and the ratio
ours / plain (target: >= 0.8).

    .venv/bin/python bench/artifact_throughput.py [--rounds 3] [--size-mib 512]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
CLI = str(Path(sys.executable).with_name("nosana-node"))


def pipeline_yaml(size: int) -> str:
    return f"""\
global:
  image: {IMAGE}
jobs:
  - name: make
    commands: ['mkdir -p out', 'head -c {size} /dev/zero > out/blob.bin']
    artifacts: [{{name: out, path: out}}]
  - name: use
    resources: [{{name: out}}]
    commands: ['test "$(wc -c < out/blob.bin)" -eq {size}']
"""


def docker(*args: str, **kwargs: object) -> str:
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, **kwargs
    ).stdout.strip()  # type: ignore[call-overload]


def ours_round(pipeline: Path, env: dict[str, str]) -> float:
    proc = subprocess.run(
        [CLI, "pipeline", "run", str(pipeline), "--json", "--fresh"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"pipeline failed:\n{proc.stderr[-2000:]}")
    make, use = json.loads(proc.stdout)["jobs"]
    return make["timings"]["artifacts_out"] + use["timings"]["resources_in"]


def plain_round(size: int, tag: str, work: Path) -> float:
    source = docker(
        "create", "--label", f"io.nosana.bench={tag}", "-w", "/root/project", IMAGE,
        "sh", "-c", f"mkdir -p out && head -c {size} /dev/zero > out/blob.bin",
    )  # fmt: skip
    target = docker("create", "--label", f"io.nosana.bench={tag}", "-w", "/root/project", IMAGE, "true")
    try:
        docker("start", "-a", source)
        tar = work / "plain.tar"
        start = time.perf_counter()
        with tar.open("wb") as out:
            subprocess.run(["docker", "cp", f"{source}:/root/project/out", "-"], check=True, stdout=out)
        with tar.open("rb") as data:
            subprocess.run(["docker", "cp", "-", f"{target}:/root/project"], check=True, stdin=data)
        elapsed = time.perf_counter() - start
        tar.unlink()
        return elapsed
    finally:
        docker("rm", "-f", source, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=512)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="nosana-bench-"))
    tag = uuid.uuid4().hex[:8]
    try:
        pipeline = work / "artifact.yml"
        pipeline.write_text(pipeline_yaml(size))
        env = {**os.environ, "NOSANA_HOME": str(work / "home")}
        ours, plain = [], []
        for _ in range(args.rounds):
            ours.append(ours_round(pipeline, env))
            shutil.rmtree(work / "home" / "flows", ignore_errors=True)  # keep the disk use flat
            plain.append(plain_round(size, tag, work))
        rate = {
            name: args.size_mib / statistics.median(times)
            for name, times in (("ours", ours), ("plain", plain))
        }
        print(f"artifact throughput: {args.size_mib} MiB, job to job, {args.rounds} rounds, medians")
        for name, label, times in (
            ("ours", "nosana-node (out + in)", ours),
            ("plain", "plain docker cp", plain),
        ):
            listed = ", ".join(f"{t:.2f}s" for t in times)
            print(f"  {label:24} {rate[name]:7.1f} MiB/s  (times: {listed})")
        print(f"  ratio ours / plain       {rate['ours'] / rate['plain']:.3f}  (target >= 0.8)")
    finally:
        subprocess.run(
            ["sh", "-c", f"docker ps -aq --filter label=io.nosana.bench={tag} | xargs -r docker rm -f"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
