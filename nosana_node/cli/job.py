"""`nosana-node job`: post work to a market and read it back (the developer's side).

``post`` validates a pipeline, stores its job document through the configured storage (IPFS
CIDv0), lists it on the market and, with ``--wait``, follows it to its end and shows the result
fetched by the job's result digest. ``get``, ``list``, ``stop``, ``extend`` and ``result`` read
and steer jobs; every command has ``--json``. The wallet is ``:keypair`` (on localnet without
one: the local market's ``client-1``).
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import typer

from nosana_node import units
from nosana_node.cli import chainctx
from nosana_node.cli.chainctx import JSON, NETWORK, RPC_URL

app = typer.Typer(help="Post jobs to a market, follow them, read their results.", no_args_is_help=True)

STATES = ("QUEUED", "RUNNING", "COMPLETED", "STOPPED")
#: Largest result document fetched.
MAX_RESULT_BYTES = 64 * 1024 * 1024
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# -- storage (job and result documents by CIDv0) ------------------------------------------------
def store_document(loaded: Any, document: dict[str, Any]) -> tuple[str, bytes]:
    """Store a JSON document; (its CID text, the 32-byte digest the chain keeps)."""
    from nosana_node.wiring import storage_for

    with storage_for(loaded) as storage:
        cid = storage.put_json(document)
    return str(cid), cid.to_chain()


def fetch_document(loaded: Any, digest: bytes, max_size: int) -> tuple[str, bytes]:
    """(CID text, content) of the document whose on-chain digest is ``digest`` (verified)."""
    from nosana_node.storage.cid import Cid
    from nosana_node.wiring import storage_for

    cid = Cid.from_chain(digest)
    if cid is None:
        raise _user_error("no document: the digest is all zeros")
    with storage_for(loaded) as storage:
        return str(cid), storage.get(cid, max_size=max_size)


def job_document(file: Path, repo: str | None, commit: str | None) -> dict[str, Any]:
    """The document posted for ``file``: a job definition as its JSON data (as the official
    CLI posts it), a pipeline as a pipeline document; invalid input prints its problems and
    exits 2."""
    from nosana_node.chain.documents import MAX_PIPELINE_BYTES, pipeline_document
    from nosana_node.cli.options import print_problems
    from nosana_node.formats import JOBDEF, detect
    from nosana_node.jobdef import validate_document
    from nosana_node.jobdef.source import load_source
    from nosana_node.pipeline import load
    from nosana_node.pipeline.problems import ProblemList

    try:
        source, fmt = load_source(file)
    except ProblemList:
        source = None  # unreadable as either: the pipeline loader says why
    if source is not None and detect(source.data) == JOBDEF:
        if repo is not None:
            raise _user_error("--repo and --commit are for pipelines: a job definition names its images")
        try:
            job = validate_document(source, fmt)  # type: ignore[arg-type]
        except ProblemList as exc:
            print_problems(exc.lines)
            raise typer.Exit(2) from None
        for warning in job.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        document: dict[str, Any] = job.document.data
        if len(json.dumps(document).encode()) > MAX_PIPELINE_BYTES:
            raise _user_error(f"{file}: larger than {MAX_PIPELINE_BYTES} bytes")
        return document
    try:
        doc, _ = load(file)
    except ProblemList as exc:
        print_problems(exc.lines)
        raise typer.Exit(2) from None
    if len(doc.text.encode()) > MAX_PIPELINE_BYTES:
        raise _user_error(f"{file}: larger than {MAX_PIPELINE_BYTES} bytes")
    return pipeline_document(doc.text, repo, commit)


def _user_error(message: str) -> Exception:
    from nosana_node.errors import UserInputError

    return UserInputError(message)


def _address(text: str, what: str = "job") -> Any:
    from nosana_node.chain.endpoint import parse_pubkey

    return parse_pubkey(text, what)


def _state_filter(state: str | None) -> str | None:
    if state is None:
        return None
    word = state.strip().upper()
    word = {"DONE": "COMPLETED", "FINISHED": "COMPLETED"}.get(word, word)
    if word not in STATES:
        raise _user_error(f"--state: {state!r} is not one of {', '.join(s.lower() for s in STATES)}")
    return word


# -- views ----------------------------------------------------------------------------------------
def job_json(view: Any, endpoint: Any) -> dict[str, Any]:
    """A job as JSON: addresses, state, times (unix seconds), price, CIDs of its documents."""
    from nosana_node.storage.cid import Cid

    job = view.job
    document, result = Cid.from_chain(job.ipfs_job), Cid.from_chain(job.ipfs_result)
    runs = [{"run": str(k), "node": str(r.node), "started": r.time} for k, r in view.runs.items()]
    return {
        "address": str(view.address),
        "state": view.state,
        "market": str(job.market),
        "market_name": endpoint.market_name(job.market),
        "project": str(job.project),
        "payer": str(job.payer),
        "node": str(job.node) if any(bytes(job.node)) else (runs[0]["node"] if runs else None),
        "price": job.price,
        "timeout": job.timeout,
        "time_start": job.time_start or (runs[0]["started"] if runs else None) or None,
        "time_end": job.time_end or None,
        "job_cid": str(document) if document else None,
        "result_cid": str(result) if result else None,
        "runs": runs,
    }


def _when(unix: int | None) -> str:
    if not unix:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def print_job(doc: dict[str, Any]) -> None:
    market = doc["market"] + (f" ({doc['market_name']})" if doc["market_name"] else "")
    lines = [
        f"job {doc['address']}: {doc['state']}",
        f"  market     {market}",
        f"  project    {doc['project']}",
        f"  node       {doc['node'] or '-'}",
        f"  timeout    {chainctx.seconds(doc['timeout'])}  (price {units.nos(doc['price'])}/s)",
        f"  started    {_when(doc['time_start'])}",
        f"  ended      {_when(doc['time_end'])}",
        f"  document   {doc['job_cid'] or '-'}",
        f"  result     {doc['result_cid'] or '-'}",
    ]
    print("\n".join(lines))


def _view(client: Any, address: Any) -> Any:
    view = client.job_view(address)
    if view is None:
        raise _user_error(f"job {address} not found on {client.endpoint.network} (never listed, or closed)")
    return view


# -- post -----------------------------------------------------------------------------------------
@app.command("post")
def post(
    file: Path = typer.Argument(
        ..., help="Pipeline (YAML) or job definition (JSON or YAML) file.", show_default=False
    ),
    market: str | None = chainctx.option(
        "--market",
        "NAME|ADDRESS",
        "Market to post to: a name (:markets; on localnet default, priced) or an address.",
        ":market of the configuration",
    ),
    timeout: str | None = chainctx.option(
        "--timeout", "DURATION", "Longest the job may run (30m, 2h).", "the market's job timeout"
    ),
    repo: str | None = chainctx.option("--repo", "URL", "Repository the pipeline checks out.", "none"),
    commit: str | None = chainctx.option("--commit", "SHA", "Commit of --repo to check out.", "none"),
    wait: bool = typer.Option(False, "--wait", help="Follow the job to its end and show its result."),
    logs: bool = typer.Option(True, "--logs/--no-logs", help="With --wait: show each job's log."),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Post a pipeline or a job definition as a job: store its document, list it on the market
    (exit 2: bad input)."""
    if (repo is None) != (commit is None):
        raise _user_error("--repo and --commit go together: the repository and the commit to check out")
    if repo is not None and not re.match(r"^https?://[^\s/]+", repo):
        raise _user_error(
            f"--repo: {repo!r} is not a repository URL a node checks out (https://..., http://...)"
        )
    if commit is not None and not _COMMIT.match(commit):
        raise _user_error(f"--commit: {commit!r} is not a commit SHA (7 to 64 hex digits)")
    document = job_document(file, repo, commit)
    seconds = None if timeout is None else chainctx.parse_seconds(timeout, "--timeout")

    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded) as client:
        address = client.endpoint.market(market or loaded.config.market)
        account = client.market(address)
        seconds = seconds or account.job_timeout
        deposit = account.job_price * seconds
        if deposit:
            have = client.nos_balance() or 0
            if have < deposit:
                raise _user_error(
                    f"not enough NOS for {chainctx.seconds(seconds)} on this market: the deposit is "
                    f"{units.nos(deposit)}, {client.wallet} holds {units.nos(have)}"
                )
        cid, digest = store_document(loaded, document)
        posted = client.list_job(address, digest, seconds)
        view = client.job_view(posted.job)
        result = {
            "job": str(posted.job),
            "market": str(address),
            "market_name": client.endpoint.market_name(address),
            "signature": posted.signature,
            "job_cid": cid,
            "timeout": seconds,
            "deposit": deposit,
            "state": view.state if view else "QUEUED",
        }
        if not as_json:
            name = f" ({result['market_name']})" if result["market_name"] else ""
            print(f"job {posted.job} posted to market {address}{name}")
            print(f"  document {cid}, timeout {chainctx.seconds(seconds)}, deposit {units.nos(deposit)}")
            print(f"  follow it: nosana-node job get {posted.job}")
        if not wait:
            if as_json:
                chainctx.emit(result)
            return
        final = follow(client, posted.job, quiet=as_json)
        code = _finish_wait(loaded, client, final, result, logs, as_json)
    raise typer.Exit(code)


def follow(client: Any, job: Any, *, quiet: bool = False, grace: float = 60.0) -> Any:
    """Follow ``job`` until it is COMPLETED, STOPPED or closed; print each state on stderr.

    Watches the job account and its runs (subscriptions, polling when the socket is down).
    Ctrl-C stops following (the job goes on). Returns the last job view (None: closed).
    """
    events: queue.Queue[str] = queue.Queue()
    job_watch = client.watch_job(job, lambda _account: events.put("job"))
    run_watch = client.watch_runs(lambda _address, _run: events.put("run"), job=job)
    last_state, warned = None, False
    try:
        while True:
            with contextlib.suppress(queue.Empty):
                events.get(timeout=client.slow_poll)
            while not events.empty():
                events.get_nowait()
            view = client.job_view(job)
            state = view.state if view else "CLOSED"
            if state != last_state:
                last_state = state
                if not quiet:
                    print(
                        f"{time.strftime('%H:%M:%S')} {job}: {_describe_state(client, view)}", file=sys.stderr
                    )
            if view is None or state in ("COMPLETED", "STOPPED"):
                return view
            if state == "RUNNING" and view.runs and not warned:
                started = min(r.time for r in view.runs.values())
                if time.time() > started + view.job.timeout + grace:
                    warned = True
                    late = chainctx.seconds(time.time() - started - view.job.timeout)
                    print(
                        f"warning: {job} passed its timeout {late} ago and its node has not finished it; "
                        f"`nosana-node job stop {job}` ends it",
                        file=sys.stderr,
                    )
    except KeyboardInterrupt:
        print(f"\nstopped following; the job goes on: nosana-node job get {job}", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        job_watch.close()
        run_watch.close()


def _describe_state(client: Any, view: Any) -> str:
    if view is None:
        return "CLOSED (delisted or recovered)"
    if view.state == "RUNNING":
        run, account = next(iter(view.runs.items()))
        return f"RUNNING on node {account.node} (run {run})"
    if view.state == "QUEUED":
        market = client.market(view.job.market)
        position = next((i + 1 for i, k in enumerate(market.queue) if k == view.address), None)
        return f"QUEUED (position {position} of {len(market.queue)})" if position else "QUEUED"
    return view.state


def _finish_wait(
    loaded: Any, client: Any, view: Any, posted: dict[str, Any], logs: bool, as_json: bool
) -> int:
    """Show how a followed job ended; the exit code (0: completed and succeeded)."""
    if view is None or view.state != "COMPLETED" or not any(view.job.ipfs_result):
        state = view.state if view else "CLOSED"
        if as_json:
            chainctx.emit({**posted, "state": state, "result": None})
        else:
            how = "ended by its poster" if view is not None and state == "COMPLETED" else f"ended {state}"
            print(f"job {posted['job']} {how}, without a result")
        return 1
    doc, summary, cid = _result(loaded, view)
    if as_json:
        chainctx.emit({**posted, "state": view.state, "result_cid": cid, "result": doc})
    else:
        print(f"job {posted['job']} COMPLETED; result {cid}")
        print_result(summary, logs=logs)
    return 0 if _succeeded(summary) else 1


# -- reading results --------------------------------------------------------------------------------
def _result(loaded: Any, view: Any) -> tuple[Any, Any, str]:
    """(document, summary, CID) of a completed job's result."""
    from nosana_node.chain.documents import read_result

    if not any(view.job.ipfs_result):
        raise _user_error(f"job {view.address} is {view.state} and has no result")
    cid, content = fetch_document(loaded, view.job.ipfs_result, MAX_RESULT_BYTES)
    try:
        doc = json.loads(content)
    except ValueError:
        raise _user_error(f"the result {cid} of job {view.address} is not JSON") from None
    return doc, read_result(doc), cid


def _succeeded(summary: Any) -> bool:
    return str(summary.status).lower() in ("success", "succeeded", "completed", "ok", "done")


def print_result(summary: Any, *, logs: bool) -> None:
    rows = [
        [
            op.name,
            op.status,
            "-" if op.exit_code is None else str(op.exit_code),
            "-" if op.duration is None else f"{op.duration:.1f}s",
            (op.error or "")[:80],
        ]
        for op in summary.ops
    ]
    print(f"status: {summary.status}")
    if summary.error and not any(op.error for op in summary.ops):
        print(f"error: {summary.error}")
    if rows:
        print(chainctx.table(rows, ["JOB", "STATUS", "EXIT", "TIME", "ERROR"]))
    if logs:
        for op in summary.ops:
            if op.log:
                print(f"--- {op.name} ---")
                sys.stdout.write(op.log if op.log.endswith("\n") else op.log + "\n")


@app.command("result")
def result(
    job: str = typer.Argument(..., help="Job address.", show_default=False),
    logs: bool = typer.Option(False, "--logs", help="Show each job's log."),
    download: Path | None = chainctx.option(
        "--download", "DIR", "Write the result and logs into DIR.", "none"
    ),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """The result of a completed job, fetched by its result digest (exit 1 when it failed)."""
    address = _address(job)
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded, readonly=True) as client:
        view = _view(client, address)
    doc, summary, cid = _result(loaded, view)
    written = _download(loaded, download, doc, summary) if download is not None else []
    if as_json:
        chainctx.emit({"job": str(address), "result_cid": cid, "result": doc, "written": written})
    else:
        print(f"job {address}: result {cid}")
        print_result(summary, logs=logs)
        for path in written:
            print(f"wrote {path}")
    raise typer.Exit(0 if _succeeded(summary) else 1)


def _download(loaded: Any, directory: Path, doc: Any, summary: Any) -> list[str]:
    """Write ``result.json``, ``<job>.log`` for each job, and artifacts the result names by CID."""
    from nosana_node.storage.cid import Cid

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _user_error(f"--download {directory}: {exc.strerror}") from None
    written = []

    def path(name: str) -> Path:
        return directory / (_SAFE_NAME.sub("_", name).strip("._") or "unnamed")

    def write(name: str, data: bytes) -> None:
        path(name).write_bytes(data)
        written.append(str(path(name)))

    write("result.json", json.dumps(doc, indent=2).encode())
    for op in summary.ops:
        if op.log:
            write(f"{op.name}.log", op.log.encode())
    artifacts = [
        (f"{op.name}-{name}.tar", Cid.parse(record["cid"]))
        for op in summary.ops
        for name, record in op.artifacts.items()
        if isinstance(record, dict) and isinstance(record.get("cid"), str)
    ]
    if artifacts:
        from nosana_node.storage.base import save
        from nosana_node.wiring import storage_for

        with storage_for(loaded) as storage:
            for name, cid in artifacts:
                save(storage, cid, path(name))
                written.append(str(path(name)))
    return written


# -- get, list ------------------------------------------------------------------------------------
@app.command("get")
def get(
    job: str = typer.Argument(..., help="Job address.", show_default=False),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """A job: its state, market, node, times and the CIDs of its documents."""
    address = _address(job)
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded, readonly=True) as client:
        doc = job_json(_view(client, address), client.endpoint)
    if as_json:
        chainctx.emit(doc)
    else:
        print_job(doc)


@app.command("list")
def list_jobs(
    market: str | None = chainctx.option("--market", "NAME|ADDRESS", "Only jobs of this market.", "all"),
    state: str | None = chainctx.option("--state", "STATE", "queued, running, completed or stopped.", "any"),
    mine: bool = typer.Option(False, "--mine", help="Only jobs posted with this wallet."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="Show at most this many."),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Jobs on chain, running and queued first, newest first."""
    from nosana_node.chain.accounts import JobState
    from nosana_node.chain.interface import STATE_BY_NAME, JobView, job_state

    wanted = _state_filter(state)
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded, readonly=not mine) as client:
        endpoint = client.endpoint
        if endpoint.network != "localnet" and market is None and not mine:
            raise _user_error(
                f"listing every job of {endpoint.network} is too large a query: pass --market or --mine"
            )
        stored = None if wanted is None else int(STATE_BY_NAME[wanted])
        if wanted == "RUNNING":
            stored = None  # running jobs are stored as queued, or as stopped once claimed again
        jobs = client.jobs(
            market=endpoint.market(market) if market else None,
            state=stored,
            project=client.wallet if mine else None,
        )
        runs: dict[Any, dict[Any, Any]] = {}
        if any(j.state != JobState.DONE for j in jobs.values()):
            for key, run in client.runs().items():
                runs.setdefault(run.job, {})[key] = run
    views = [JobView(a, j, runs.get(a, {}), job_state(j, a in runs)) for a, j in jobs.items()]
    if wanted is not None:
        views = [v for v in views if v.state == wanted]
    order = {"RUNNING": 0, "QUEUED": 1, "STOPPED": 2, "COMPLETED": 3}
    views.sort(key=lambda v: (order.get(v.state, 4), -(v.job.time_end or v.job.time_start), str(v.address)))
    shown = views[:limit]
    if as_json:
        chainctx.emit([job_json(v, endpoint) for v in shown])
        return
    if not shown:
        print("no jobs")
        return
    rows = [
        [
            str(v.address),
            v.state,
            endpoint.market_name(v.job.market) or str(v.job.market)[:8] + "...",
            chainctx.seconds(v.job.timeout),
            _when(v.job.time_end) if v.job.time_end else "-",
        ]
        for v in shown
    ]
    print(chainctx.table(rows, ["JOB", "STATE", "MARKET", "TIMEOUT", "ENDED"]))
    if len(views) > limit:
        print(f"... {len(views) - limit} more (--limit)")


# -- stop, extend ---------------------------------------------------------------------------------
@app.command("stop")
def stop(
    job: str = typer.Argument(..., help="Job address.", show_default=False),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Stop a job you posted: a queued one is delisted (deposit back), a running one is ended
    (its node paid for the time used, the rest back)."""
    address = _address(job)
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded) as client:
        view = _view(client, address)
        _require_project(client, view)
        if view.state == "QUEUED":
            action, signature = "delisted", client.delist(address)
        elif view.state == "RUNNING":
            action, signature = "ended", client.end(address)
        else:
            raise _user_error(f"job {address} is {view.state}: there is nothing to stop")
    if as_json:
        chainctx.emit({"job": str(address), "action": action, "signature": signature})
    else:
        print(f"job {address} {action} ({signature})")


@app.command("extend")
def extend(
    job: str = typer.Argument(..., help="Job address.", show_default=False),
    timeout: str = typer.Option(
        ...,
        "--timeout",
        metavar="DURATION",
        help="Time added to the job's timeout (30m, 1h).",
        show_default=False,
    ),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = JSON,
) -> None:
    """Give a queued or running job more time; the extra time is deposited."""
    added = chainctx.parse_seconds(timeout, "--timeout")
    address = _address(job)
    loaded = chainctx.load(network, rpc_url)
    with chainctx.chain(loaded) as client:
        view = _view(client, address)
        _require_project(client, view)
        if view.state not in ("QUEUED", "RUNNING"):
            raise _user_error(f"job {address} is {view.state}: only queued and running jobs can be extended")
        new = view.job.timeout + added
        signature = client.extend(address, new)
    if as_json:
        chainctx.emit({"job": str(address), "timeout": new, "added": added, "signature": signature})
    else:
        before, after = chainctx.seconds(view.job.timeout), chainctx.seconds(new)
        print(f"job {address}: timeout {before} -> {after} ({signature})")


def _require_project(client: Any, view: Any) -> None:
    if view.job.project != client.wallet:
        raise _user_error(
            f"job {view.address} was posted by {view.job.project}; this wallet is {client.wallet}"
        )


# -- logs from the node that runs the job ---------------------------------------------------------
@app.command("logs")
def logs(
    address: str = typer.Argument(..., help="The job's address."),
    node: str = typer.Option(
        ..., "--node", metavar="URL", help="API of the node that runs the job: http://HOST:PORT."
    ),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Follow the log live until the job's run on that node ends."
    ),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        metavar="FILE",
        help="Read as the node's operator with its token (<home>/api-token). [default: none: sign the "
        "node's challenge as the job's poster, with :keypair]",
        show_default=False,
    ),
    network: str | None = NETWORK,
    rpc_url: str | None = RPC_URL,
    as_json: bool = typer.Option(False, "--json", help="One JSON record a line (log, op, end)."),
) -> None:
    """A job's log from the node that runs it; proves to the node that this wallet posted the job
    (an ed25519 signature of the node's challenge), or reads as its operator (--token-file)."""
    from nosana_node.api.client import LogClient
    from nosana_node.chain.endpoint import endpoint_for, wallet_for

    job = str(_address(address))
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _user_error(f"--token-file {token_file}: {exc.strerror}") from None
        client = LogClient(node, token=token)
    else:
        loaded = chainctx.load(network, rpc_url)
        config = loaded.config
        client = LogClient(node, keypair=wallet_for(config, endpoint_for(config), "client"))
    printer = _LogPrinter(as_json)
    with client:
        records = client.follow(job) if follow else client.stored(job)
        for record in records:
            printer.add(record)
    printer.flush()
    if printer.dropped:
        raise _failure(f"the node stopped sending: {printer.dropped}")


def _failure(message: str) -> Exception:
    from nosana_node.errors import NosanaError

    return NosanaError(message)


class _LogPrinter:
    """Records as lines: ``op | text`` (stdout), ``op ! text`` (stderr), ``op · text`` (node);
    made inert for the terminal and split like the live display (linear, a line cut at its cap);
    or one JSON record a line (ASCII: every control and non-ASCII character escaped)."""

    MARKS: ClassVar[dict[str, str]] = {"stdout": "|", "stderr": "!", "node": "·"}

    def __init__(self, as_json: bool) -> None:
        from nosana_node.cli.display import LineSplitter

        self.as_json = as_json
        self.lines = LineSplitter()
        self.dropped: str | None = None
        self.sgr = "keep" if sys.stdout.isatty() else "strip"

    def add(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == "ping":
            return
        if kind == "dropped":
            self.dropped = str(record.get("reason"))
        if self.as_json:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()
            return
        if kind == "log":
            key = (str(record.get("op")), str(record.get("s")))
            for line in self.lines.feed(key, str(record.get("d", ""))):
                self._line(key, line)
        elif kind == "end":
            self.flush()
            print(f"job ended: {record.get('status')}", file=sys.stderr, flush=True)

    def _line(self, key: tuple[str, str], text: str) -> None:
        from nosana_node.cli.display import shown_line
        from nosana_node.terminal import neutralise

        op, stream = key
        mark = self.MARKS.get(stream, "|")
        sys.stdout.write(f"{neutralise(op)} {mark} {shown_line(text, self.sgr)}\n")  # type: ignore[arg-type]
        sys.stdout.flush()

    def flush(self) -> None:
        for key, rest in self.lines.flush():
            self._line(key, rest)
