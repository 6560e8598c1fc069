"""Gateways are untrusted: wrong bytes, 404s, dead and hung gateways pass the turn to the next one;
and the HTTP seam: retries with jittered backoff, final errors, capped and broken answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp import web

from nosana_node.storage.dag import cid_of
from nosana_node.storage.errors import (
    BackendRefusedError,
    BackendUnavailableError,
    ContentMismatchError,
    NotFoundError,
    ReadOnlyError,
    TooLargeError,
)
from nosana_node.storage.gateway import GatewayStorage
from nosana_node.storage.http import MAX_ANSWER, Endpoint, HttpOptions
from tests.storage.servers import AppThread, Silent, closed_port_url
from tests.storage.vectors import content

DATA = content(300_000)
CID = cid_of(DATA)
FAST = HttpOptions(timeout=1.0, retries=0)


def gateway(serve: Callable[[str], bytes | None]) -> web.Application:
    """A gateway serving ``serve(cid)`` (None: 404)."""

    async def handler(request: web.Request) -> web.Response:
        body = serve(request.match_info["cid"])
        return web.Response(status=404, text="not found") if body is None else web.Response(body=body)

    app = web.Application()
    app.router.add_get("/ipfs/{cid}", handler)
    return app


def honest(cid: str) -> bytes | None:
    return DATA if cid == str(CID) else None


def lying(cid: str) -> bytes:
    return DATA[:-1] + b"!"


def test_wrong_bytes_dead_and_hung_gateways_pass_the_turn() -> None:
    with AppThread(gateway(lying)) as liar, Silent() as hung, AppThread(gateway(honest)) as good:
        urls = [liar.url, closed_port_url(), hung.url, good.url]
        with GatewayStorage(urls, FAST) as gateways:
            assert gateways.get(CID) == DATA


def test_when_every_gateway_lies_the_content_is_refused() -> None:
    with (
        AppThread(gateway(lying)) as one,
        AppThread(gateway(lying)) as two,
        GatewayStorage([one.url, two.url], FAST) as gateways,
        pytest.raises(ContentMismatchError) as info,
    ):
        gateways.get(CID)
    message = str(info.value)
    assert f"{CID}: no gateway served it" in message
    assert message.count("that hash to") == 2 and one.url in message and two.url in message


def test_not_found_everywhere_and_all_down() -> None:
    with AppThread(gateway(lambda _cid: None)) as empty:
        with GatewayStorage([empty.url], FAST) as gateways, pytest.raises(NotFoundError, match="HTTP 404"):
            gateways.get(CID)
        assert not GatewayStorage([empty.url], FAST).has(CID)
    with (
        GatewayStorage([closed_port_url()], FAST) as gateways,
        pytest.raises(BackendUnavailableError, match="cannot connect"),
    ):
        gateways.get(CID)


def test_a_hung_gateway_times_out() -> None:
    with (
        Silent() as hung,
        GatewayStorage([hung.url], FAST) as gateways,
        pytest.raises(BackendUnavailableError, match="no answer within 1s"),
    ):
        gateways.get(CID)


def test_more_than_the_cap_is_refused_while_it_arrives() -> None:
    with AppThread(gateway(honest)) as good, GatewayStorage([good.url], FAST, max_size=1000) as gateways:
        with pytest.raises(TooLargeError, match="larger than 1000 bytes"):
            gateways.get(CID)
        assert gateways.get(CID, max_size=len(DATA)) == DATA


def test_gateways_are_read_only() -> None:
    with GatewayStorage(["http://127.0.0.1:1"], FAST) as gateways:
        with pytest.raises(ReadOnlyError) as info:
            gateways.put(b"x")
        assert info.value.exit_code == 2
        with pytest.raises(ReadOnlyError):
            gateways.pin(CID)


# -- the HTTP seam ----------------------------------------------------------------------------------


def flaky(failures: list[int]) -> web.Application:
    """Answers each status in ``failures`` once, then 200 ``{"ok": true}``."""

    async def handler(request: web.Request) -> web.Response:
        if failures:
            return web.Response(status=failures.pop(0), text="try later")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/call", handler)
    return app


def test_transient_answers_are_retried_with_jittered_exponential_backoff() -> None:
    delays: list[float] = []
    jitters = iter([0.0, 1.0, 0.5])
    with AppThread(flaky([503, 502, 429])) as server:
        endpoint = Endpoint(
            server.url,
            HttpOptions(timeout=5, retries=3, backoff=0.5, max_backoff=8),
            label="test",
            sleep=delays.append,
            jitter=lambda: next(jitters),
        )
        assert endpoint.call_json("POST", "/call") == {"ok": True}
    # attempt n waits between half and all of min(8, 0.5 * 2**(n-1))
    assert delays == [0.25, 1.0, 1.5]


def test_retries_run_out_and_final_errors_are_not_retried() -> None:
    delays: list[float] = []
    with AppThread(flaky([500, 500, 500])) as server:
        endpoint = Endpoint(server.url, HttpOptions(retries=1), label="test", sleep=delays.append)
        with pytest.raises(BackendUnavailableError, match=r"HTTP 500 \(after 2 attempts\)"):
            endpoint.call("POST", "/call")
    assert len(delays) == 1
    with AppThread(flaky([400, 400])) as server:
        endpoint = Endpoint(server.url, HttpOptions(retries=3), label="test", sleep=delays.append)
        with pytest.raises(BackendRefusedError, match="HTTP 400: try later"):
            endpoint.call("POST", "/call")
    assert len(delays) == 1


def test_oversized_and_broken_answers() -> None:
    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (MAX_ANSWER + 1))

    async def broken(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        await response.prepare(request)
        await response.write(b"partial")
        assert request.transport is not None
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_post("/huge", huge)
    app.router.add_post("/broken", broken)
    with AppThread(app) as server:
        endpoint = Endpoint(server.url, FAST, label="test")
        with pytest.raises(BackendRefusedError, match="answer larger than"):
            endpoint.call("POST", "/huge")
        with pytest.raises(BackendUnavailableError, match="connection broken mid-answer"):
            endpoint.call("POST", "/broken")
