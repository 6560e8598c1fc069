"""Benchmark: what does `nosana-node pipeline run` cost on top of plain Docker commands?

The same 5-job pipeline (each job receives the previous job's artifact, appends to it and hands
it on) runs, alternately for several rounds, through ``nosana-node pipeline run`` and through
two plain shell scripts:

- ``docker cp`` (the baseline of the target): per job ``docker create``, ``docker cp`` the
  artifact in, ``docker start -a``, ``docker cp`` the artifact out, ``docker rm`` — the same
  steps the node takes, each as a docker CLI call;
- ``stdin tar`` (for information): per job ``docker run -i`` with the artifact piped to the
  image's own ``tar`` (which a job image need not have), ``docker cp`` out, ``docker rm``.

Prints the median wall time of each and the ratios ours / plain (target: <= 1.15 vs docker cp).

    .venv/bin/python bench/pipeline_overhead.py [--rounds 7] [--jobs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("NOSANA_BUSYBOX_IMAGE", "localhost/nosana-busybox:latest")
CLI = str(Path(sys.executable).with_name("nosana-node"))

JOB_COMMANDS = [
    "mkdir -p out",
    'echo "job {n} was here" >> out/trail.txt',
    "seq 1 200 > out/numbers-{n}.txt",
    "wc -l out/trail.txt",
]


def pipeline_yaml(jobs: int) -> str:
    """A pipeline whose job n receives artifact out-(n-1) and leaves out-n."""
    lines = ["global:", f"  image: {IMAGE}", "jobs:"]
    for n in range(1, jobs + 1):
        lines += [f"  - name: job{n}", "    commands:"]
        lines += [f"      - {c.format(n=n)!r}" for c in JOB_COMMANDS]
        if n > 1:
            lines += ["    resources:", f"      - {{name: out{n - 1}, path: .}}"]
        lines += ["    artifacts:", f"      - {{name: out{n}, path: out}}"]
    return "\n".join(lines) + "\n"


def cp_script(jobs: int, tag: str) -> str:
    """The node's steps as docker CLI calls: create, cp in, start -a, cp out, rm."""
    lines = ["set -euo pipefail", 'cd "$1"']
    for n in range(1, jobs + 1):
        body = "; ".join(["set -e", *(c.format(n=n) for c in JOB_COMMANDS)])
        lines += [
            f"c=$(docker create --label io.nosana.bench={tag} -w /root/project {IMAGE}"
            f" sh -c {shell_quote(body)})",
            *([f"docker cp - $c:/root/project < out{n - 1}.tar"] if n > 1 else []),
            "docker start -a $c",
            f"docker cp $c:/root/project/out - > out{n}.tar",
            "docker rm $c > /dev/null",
        ]
    return "\n".join(lines) + "\n"


def stdin_script(jobs: int, tag: str) -> str:
    """Artifacts piped to the image's tar on stdin: run -i, cp out, rm."""
    lines = ["set -euo pipefail", 'cd "$1"']
    for n in range(1, jobs + 1):
        body = "; ".join(
            ["set -e", *(["tar -xf -"] if n > 1 else []), *(c.format(n=n) for c in JOB_COMMANDS)]
        )
        stdin = f"< out{n - 1}.tar" if n > 1 else "< /dev/null"
        name = f"bench-{tag}-{n}"
        lines += [
            f"docker run -i --name {name} --label io.nosana.bench={tag} -w /root/project {IMAGE}"
            f" sh -c {shell_quote(body)} {stdin}",
            f"docker cp {name}:/root/project/out - > out{n}.tar",
            f"docker rm {name} > /dev/null",
        ]
    return "\n".join(lines) + "\n"


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def timed(cmd: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nosana-bench-"))
    tag = uuid.uuid4().hex[:8]
    try:
        pipeline = work / "bench.yml"
        pipeline.write_text(pipeline_yaml(args.jobs))
        (work / "cp.sh").write_text(cp_script(args.jobs, tag))
        (work / "stdin.sh").write_text(stdin_script(args.jobs, tag))
        env = {**os.environ, "NOSANA_HOME": str(work / "home")}
        commands = {
            "nosana-node pipeline run": ([CLI, "pipeline", "run", str(pipeline), "--fresh"], env),
            "plain: docker cp": (["bash", str(work / "cp.sh"), str(work)], None),
            "plain: stdin tar": (["bash", str(work / "stdin.sh"), str(work)], None),
        }
        for cmd, cmd_env in commands.values():  # warm-up: page cache, image layers, bytecode
            timed(cmd, env=cmd_env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (cmd, cmd_env) in commands.items():
                times[name].append(timed(cmd, env=cmd_env))
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"pipeline overhead: {args.jobs} jobs, {args.rounds} rounds, medians")
        for name, values in times.items():
            print(f"  {name:26} {medians[name]:.3f}s  (all: {', '.join(f'{t:.3f}' for t in values)})")
        ours = medians["nosana-node pipeline run"]
        print(f"  ratio ours / docker cp   : {ours / medians['plain: docker cp']:.3f}  (target <= 1.15)")
        print(f"  ratio ours / stdin tar   : {ours / medians['plain: stdin tar']:.3f}  (for information)")
    finally:
        subprocess.run(
            ["sh", "-c", f"docker ps -aq --filter label=io.nosana.bench={tag} | xargs -r docker rm -f"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
