"""One job from its run to its finish: :class:`JobProcessor`.

``process()`` takes a saved :class:`~.state.JobRecord` where it stands and carries it to a final
step, saving each step before the next (see :mod:`.state`):

1. read the job and the run; a run gone or a job ended on chain: ``stopped``;
2. a flow stored and finished (a node killed after it ran): its result, never a second run;
   the deadline ``run.time + job.timeout`` already passed: an ``expired`` result at once;
3. fetch the job document by its CID (verified), tell its format, compile a flow whose id is
   the job address; a document that cannot run: a ``failed`` result saying why;
4. run the flow (in the calling thread; its ops in their own) with a cancel token whose deadline
   follows the job account (an ``extend`` moves it) and which is cancelled as ``stopped`` when
   the job is ended on chain (the containers are killed at once); ``interrupt()`` (the node shuts
   down) cancels it as ``interrupted``: the run is quit so that another node may claim the job;
5. build the result document (:mod:`.results`), store it (artifacts up to ``:node
   :publish-artifacts`` too), save its CID;
6. ``finish`` with its digest; the signed transaction is saved before it is sent, and a saved one
   is followed (resent byte for byte while valid) before a new one is made, so exactly one
   finish lands per job even across crashes; a finish refused because it had landed already,
   or because the job was ended meanwhile, is recognised from the job account.

A failure outside the job (the chain or the storage unreachable past their retries, the engine
down) raises: the record stays where it is and the loop calls ``process()`` again later.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobAccount, JobState, RunAccount
from nosana_node.chain.provider import SignedTransaction
from nosana_node.errors import ChainError, DockerUnavailableError, NosanaError, UserInputError
from nosana_node.flow.cancel import Cancelled, CancelReason, CancelToken
from nosana_node.flow.model import Flow, FlowStatus
from nosana_node.flow.store import FlowBusyError
from nosana_node.jobdef.prepare import CannotServe
from nosana_node.node.documents import JobDocumentError, compile_job_document, fetch_job_document
from nosana_node.node.events import NodeEvent
from nosana_node.node.failpoints import crash_point
from nosana_node.node.parts import NodeParts
from nosana_node.node.results import RESULT_STATUS, result_document
from nosana_node.node.state import JobRecord, Step
from nosana_node.storage.cid import Cid

log = logging.getLogger("nosana_node.node")

ENDED_ON_CHAIN = "the job was ended on chain by its poster"


class JobProcessor:
    """Carries one run to a final step; ``interrupt`` may be called from any thread."""

    def __init__(self, parts: NodeParts, record: JobRecord) -> None:
        self.parts = parts
        self.record = record
        self._lock = threading.Lock()
        self._token: CancelToken | None = None
        self._interrupted: str | None = None
        self._deadline: float | None = None
        self._document: Cid | None = None

    # -- public ---------------------------------------------------------------------------------
    @property
    def job(self) -> Pubkey:
        return Pubkey.from_string(self.record.job)

    @property
    def run(self) -> Pubkey:
        return Pubkey.from_string(self.record.run)

    def interrupt(self, detail: str = "the node is shutting down") -> None:
        """Stop the job's flow as ``interrupted`` (it will be quit); nothing once it has ended."""
        with self._lock:
            self._interrupted = self._interrupted or detail
            token = self._token
        if token is not None:
            token.cancel(CancelReason.INTERRUPTED, detail)

    def give_up(self, detail: str) -> JobRecord:
        """Quit the run without running it (the node is stopping); final steps are left alone."""
        if self.record.step in (Step.CLAIMED, Step.RUNNING):
            self._quit(detail)
        return self.record

    def process(self) -> JobRecord:
        """Take the run to a final step (or to ``quit`` once interrupted); returns the record."""
        if self.record.step in (Step.CLAIMED, Step.RUNNING):
            self._run_step()
        if self.record.step in (Step.RESULT_STORED, Step.FINISH_SENT):
            self._finish_step()
        return self.record

    # -- saving and telling -----------------------------------------------------------------------
    def _save(self, **changes: Any) -> None:
        self.record = self.parts.db.save(replace(self.record, **changes))

    def _event(self, kind: str, **data: Any) -> None:
        self.parts.events.publish(NodeEvent(kind, self.record.job, self.record.run, data))

    # -- running ------------------------------------------------------------------------------------
    def _run_step(self) -> None:
        chain, clock = self.parts.chain, self.parts.clock
        job, run = chain.job(self.job), chain.run(self.run)
        if run is None or job is None or job.state in (JobState.DONE, JobState.STOPPED):
            self._stopped(f"{ENDED_ON_CHAIN} before it ran")
            return
        deadline = float(run.time + job.timeout)
        self._deadline = deadline
        self._document = Cid.from_chain(job.ipfs_job)
        flow = self.parts.runner.get(self.record.job)
        if flow is not None and flow.status.finished:
            self._store_flow(flow)  # it ran before the node was restarted: never again
            return
        if self._interrupted is not None:
            self._quit(self._interrupted)
            return
        if clock.now() >= deadline:
            self._store(
                status="expired", flow=flow, reason="expired", error=_expired(deadline, "before it ran")
            )
            return
        if flow is None:
            context = {
                "NOS_JOB_ADDRESS": self.record.job,
                "NOS_RUN_ADDRESS": self.record.run,
                "NOS_PROJECT_ADDRESS": str(job.project),
                "NOS_NODE_ADDRESS": str(self.parts.wallet),
            }
            try:
                _, content = fetch_job_document(self.parts.storage, job.ipfs_job)
                flow = compile_job_document(content, flow_id=self.record.job, context=context)
            except JobDocumentError as exc:
                self._store(status="failed", reason=exc.reason, error=str(exc))
                return
            except CannotServe as exc:  # another node (with the GPU it needs) may claim it
                self._quit(str(exc))
                return
        self._save(step=Step.RUNNING, flow_id=flow.id, started_at=self.record.started_at or clock.now())
        self._event("started", flow=flow.id, deadline=deadline, document=str(self._document))
        self._run_flow(flow, job, run, deadline)

    def _run_flow(self, flow: Flow, job: JobAccount, run: RunAccount, deadline: float) -> None:
        token = self.parts.runner.cancel_token(deadline)
        with self._lock:
            self._token = token
            if self._interrupted is not None:
                token.cancel(CancelReason.INTERRUPTED, self._interrupted)
        watch = self.parts.chain.watch_job(self.job, lambda account: self._job_changed(token, run, account))
        try:
            flow = self.parts.runner.run(flow, cancel=token)
        except Cancelled as exc:  # cancelled while the flow was being prepared (images)
            self._cancelled(exc.reason, self.parts.runner.get(flow.id), token)
            return
        except (DockerUnavailableError, FlowBusyError):
            raise  # the node's trouble, not the job's: try again later
        except UserInputError as exc:  # a flow the engine cannot run (an image that cannot be had)
            self._store(status="failed", reason="invalid", error=str(exc))
            return
        except NosanaError as exc:
            self._store(status="failed", reason=getattr(exc, "reason", "error"), error=str(exc))
            return
        finally:
            watch.close()
            token.close()
            with self._lock:
                self._token = None
        if flow.status in (FlowStatus.INTERRUPTED, FlowStatus.STOPPED):
            self._cancelled(CancelReason(flow.status.value), flow, token)
        else:
            self._store_flow(flow)

    def _job_changed(self, token: CancelToken, run: RunAccount, account: JobAccount | None) -> None:
        """The job account changed while its flow runs: ended (cancel) or extended (deadline)."""
        if account is None or account.state in (JobState.DONE, JobState.STOPPED):
            token.cancel(CancelReason.STOPPED, ENDED_ON_CHAIN)
            return
        deadline = float(run.time + account.timeout)
        if deadline != self._deadline:
            self._deadline = deadline
            token.set_deadline(deadline)
            self._event("deadline", deadline=deadline)
            log.info("job %s extended: deadline now %s", self.record.job, _iso(deadline))

    def _cancelled(self, reason: CancelReason, flow: Flow | None, token: CancelToken) -> None:
        if reason is CancelReason.STOPPED:
            self._stopped(token.detail or ENDED_ON_CHAIN)
        elif reason is CancelReason.EXPIRED:
            self._store(status="expired", flow=flow, reason="expired", error=token.describe())
        else:
            self._quit(self._interrupted or token.detail or "interrupted")

    # -- the result ---------------------------------------------------------------------------------
    def _store_flow(self, flow: Flow) -> None:
        status = RESULT_STATUS.get(flow.status, "failed")
        reason = "expired" if flow.status is FlowStatus.EXPIRED else None
        self._store(status=status, flow=flow, reason=reason, finished_at=flow.ended_at)

    def _store(
        self,
        *,
        status: str,
        flow: Flow | None = None,
        reason: str | None = None,
        error: str | None = None,
        finished_at: float | None = None,
    ) -> None:
        parts = self.parts
        doc = result_document(
            job=self.record.job,
            run=self.record.run,
            node=str(parts.wallet),
            market=self.record.market,
            document=str(self._document) if self._document else None,
            status=status,
            finished_at=finished_at or parts.clock.now(),
            flow=flow,
            error=error,
            reason=reason,
            log_cap=parts.settings.result_log_size,
            artifact_cids=self._publish_artifacts(flow),
        )
        cid = parts.storage.put_json(doc)
        self._save(step=Step.RESULT_STORED, result_cid=str(cid), status=status, error=doc.get("error"))
        self._event("result-stored", cid=str(cid), status=status)
        crash_point("result-stored")

    def _publish_artifacts(self, flow: Flow | None) -> dict[tuple[str, str], str]:
        """Store the flow's artifacts up to ``:node :publish-artifacts`` bytes each; their CIDs."""
        cap = self.parts.settings.publish_artifacts
        if flow is None or cap <= 0:
            return {}
        store = self.parts.runner.store.artifacts(flow.id)
        cids = {}
        for op_id, state in flow.states.items():
            for name, record in state.results.artifacts.items():
                path = store.path(record.digest)
                if record.size > cap or not path.is_file():
                    continue
                with path.open("rb") as blob:
                    cids[(op_id, name)] = str(self.parts.storage.put(blob))
        return cids

    # -- finishing ----------------------------------------------------------------------------------
    def _finish_step(self) -> None:
        chain = self.parts.chain
        assert self.record.result_cid is not None
        digest = Cid.parse(self.record.result_cid).to_chain()
        r = self.record
        if r.step is Step.FINISH_SENT and r.finish_tx and r.finish_signature and r.finish_last_valid:
            sent = SignedTransaction(r.finish_signature, r.finish_tx, r.finish_last_valid)
            try:
                if chain.resume(sent, action="finish"):
                    self._finished(sent.signature)
                    return
            except ChainError as exc:
                if not self._settled(digest):
                    raise exc from None
                return
        try:
            signature = chain.finish(self.job, digest, run=self.run, on_signed=self._signed)
        except ChainError as exc:
            if not self._settled(digest):
                raise exc from None
            return
        crash_point("finish-landed")
        self._finished(signature)

    def _signed(self, signed: SignedTransaction) -> None:
        self._save(
            step=Step.FINISH_SENT,
            finish_signature=signed.signature,
            finish_tx=signed.raw,
            finish_last_valid=signed.last_valid,
        )
        self._event("finish-sent", signature=signed.signature)
        crash_point("finish-signed")

    def _settled(self, digest: bytes) -> bool:
        """After a finish failed: True when the chain shows the job settled anyway (our finish
        landed earlier, or the job was ended) and the record says so."""
        chain = self.parts.chain
        job = chain.job(self.job)
        if (
            job is not None
            and job.state == JobState.DONE
            and job.ipfs_result == digest
            and job.node == self.parts.wallet
        ):
            self._finished(self.record.finish_signature)
            return True
        if chain.run(self.run) is None:
            self._stopped(f"{ENDED_ON_CHAIN} before its finish landed")
            return True
        return False

    # -- final steps ----------------------------------------------------------------------------------
    def _finished(self, signature: str | None) -> None:
        now = self.parts.clock.now()
        self._save(step=Step.FINISHED, finish_signature=signature, ended_at=now)
        self._event("finished", cid=self.record.result_cid, signature=signature, status=self.record.status)

    def _stopped(self, reason: str) -> None:
        self._save(step=Step.STOPPED, ended_at=self.parts.clock.now(), error=reason)
        self._event("stopped", reason=reason)

    def _quit(self, reason: str) -> None:
        try:
            self.parts.chain.quit(self.job, run=self.run)
        except ChainError:
            if self.parts.chain.run(self.run) is not None:
                raise
            self._stopped(f"{ENDED_ON_CHAIN} before it was quit")
            return
        self._save(step=Step.QUIT, ended_at=self.parts.clock.now(), error=reason)
        self._event("quit", reason=reason)


def _iso(unix: float) -> str:
    from nosana_node.flow.result import iso

    return iso(unix) or "-"


def _expired(deadline: float, when: str) -> str:
    return f"expired: its deadline {_iso(deadline)} passed {when}"
