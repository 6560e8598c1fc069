"""The market queue: FIFO in both directions (jobs waiting for nodes, nodes waiting for jobs)."""

from __future__ import annotations

from nosana_node.chain.accounts import QueueType

from .conftest import Local


def test_jobs_wait_and_are_taken_oldest_first(local: Local) -> None:
    jobs = [local.list_job(local.default, local.clients[i % 2]).keys["job"].pubkey() for i in range(4)]
    m = local.market(local.default)
    assert m.queue == jobs and m.queue_type == QueueType.JOB
    taken = []
    for node in local.nodes:
        run = local.work(local.default, node).keys["run"].pubkey()
        taken.append((local.run(run).job, local.run(run).node))
    assert taken == list(zip(jobs[:3], [n.pubkey for n in local.nodes], strict=True))
    m = local.market(local.default)
    assert m.queue == jobs[3:] and m.queue_type == QueueType.JOB
    local.work(local.default, local.nodes[0])
    m = local.market(local.default)
    assert m.queue == [] and m.queue_type == QueueType.EMPTY


def test_nodes_wait_and_get_jobs_oldest_first(local: Local) -> None:
    for node in local.nodes:
        local.work(local.default, node)
    m = local.market(local.default)
    assert m.queue == [n.pubkey for n in local.nodes] and m.queue_type == QueueType.NODE
    served = [
        local.run(local.list_job(local.default, local.clients[0]).keys["run"].pubkey()).node for _ in range(3)
    ]
    assert served == [n.pubkey for n in local.nodes]
    m = local.market(local.default)
    assert m.queue == [] and m.queue_type == QueueType.EMPTY
    # the queue flips direction once empty
    job = local.list_job(local.default, local.clients[0]).keys["job"].pubkey()
    assert local.market(local.default).queue == [job]


def test_queue_bytes_match_the_layout_after_removals(local: Local) -> None:
    """Removing from the middle shifts later entries; freed slots are zeroed (bytes == encode())."""
    for node in local.nodes:
        local.work(local.default, node)
    local.send(local.tx_stop(local.default, local.nodes[1].pubkey, local.nodes[1].keypair)).expect_ok()
    m = local.market(local.default)
    assert m.queue == [local.nodes[0].pubkey, local.nodes[2].pubkey]
    assert local.data(local.default.address) == m.encode()
