"""WebSocket health checks against real WebSocket servers: on loopback (the `websockets`
library's server) ready when the first message holds `expected_response`; a wrong message,
silence, a refused connection, a plain HTTP server or an oversized message do not pass, each said
in a few words. End to end on the real engine: a job definition's service whose port has
`type: websocket` (a handshake written in busybox sh behind `nc`) is ready once its check passes,
and its URL is a `ws://` one."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

from nosana_node.flow.model import FlowStatus, OpStatus
from nosana_node.jobdef import health
from tests.jobdef.runkit import job, leftovers, log_text, run_service

READY = health.Check(type="websocket", expected_response="ready")


@contextmanager
def websocket_server(first: str | bytes | None) -> Iterator[tuple[int, list[str]]]:
    """A WebSocket server on a free loopback port that sends ``first`` (None: nothing) to each
    client; yields the port and the paths clients asked for."""
    paths: list[str] = []

    def handler(connection: ServerConnection) -> None:
        paths.append(connection.request.path if connection.request else "")
        if first is not None:
            connection.send(first)
        with contextlib.suppress(ConnectionClosed):
            connection.recv()  # until the client closes

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.socket.getsockname()[1], paths
        finally:
            server.shutdown()
            thread.join(10)


def port(number: int, checks: tuple[health.Check, ...] = (READY,)) -> health.Port:
    return health.Port(8080, "websocket", "127.0.0.1", number, checks)


def test_a_websocket_port_is_ready_when_the_first_message_holds_the_expected_response() -> None:
    with websocket_server("server ready: v1") as (number, paths):
        target = port(number)
        assert target.url == f"ws://127.0.0.1:{number}"
        assert health.check_round(target) == (True, "passed")
        assert health.run_check(target, READY) == (True, "received 'server ready: v1'")
    assert paths == ["/", "/"]


def test_a_binary_first_message_is_read_as_text() -> None:
    with websocket_server(b"ready\xff") as (number, _):
        assert health.run_check(port(number), READY) == (True, "received 'ready\ufffd'")


def test_another_message_does_not_pass_and_says_what_came() -> None:
    with websocket_server("starting") as (number, _):
        assert health.check_round(port(number)) == (False, "websocket → 'ready': received 'starting'")


def test_a_silent_server_does_not_pass_within_the_request_timeout() -> None:
    with websocket_server(None) as (number, _):
        assert health.run_check(port(number), READY, timeout=0.5) == (False, "no message")


def test_a_message_larger_than_the_limit_is_refused() -> None:
    with websocket_server("ready" + "x" * health.MAX_ANSWER) as (number, _):
        passed, what = health.run_check(port(number), READY, timeout=5)
    assert not passed and what.startswith("ConnectionClosedError")


def test_nothing_listening_or_plain_http_does_not_pass() -> None:
    class Plain(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ready")

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        passed, what = health.run_check(port(http.server_address[1]), READY, timeout=5)
    finally:
        http.shutdown()
        http.server_close()
        thread.join(10)
    assert not passed and what.startswith("InvalidMessage: did not receive a valid HTTP response")
    passed, what = health.run_check(port(http.server_address[1]), READY, timeout=5)  # closed now
    assert not passed and "ConnectionRefusedError" in what


@pytest.mark.parametrize("checks", [(READY, health.Check(type="http", path="/x"))])
def test_a_round_stops_at_the_first_failure(checks: tuple[health.Check, ...]) -> None:
    with websocket_server("ready") as (number, _):
        passed, what = health.check_round(port(number, checks))
    assert not passed and what.startswith("GET /x → 200: ")


#: a WebSocket server in busybox sh behind ``nc``: the handshake (SHA-1 of the key and the
#: protocol's GUID, base64), then one text frame ``ready`` (0x81, length 5)
WS_SERVER = r"""cat > /tmp/ws.sh <<'END'
key=""
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case "$line" in [Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey:*) key=${line#*: } ;; esac
done
digest=$(printf '%s' "${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11" | sha1sum | cut -d' ' -f1)
accept=$(printf '%s' "$digest" | xxd -r -p | base64)
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
printf 'Sec-WebSocket-Accept: %s\r\n\r\n' "$accept"
printf '\201\005ready'
END
chmod +x /tmp/ws.sh && echo serving && exec nc -ll -p 8080 -e /tmp/ws.sh"""


def test_a_websocket_service_in_a_job_is_ready_by_its_check_and_shows_a_ws_url(home: Path) -> None:
    received: list[str] = []

    def visit(urls: list[str]) -> None:
        with connect(urls[0] + "/", open_timeout=10) as socket:
            received.append(str(socket.recv(timeout=10)))

    check = {"type": "websocket", "expected_response": "ready", "continuous": False}
    expose = [{"port": 8080, "type": "websocket", "health_checks": [check]}]
    flow = run_service(home, job([{"id": "ws", "args": {"cmd": WS_SERVER, "expose": expose}}]), visit)
    state = flow.states["ws"]
    assert received == ["ready"]
    assert state.status is OpStatus.SUCCEEDED and flow.status is FlowStatus.SUCCEEDED, state.error
    assert state.results.endpoints["8080"].startswith("ws://127.0.0.1:")
    assert "port 8080: health checks passed" in log_text(flow, "ws", "node")
    assert leftovers(flow.id) == {"volumes": [], "networks": []}
