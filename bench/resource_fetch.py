"""Benchmark: fetching an S3 resource of 1 GiB from a local S3 server, then again for a second job.

moto's standalone S3 server runs in its own process on loopback and holds one object of
``--size-mib`` MiB under ``s3://models/llm/``. Measured in this process, alternately:

- plain boto3: ``download_file`` (what ``aws s3 cp`` does: ranged GETs on several threads) and
  a single ``get_object`` stream, each into a new file;
- nosana-node: ``ResourceStore.fetch`` into an empty cache (listing, stream, sha256 + MD5 while
  writing, fsync, blob + tree) — cold;
- a second job's fetch of the same resource from the warm cache (listing only: no bytes).

Prints MiB/s (median), the ratio ours / plain, and the bytes the second fetch downloaded
(target: 0).

    .venv/bin/python bench/resource_fetch.py [--size-mib 1024] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nosana_node.jobdef.schema import RunArgs  # noqa: E402
from nosana_node.resources import ResourceSettings, ResourceStore  # noqa: E402
from tests.resources.servers import moto_s3  # noqa: E402

MIB = 1024 * 1024


def client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)


def seed(endpoint: str, size: int) -> None:
    s3 = client(endpoint)
    s3.create_bucket(Bucket="models")
    with tempfile.TemporaryFile() as handle:
        block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
        for _ in range(size // MIB):
            handle.write(block)
        handle.seek(0)
        s3.upload_fileobj(handle, "models", "llm/weights.bin", ExtraArgs={"ACL": "public-read"})


def plain_download_file(endpoint: str, work: Path) -> float:
    target = work / "plain.bin"
    start = time.perf_counter()
    client(endpoint).download_file("models", "llm/weights.bin", str(target))
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def plain_get_object(endpoint: str, work: Path) -> float:
    target = work / "plain.bin"
    start = time.perf_counter()
    body = client(endpoint).get_object(Bucket="models", Key="llm/weights.bin")["Body"]
    with open(target, "wb") as handle:
        for chunk in body.iter_chunks(MIB):
            handle.write(chunk)
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mib * MIB
    spec = RunArgs.model_validate(
        {"image": "x", "resources": [{"type": "S3", "url": "s3://models/llm", "target": "/models"}]}
    ).resources[0]  # type: ignore[index]
    with moto_s3() as endpoint, tempfile.TemporaryDirectory(dir=REPO.parent) as tmp:
        work = Path(tmp)
        seed(endpoint, size)
        settings = ResourceSettings(s3_endpoint=endpoint)
        cold, warm, threaded, single, second_bytes = [], [], [], [], []
        for i in range(args.rounds):
            threaded.append(plain_download_file(endpoint, work))
            single.append(plain_get_object(endpoint, work))
            home = work / f"home{i}"
            start = time.perf_counter()
            first = ResourceStore(home, settings).fetch(spec)  # type: ignore[arg-type]
            cold.append(time.perf_counter() - start)
            assert first.fetched_bytes == size, first
            start = time.perf_counter()
            again = ResourceStore(home, settings).fetch(spec)  # type: ignore[arg-type]
            warm.append(time.perf_counter() - start)
            second_bytes.append(again.fetched_bytes)
            shutil.rmtree(home, ignore_errors=True)

    def rate(seconds: list[float]) -> float:
        return args.size_mib / statistics.median(seconds)

    ours, base_threads, base_single = rate(cold), rate(threaded), rate(single)
    print(f"S3 resource of {args.size_mib} MiB from moto on loopback, {args.rounds} rounds (median)")
    print(f"  plain boto3 download_file (aws s3 cp) : {base_threads:7.1f} MiB/s")
    print(f"  plain boto3 get_object stream         : {base_single:7.1f} MiB/s")
    print(
        f"  nosana-node fetch, cold cache         : {ours:7.1f} MiB/s  "
        f"(x{ours / base_threads:.2f} of download_file, x{ours / base_single:.2f} of get_object)"
    )
    print(
        f"  second job, warm cache                : {statistics.median(warm) * 1000:7.1f} ms, "
        f"{max(second_bytes)} bytes fetched (target 0)"
    )


if __name__ == "__main__":
    main()
