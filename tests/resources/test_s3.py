"""S3 resources against moto's standalone S3 server on loopback."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from nosana_node.resources import (
    ResourceNotFound,
    ResourceSettings,
    ResourceStore,
    ResourceTooLarge,
)
from nosana_node.resources.errors import ResourceError
from nosana_node.resources.s3 import S3Location, locate
from tests.resources.conftest import resource, s3_client
from tests.resources.servers import moto_s3

FILES = {"config.json": b'{"a": 1}', "weights/model.bin": os.urandom(300_000), "weights/extra.bin": b"x" * 10}


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="models")
    for name, data in FILES.items():
        client.put_object(Bucket="models", Key=f"llama/8b/{name}", Body=data, ACL="public-read")
    client.put_object(Bucket="models", Key="single.bin", Body=b"one object", ACL="public-read")
    return "models"


def _store(home: Path, endpoint: str, **settings: object) -> ResourceStore:
    return ResourceStore(home, ResourceSettings(s3_endpoint=endpoint, **settings))  # type: ignore[arg-type]


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_prefix_is_fetched_once_and_shared(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    spec = resource({"type": "S3", "url": f"s3://{bucket}/llama/8b", "target": "/models"})
    first = _store(tmp_path, s3_endpoint).fetch(spec)
    assert _tree(first.path) == FILES
    assert (first.files, first.fetched_files, first.fetched_bytes) == (3, 3, sum(map(len, FILES.values())))
    mode = (first.path / "weights" / "model.bin").stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    # a second job (another store on the same home) lists again but fetches no bytes
    second = _store(tmp_path, s3_endpoint).fetch(spec)
    assert second.path == first.path
    assert (second.fetched_files, second.fetched_bytes) == (0, 0)
    # a path-style URL with the bucket named is the same content: same directory, nothing fetched
    same = resource(
        {"type": "S3", "url": f"{s3_endpoint}/{bucket}/llama/8b", "bucket": bucket, "target": "/m"}
    )
    third = _store(tmp_path, s3_endpoint).fetch(same)
    assert third.path == first.path and third.fetched_bytes == 0
    assert _store(tmp_path, s3_endpoint).host_dir(spec) == first.path


def test_files_subset_single_object_and_buckets(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    store = _store(tmp_path, s3_endpoint)
    spec = resource(
        {"type": "S3", "url": f"s3://{bucket}/llama/8b/", "files": ["config.json"], "target": "/m"}
    )
    assert _tree(store.fetch(spec).path) == {"config.json": FILES["config.json"]}
    single = resource({"type": "S3", "url": f"s3://{bucket}/single.bin", "target": "/m"})
    assert _tree(store.fetch(single).path) == {"single.bin": b"one object"}
    several = resource(
        {
            "type": "S3",
            "target": "/m",
            "buckets": [
                {"url": f"s3://{bucket}/llama/8b/weights", "files": ["extra.bin"]},
                {"url": f"s3://{bucket}/single.bin"},
            ],
        }
    )
    assert _tree(store.fetch(several).path) == {"extra.bin": b"x" * 10, "single.bin": b"one object"}


def test_missing_things_fail_naming_the_resource(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    store = _store(tmp_path, s3_endpoint)
    cases = [
        (
            {"url": f"s3://{bucket}/llama/8b", "files": ["nope.bin", "config.json"]},
            f"S3 resource s3://{bucket}/llama/8b: no 'nope.bin' under s3://{bucket}/llama/8b/",
        ),
        (
            {"url": f"s3://{bucket}/llama/70b"},
            f"S3 resource s3://{bucket}/llama/70b: listing s3://{bucket}/llama/70b: not found",
        ),
        (
            {"url": "s3://no-such-bucket/x"},
            "S3 resource s3://no-such-bucket/x: listing s3://no-such-bucket/x: not found",
        ),
    ]
    for spec, message in cases:
        with pytest.raises(ResourceNotFound) as caught:
            store.fetch(resource({"type": "S3", "target": "/m", **spec}))
        assert str(caught.value).startswith(message), str(caught.value)
    assert list((tmp_path / "resources" / "trees").iterdir()) == []
    assert list((tmp_path / "resources" / "tmp").iterdir()) == []


def test_limits(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    spec = resource({"type": "S3", "url": f"s3://{bucket}/llama/8b", "target": "/m"})
    with pytest.raises(ResourceTooLarge, match=r"S3 resource .*: more files than the limit of 2"):
        _store(tmp_path, s3_endpoint, max_files=2).fetch(spec)
    with pytest.raises(ResourceTooLarge, match=r"S3 resource .*: \d+ bytes, more than the limit of 1000"):
        _store(tmp_path, s3_endpoint, max_bytes=1000).fetch(spec)
    assert list((tmp_path / "resources" / "blobs").iterdir()) == []


def test_two_jobs_fetching_at_once_fetch_once(tmp_path: Path, s3_endpoint: str) -> None:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="shared")
    payload = os.urandom(2_000_000)
    client.put_object(Bucket="shared", Key="m/big.bin", Body=payload, ACL="public-read")
    spec = resource({"type": "S3", "url": "s3://shared/m", "target": "/m"})
    results = []
    start = threading.Barrier(2)

    def job() -> None:
        start.wait()
        results.append(_store(tmp_path, s3_endpoint).fetch(spec))

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 and results[0].path == results[1].path
    assert sorted(r.fetched_bytes for r in results) == [0, len(payload)]


def test_an_object_changed_during_the_fetch_leaves_nothing_partial(tmp_path: Path, s3_endpoint: str) -> None:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="moving")
    client.put_object(Bucket="moving", Key="d/a.bin", Body=b"a" * 1000, ACL="public-read")
    client.put_object(Bucket="moving", Key="d/b.bin", Body=b"b" * 1000, ACL="public-read")
    spec = resource({"type": "S3", "url": "s3://moving/d", "target": "/m"})

    def change_the_next_one(name: str, done: int, total: int) -> None:
        client.put_object(Bucket="moving", Key="d/b.bin", Body=b"B" * 1000, ACL="public-read")

    with pytest.raises(
        ResourceError, match=r"S3 resource s3://moving/d: fetching 'b.bin': the object changed"
    ):
        _store(tmp_path, s3_endpoint).fetch(spec, progress=change_the_next_one)
    root = tmp_path / "resources"
    assert list((root / "trees").iterdir()) == [] and list((root / "tmp").iterdir()) == []
    assert [p.read_bytes() for p in (root / "blobs").iterdir()] == [b"a" * 1000]  # complete files only


def test_an_unreachable_source_serves_the_last_copy(tmp_path: Path) -> None:
    with moto_s3() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="bkt")
        client.put_object(Bucket="bkt", Key="p/f.txt", Body=b"hello", ACL="public-read")
        spec = resource({"type": "S3", "url": "s3://bkt/p", "target": "/m"})
        fresh = _store(tmp_path, endpoint).fetch(spec)
    settings = {"connect_timeout": 1.0, "read_timeout": 1.0}
    stale = _store(tmp_path, endpoint, **settings).fetch(spec)
    assert stale.stale and stale.path == fresh.path and stale.fetched_bytes == 0
    other = resource({"type": "S3", "url": "s3://bkt/other", "target": "/m"})
    with pytest.raises(
        ResourceError, match=r"S3 resource s3://bkt/other: listing s3://bkt/other: cannot reach"
    ):
        _store(tmp_path, endpoint, **settings).fetch(other)


def test_where_urls_point() -> None:
    settings = ResourceSettings(
        s3_endpoint="http://127.0.0.1:9000", mirrors={"https://models.nosana.io": "s3://mirror"}
    )
    assert locate("s3://b/p/q", None, ResourceSettings()) == S3Location(None, "b", "p/q")
    assert locate("s3://b/p", None, settings) == S3Location("http://127.0.0.1:9000", "b", "p")
    assert locate("https://h.example/b/p", "b", settings) == S3Location("https://h.example", "b", "p")
    assert locate("https://x.s3.eu-west-1.amazonaws.com/p", None, settings) == S3Location(None, "x", "p")
    assert locate("https://pub-1.r2.dev/cn", None, settings) == S3Location(
        "https://r2.dev", "pub-1", "cn", True
    )
    # Nosana's bucket is read from models.nosana.io, which this node mirrors
    assert locate("s3://nos-ai-models-qllsn32u/ollama/x", None, settings) == S3Location(
        "http://127.0.0.1:9000", "mirror", "ollama/x"
    )
    with pytest.raises(ResourceError, match="expected an s3:// or http"):
        locate("ftp://x/y", None, settings)


def test_private_buckets_need_keys_from_the_job_or_the_vault(tmp_path: Path, s3_endpoint: str) -> None:
    from nosana_node.resources.s3 import VaultCredentials
    from nosana_node.vault.config_backend import ConfigVault

    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="private-models")
    client.put_object(Bucket="private-models", Key="m/w.bin", Body=b"private weights")  # private ACL
    spec = {"type": "S3", "url": "s3://private-models/m", "target": "/m"}
    with pytest.raises(
        ResourceError, match=r"^S3 resource s3://private-models/m: fetching 'w.bin': access denied"
    ):
        _store(tmp_path, s3_endpoint).fetch(resource(spec))
    keys = {"REGION": "us-east-1", "ACCESS_KEY_ID": "AKIAJOB", "SECRET_ACCESS_KEY": "job-secret"}
    from_job = _store(tmp_path, s3_endpoint).fetch(resource({**spec, "IAM": keys}))
    assert _tree(from_job.path) == {"w.bin": b"private weights"}
    vault = ConfigVault({"s3/private": {"ACCESS_KEY_ID": "AKIANODE", "SECRET_ACCESS_KEY": "node-secret"}})
    store = ResourceStore(
        tmp_path / "node",
        ResourceSettings(s3_endpoint=s3_endpoint),
        credentials=VaultCredentials(vault, {"private-models": "s3/private"}),
    )
    assert _tree(store.fetch(resource(spec)).path) == {"w.bin": b"private weights"}


def test_a_corpus_url_through_a_mirror(tmp_path: Path, s3_endpoint: str) -> None:
    """``https://models.nosana.io/…`` (how 80 corpus jobs name models) served by a local S3 mirror."""
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="nosana-models")
    client.put_object(
        Bucket="nosana-models", Key="stable-diffusion/1.5/v1-5.safetensors", Body=b"sd", ACL="public-read"
    )
    settings = ResourceSettings(
        s3_endpoint=s3_endpoint, mirrors={"https://models.nosana.io": "s3://nosana-models"}
    )
    spec = resource(
        {"type": "S3", "url": "https://models.nosana.io/stable-diffusion/1.5", "target": "/models"}
    )
    fetched = ResourceStore(tmp_path, settings).fetch(spec)
    assert _tree(fetched.path) == {"v1-5.safetensors": b"sd"}
