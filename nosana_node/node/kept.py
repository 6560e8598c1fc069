"""Flows the node keeps for a job it gave up, abandoned once that job ended on chain.

A run the node quit (shutdown past the drain timeout, a job it cannot serve) leaves its flow
(id: the job address) interrupted, with its job volumes, network and private directories, so
that the node resumes it if it gets the same job again (a quit job is ``Stopped``: claimable).
:func:`abandon_ended` gives such a flow up (:meth:`FlowStore.abandon`, status ``stopped``) when
it cannot come back any more, so that the leftover sweep removes what it kept. A flow is given up
only when all of these hold:

- the flow is unfinished and no live runner owns it;
- the node has a record of the job, every record of it is final, and the newest is ``quit`` or
  ``stopped`` (a live record means the job is this node's work now);
- the job ended on chain: ``Done`` (its poster ended it, or another node finished it) or its
  account is gone (recovered, delisted, cleaned). ``Stopped`` is not an end: it is how a quit
  job waits to be claimed.

One read of the job account per kept flow, at most :data:`MAX_READS` per call (the oldest
flows first; the rest wait for the next call); a read that fails ends the call, keeping the flows.
"""

from __future__ import annotations

import logging

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobState
from nosana_node.errors import ChainError
from nosana_node.node.parts import NodeParts
from nosana_node.node.state import Step

log = logging.getLogger("nosana_node.node")

#: Most job accounts read by one call.
MAX_READS = 32
ENDED = "the job ended on chain after this node quit it"


def _kept_for(parts: NodeParts, flow_id: str) -> bool:
    """True when the flow belongs to a job this node gave up and has no live record for."""
    records = parts.db.for_job(flow_id)
    if not records or not all(r.step.final for r in records):
        return False
    return records[-1].step in (Step.QUIT, Step.STOPPED)


def abandon_ended(parts: NodeParts, limit: int = MAX_READS) -> list[str]:
    """Abandon the kept flows whose jobs ended on chain (see the module's rules); their ids."""
    store = parts.runner.store
    given_up: list[str] = []
    reads = 0
    for flow_id in store.unfinished():
        if reads >= limit:
            break
        if not _kept_for(parts, flow_id):
            continue
        try:
            address = Pubkey.from_string(flow_id)
        except ValueError:
            continue
        reads += 1
        try:
            job = parts.chain.job(address)
        except ChainError as exc:
            log.warning("cannot tell whether job %s ended (%s); its flow is kept", flow_id, exc)
            break
        if (job is None or job.state == JobState.DONE) and store.abandon(flow_id, ENDED):
            log.info("job %s ended on chain after this node quit it: its flow is given up", flow_id)
            given_up.append(flow_id)
    return given_up
