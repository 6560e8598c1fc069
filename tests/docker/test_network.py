"""The network of job containers, on the real engine and the host's real firewall.

Services listen on the host: one on 0.0.0.0, one on the gateway address of Docker's default
bridge, one on the gateway address of the node's own network, and a container of the default
bridge publishes a port. A test host outside this one is made with a network namespace and a
veth pair (198.18.x.0/30), with a service of its own. Then:

- a job on ``bridge`` reaches the host's services (the reason for the default);
- a job on the default (``isolated``) network reaches none of them, on any host address, nor
  the published port, but reaches the service beyond the host;
- a job on ``none`` has no network at all;
- the node's network and rules are made once and reused (a second run adds nothing);
- ``host`` and ``container:…`` are refused before anything runs, an unknown network name too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import shutil
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_node.docker import labels
from nosana_node.docker.firewall import INPUT_CHAIN, FirewallError, IptablesFirewall
from nosana_node.docker.network import INTERFACE, NAME, IsolatedNetwork
from nosana_node.errors import ConfigError
from tests.corekit import IMAGE, cli, engine, no_traceback, write

pytestmark = pytest.mark.docker
BANNER = "host-service"


class _Banner(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(BANNER.encode() + b"\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def serving(address: str) -> Iterator[int]:
    """A TCP service on the host at ``address`` (port chosen by the system) sending a banner."""
    server = _Server((address, 0), _Banner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def gateway(api: Any, network: str) -> str:
    """The host's address on a bridge network (its IPAM gateway, else its interface's address)."""
    info = api.inspect_network(network)
    config = (info["IPAM"].get("Config") or [{}])[0]
    if config.get("Gateway"):
        return config["Gateway"].split("/")[0]
    interface = info["Options"]["com.docker.network.bridge.name"]
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", interface], capture_output=True, text=True)
    return out.stdout.split()[3].split("/")[0]


def host_addresses() -> list[str]:
    """Every IPv4 address of this host, but loopback."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True)
    found = [line.split()[3].split("/")[0] for line in out.stdout.splitlines()]
    return [a for a in found if not ipaddress.ip_address(a).is_loopback]


def probe(targets: list[tuple[str, int]]) -> str:
    """Job commands printing ``REACHED ip:port`` or ``BLOCKED ip:port`` for each target."""
    return "".join(
        f"      - if nc -w 3 {ip} {port} </dev/null | grep -q {BANNER}; "
        f"then echo REACHED {ip}:{port}; else echo BLOCKED {ip}:{port}; fi\n"
        for ip, port in targets
    )


def verdicts(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        words = line.split()
        if len(words) == 4 and words[2] in ("REACHED", "BLOCKED"):
            out[words[3]] = words[2]
    return out


@pytest.fixture(scope="module")
def isolated_gateway() -> str:
    """The node's network, made ready as a run does it; its gateway address."""
    api = engine()
    try:
        IsolatedNetwork(api).prepare()
        return gateway(api, NAME)
    finally:
        api.close()


@pytest.fixture(scope="module")
def published() -> Iterator[tuple[str, int]]:
    """A container on Docker's default bridge publishing a port on the host: (host ip, port)."""
    api = engine()
    created = api.create_container(
        IMAGE,
        command=["nc", "-ll", "-p", "8080", "-e", "/bin/echo", BANNER],
        ports=[8080],
        labels={labels.NODE: "1", "io.nosana.test": "published"},
        host_config=api.create_host_config(port_bindings={8080: None}),
    )
    try:
        api.start(created["Id"])
        port = int(api.port(created["Id"], 8080)[0]["HostPort"])
        address = next(a for a in host_addresses() if not a.startswith("172."))
        yield address, port
    finally:
        api.remove_container(created["Id"], force=True)
        api.close()


@pytest.fixture(scope="module")
def outside() -> Iterator[tuple[str, int]]:
    """A host beyond this one: a network namespace behind a veth pair, serving the banner."""
    tag = f"{os.getpid() % 10000}{random.randrange(100)}"
    ns, host_end, far_end = f"nosana-t{tag}", f"nsh{tag}", f"nsf{tag}"
    net = ipaddress.ip_network(f"198.18.{random.randrange(1, 250)}.{4 * random.randrange(60)}/30")
    near, far = (str(a) for a in list(net.hosts())[:2])

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", ns)
    server = None
    try:
        ip("link", "add", host_end, "type", "veth", "peer", "name", far_end)
        ip("link", "set", far_end, "netns", ns)
        ip("addr", "add", f"{near}/30", "dev", host_end)
        ip("link", "set", host_end, "up")
        for args in (
            ("addr", "add", f"{far}/30", "dev", far_end),
            ("link", "set", far_end, "up"),
            ("link", "set", "lo", "up"),
            ("route", "add", "default", "via", near),
        ):
            ip("netns", "exec", ns, "ip", *args)
        code = (
            "import socket,sys\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', 0)); s.listen(8); print(s.getsockname()[1], flush=True)\n"
            "while True:\n"
            f"    c,_=s.accept(); c.sendall(b'{BANNER}\\n'); c.close()\n"
        )
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield far, port
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def run_probe(tmp_path: Path, home: Path, targets: list[tuple[str, int]], *flags: str) -> dict[str, str]:
    path = write(
        tmp_path, f"global:\n  image: {IMAGE}\njobs:\n  - name: probe\n    commands:\n" + probe(targets)
    )
    proc = cli("pipeline", "run", str(path), *flags, home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = verdicts(proc.stdout)
    assert len(found) == len(set(targets)), proc.stdout
    return found


def test_bridge_reaches_the_hosts_services_the_default_network_does_not(
    tmp_path: Path,
    home: Path,
    isolated_gateway: str,
    published: tuple[str, int],
    outside: tuple[str, int],
) -> None:
    api = engine()
    bridge_gateway = gateway(api, "bridge")
    api.close()
    with (
        serving("0.0.0.0") as any_port,
        serving(bridge_gateway) as bridge_port,
        serving(isolated_gateway) as isolated_port,
    ):
        on_any = [(address, any_port) for address in host_addresses()]
        assert {isolated_gateway, bridge_gateway} <= {a for a, _ in on_any} and len(on_any) >= 3
        host = [*on_any, (bridge_gateway, bridge_port), (isolated_gateway, isolated_port), published]

        bridge = run_probe(tmp_path, home, [*host, outside], "--network", "bridge")
        assert bridge[f"{bridge_gateway}:{any_port}"] == "REACHED"  # the default bridge's gateway
        assert bridge[f"{bridge_gateway}:{bridge_port}"] == "REACHED"
        assert bridge[f"{published[0]}:{published[1]}"] == "REACHED"
        assert bridge[f"{outside[0]}:{outside[1]}"] == "REACHED"

        isolated = run_probe(tmp_path, home, [*host, outside])
        assert {k: v for k, v in isolated.items() if k != f"{outside[0]}:{outside[1]}"} == {
            f"{a}:{p}": "BLOCKED" for a, p in host
        }
        assert isolated[f"{outside[0]}:{outside[1]}"] == "REACHED"  # beyond the host: open


def test_none_has_no_network(tmp_path: Path, home: Path, outside: tuple[str, int]) -> None:
    path = write(
        tmp_path,
        f"global:\n  image: {IMAGE}\njobs:\n  - name: probe\n    commands:\n"
        "      - ip -o link | cut -d' ' -f2\n" + probe([outside]),
    )
    proc = cli("pipeline", "run", str(path), "--network", "none", home=home)
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stdout.splitlines() if line.startswith("probe | ") and ":" in line][:1] == [
        "probe | lo:"
    ]
    assert verdicts(proc.stdout) == {f"{outside[0]}:{outside[1]}": "BLOCKED"}


def test_the_network_and_its_rules_are_made_once_and_reused(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, f"global:\n  image: {IMAGE}\njobs:\n  - name: where\n    commands: [ip route]\n")
    for _ in range(2):
        proc = cli("pipeline", "run", str(path), home=home)
        assert proc.returncode == 0, proc.stderr
    api = engine()
    try:
        ours = api.networks(filters={"label": "io.nosana.network=isolated"})
        subnet = api.inspect_network(NAME)["IPAM"]["Config"][0]["Subnet"]
    finally:
        api.close()
    assert [n["Name"] for n in ours] == [NAME]
    assert f"where | {subnet} dev eth0" in proc.stdout  # the job ran on the node's network
    rules = IptablesFirewall().rules(INTERFACE)
    assert rules.count(f"iptables -A INPUT -i {INTERFACE} -j {INPUT_CHAIN}") == 1
    assert sum(line.startswith(f"iptables -A {INPUT_CHAIN} ") for line in rules) == 2
    assert sum(line.startswith("iptables -A DOCKER-USER ") for line in rules) == 1
    listed = subprocess.run(["iptables", "-w", "10", "-S"], capture_output=True, text=True, check=True)
    jumps = [line for line in listed.stdout.splitlines() if "-j NOSANA-" in line]
    ours = [line for line in jumps if f"-i {INTERFACE} " in line]
    assert len(ours) == 2  # made once, for our bridge
    # every jump into our chains is scoped to an interface (ours, or the per-job bridges `nsj+`)
    assert all(" -i " in line for line in jumps)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("host", "network 'host' is refused"),
        ("container:abc", "network 'container:abc' is refused"),
        ("no-such-network-here", "no Docker network named 'no-such-network-here'"),
    ],
)
def test_refused_networks_stop_before_anything_runs(
    tmp_path: Path, home: Path, mode: str, message: str
) -> None:
    path = write(tmp_path, f"global:\n  image: {IMAGE}\njobs:\n  - name: a\n    commands: [echo ran]\n")
    proc = cli("pipeline", "run", str(path), "--network", mode, "--json", home=home)
    assert proc.returncode == 2 and no_traceback(proc.stderr)
    assert message in proc.stderr and "ran" not in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_named_network_is_used_as_it_is(tmp_path: Path, home: Path) -> None:
    api = engine()
    name = f"nosana-test-{os.getpid()}"
    api.create_network(name, driver="bridge", labels={labels.NODE: "1", "io.nosana.test": "named"})
    try:
        subnet = api.inspect_network(name)["IPAM"]["Config"][0]["Subnet"]
        path = write(
            tmp_path, f"global:\n  image: {IMAGE}\njobs:\n  - name: where\n    commands: [ip route]\n"
        )
        proc = cli("--set", f"docker.network={name}", "pipeline", "run", str(path), "--json", home=home)
        assert proc.returncode == 0, proc.stderr
        assert f"where | {subnet} dev eth0" in proc.stderr
        assert json.loads(proc.stdout)["status"] == "succeeded"
    finally:
        api.remove_network(name)
        api.close()


def test_a_foreign_network_under_the_nodes_name_is_refused() -> None:
    foreign = {"Name": NAME, "Driver": "bridge", "Labels": {}, "Options": {}}
    with pytest.raises(ConfigError, match=f"docker network rm {NAME}"):
        IsolatedNetwork(None)._check(foreign)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is needed")
def test_without_root_the_firewall_says_what_to_do() -> None:
    code = (
        "from nosana_node.docker.firewall import IptablesFirewall, FirewallError\n"
        "try:\n    IptablesFirewall().isolate('nosana-jobs')\n"
        "except FirewallError as exc:\n    print(exc)\n"
    )
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "needs root" in proc.stdout and ":docker :network" in proc.stdout, proc.stdout + proc.stderr
    assert FirewallError.__mro__[1].__name__ == "NosanaError"


@pytest.mark.parametrize("mode", ["isolated", "bridge"])
def test_a_job_definitions_own_bridge_does_not_reach_the_hosts_services(
    tmp_path: Path, home: Path, published: tuple[str, int], outside: tuple[str, int], mode: str
) -> None:
    """Market jobs are job definitions: each runs on a bridge of its own (``nsj…``), under the
    same rules. Its gateway (found inside the job), every host address and a published port are
    out of reach; the host beyond is not. With ``bridge`` (``nsb…``) the host's services are
    reached, as the operator chose."""
    with serving("0.0.0.0") as any_port:
        host = [*((address, any_port) for address in host_addresses()), published]
        script = (
            "gw=$(ip route | awk '/^default/ {print $3}'); "
            f"if nc -w 3 $gw {any_port} </dev/null | grep -q {BANNER}; "
            f"then echo REACHED gateway:{any_port}; else echo BLOCKED gateway:{any_port}; fi\n"
            + "".join(line.strip().removeprefix("- ") + "\n" for line in probe([*host, outside]).splitlines())
        )
        definition = {
            "version": "0.1",
            "type": "container",
            "ops": [
                {
                    "type": "container/run",
                    "id": "probe",
                    "args": {"image": IMAGE, "cmd": ["sh", "-c", script]},
                }
            ],
        }
        path = tmp_path / "probe.json"
        path.write_text(json.dumps(definition))
        proc = cli("job", "run", str(path), "--network", mode, home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = verdicts(proc.stdout + proc.stderr)
    assert found.pop(f"{outside[0]}:{outside[1]}") == "REACHED", proc.stdout
    if mode == "bridge":
        assert (
            found.pop(f"gateway:{any_port}") == "REACHED"
            and found[f"{published[0]}:{published[1]}"] == "REACHED"
        )
        return
    assert found == {"gateway:" + str(any_port): "BLOCKED", **{f"{a}:{p}": "BLOCKED" for a, p in host}}
