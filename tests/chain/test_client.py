"""The chain client's reads and every instruction against the local market."""

from __future__ import annotations

from collections.abc import Callable

from nosana_node.chain.accounts import JobState
from nosana_node.chain.client import ChainClient
from nosana_node.chain.endpoint import Endpoint
from tests.chain.conftest import digest


def test_list_work_finish(endpoint: Endpoint, connect: Callable[..., ChainClient]) -> None:
    client, node = connect("client-1"), connect("node-1")
    market = endpoint.market("default")
    posted = client.list_job(market, digest("job"), 600)
    assert client.job(posted.job).state == JobState.QUEUED
    worked = node.work(market)
    assert worked.job == posted.job
    signature = node.finish(posted.job, digest("result"))
    job = client.job(posted.job)
    assert job.state == JobState.DONE and job.ipfs_result == digest("result") and signature
