"""`make demo`: the whole story on one machine, with the embedded defaults.

1. a local market starts in its own home (the jobs program in the Solana VM behind JSON-RPC,
   PubSub and its IPFS endpoint), on free ports;
2. a node starts in another home, as on another host: its ``config.edn`` names the market's
   RPC URL, the market, and a funded wallet the market's genesis made for it;
3. a client (the market's ``client-1`` wallet) posts ``pipelines/artifacts.yml`` and follows it;
   the node takes it, runs it on the Docker engine and finishes it on chain;
4. the client fetches the result through the job's result digest, and the artifacts the node
   stored with it, by CID;
5. everything started is stopped: the node first (it leaves the market's queue), then the
   market. Ctrl-C at any point does the same (exit 130); nothing is left running.

    .venv/bin/python scripts/demo.py [--keep]     # --keep: leave the homes in place
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "artifacts.yml"
CLI = [sys.executable, "-m", "nosana_node"]
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(f"\n{BOLD}==> {text}{RESET}", flush=True)


def env_for(home: Path) -> dict[str, str]:
    """A clean environment (no NOSANA_* of the caller) with ``home`` as the node's home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOSANA_", "VAULT_", "BAO_"))}
    env["NOSANA_HOME"] = str(home)
    return env


def pump(stream: IO[str], prefix: str, lines: list[str], seen: threading.Condition) -> None:
    """Print a child's output with a prefix, and keep it for waiting on."""
    for line in stream:
        line = line.rstrip("\n")
        print(f"{DIM}{prefix} |{RESET} {line}", flush=True)
        with seen:
            lines.append(line)
            seen.notify_all()
    with seen:
        seen.notify_all()


class Child:
    """A long-running child process in its own session (Ctrl-C reaches only this driver)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path | None = None) -> None:
        """Its output is shown with a prefix; with ``log``, stderr goes there and stdout is read
        by the caller."""
        self.name = name
        self.lines: list[str] = []
        self.seen = threading.Condition()
        self.log = log.open("w") if log is not None else None
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self.log or subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.thread: threading.Thread | None = None
        if log is None:
            self.follow()

    def follow(self, quiet: bool = False) -> None:
        """Read the rest of its stdout in a thread (shown unless ``quiet``)."""
        assert self.proc.stdout is not None
        sink = self.lines if not quiet else []
        prefix = self.name if not quiet else ""
        target = pump if not quiet else _drain
        self.thread = threading.Thread(
            target=target, args=(self.proc.stdout, prefix, sink, self.seen), daemon=True
        )
        self.thread.start()

    def wait_for(self, words: str, timeout: float = 120) -> None:
        with self.seen:
            found = self.seen.wait_for(
                lambda: any(words in line for line in self.lines) or self.proc.poll() is not None, timeout
            )
            if not found or not any(words in line for line in self.lines):
                raise SystemExit(f"demo: the {self.name} did not get ready (waited for {words!r})")

    def stop(self, *, hurry: bool = False) -> None:
        """SIGTERM (twice when hurrying) and wait; SIGKILL if it will not end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if hurry:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.thread is not None:
            self.thread.join(timeout=10)
        if self.log is not None:
            self.log.close()


def _drain(stream: IO[str], *_: object) -> None:
    for _line in stream:
        pass


def start_market(home: Path) -> tuple[Child, dict[str, object]]:
    say("starting a local market (its own home: the market's host)")
    home.mkdir(parents=True, exist_ok=True)
    log = home / "market.log"
    market = Child(
        "market",
        [*CLI, "localnet", "start", "--rpc-port", "0", "--ws-port", "0", "--json"],
        env_for(home),
        log,
    )
    assert market.proc.stdout is not None
    line = market.proc.stdout.readline()
    if not line:
        market.stop()
        raise SystemExit(f"demo: the local market did not start: {log.read_text().strip()}")
    market.follow(quiet=True)
    summary = json.loads(line)
    print(f"market at {summary['rpc_url']} (PubSub {summary['ws_url']}), ledger {summary['ledger']}")
    for m in summary["markets"]:
        print(f"  market {m['name']:<8} {m['address']}")
    return market, summary


def node_config(home: Path, summary: dict[str, object]) -> Path:
    """The node's home, as an operator on another host would set it up."""
    home.mkdir(parents=True, exist_ok=True)
    wallet = next(w for w in summary["wallets"] if w["name"] == "node-1")  # type: ignore[union-attr,index]
    keypair = home / "id.json"
    shutil.copyfile(wallet["keypair_path"], keypair)  # the funded wallet the market's genesis made
    keypair.chmod(0o600)
    market = next(m for m in summary["markets"] if m["name"] == "default")  # type: ignore[union-attr,index]
    config = home / "config.edn"
    config.write_text(
        ";; a node of the demo's local market, on what could be another host\n"
        "{:network :localnet\n"
        f' :rpc-url "{summary["rpc_url"]}"\n'
        f' :ws-url "{summary["ws_url"]}"\n'
        f' :keypair #file "{keypair}"\n'
        f' :market "{market["address"]}"\n'
        ' :node {:drain-timeout "30s"\n'
        '        :api {:address "127.0.0.1" :port 0}}}  ; its API and status page, on any free port\n'
    )
    return config


def client(market_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A client command on the market's host (its wallet client-1), output shown as it comes."""
    print(f"{DIM}$ nosana-node {' '.join(args)}{RESET}", flush=True)
    proc = subprocess.run(
        [*CLI, *args, "--network", "localnet"], env=env_for(market_home), cwd=REPO, check=False
    )
    return subprocess.CompletedProcess(proc.args, proc.returncode)


def post_and_wait(market_home: Path) -> str:
    """``job post --wait`` as the client (``client-1``): its lines shown; the job's address."""
    args = ["job", "post", str(PIPELINE.relative_to(REPO)), "--market", "default", "--wait", "--no-logs"]
    print(f"{DIM}$ nosana-node {' '.join(args)}{RESET}", flush=True)
    proc = subprocess.Popen(
        [*CLI, *args, "--network", "localnet"],
        env=env_for(market_home),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    job = None
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            found = re.match(r"job (\w+) posted to market", line)
            job = job or (found.group(1) if found else None)
    except BaseException:
        proc.terminate()  # stop following (the node and the market are stopped by the caller)
        proc.wait()
        raise
    if proc.wait() != 0 or job is None:
        raise SystemExit(f"demo: job post failed (exit {proc.returncode})")
    return job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the market's and the node's homes")
    options = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="nosana-demo-"))
    market_home, node_home = root / "market", root / "node"
    children: list[Child] = []
    interrupted = False
    code = 1
    try:
        market, summary = start_market(market_home)
        children.append(market)

        say("starting a node (another home: the node's host)")
        config = node_config(node_home, summary)
        print(config.read_text().rstrip())
        node = Child("node", [*CLI, "node", "start"], env_for(node_home))
        children.append(node)
        node.wait_for("waiting in the queue")

        say(f"posting {PIPELINE.relative_to(REPO)} as a job, and following it to its end")
        job = post_and_wait(market_home)
        node.wait_for(f"job {job} finished")

        say("the result, fetched through the job's result digest")
        out = root / "result"
        result = client(market_home, "job", "result", job, "--logs", "--download", str(out))
        say(f"what the client holds now, in {out}")
        for path in sorted(out.iterdir()):
            print(f"  {path.name:<28} {path.stat().st_size:>8} bytes")
        code = result.returncode
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping what the demo started", file=sys.stderr)
        code = 130
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        code = 1
    finally:
        with _no_interrupts():
            say("stopping the node, then the market")
            for child in reversed(children):
                child.stop(hurry=interrupted)
                print(f"{child.name} stopped (exit {child.proc.returncode})")
            if options.keep:
                print(f"homes kept in {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _no_interrupts:
    """Ctrl-C (or SIGTERM) while cleaning up is ignored: the cleanup always finishes."""

    def __enter__(self) -> None:
        self.previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
