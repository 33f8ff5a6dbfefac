"""Operations (issue 16): Prometheus metrics at /metrics for the operator only, a request id on
every answer and every log line of its work, and one JSON object per log line when asked."""

from __future__ import annotations

import io
import json
import logging

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

from kefu import logs
from kefu.api.request_ids import RequestIds, request_id_of
from kefu.app import create_app
from kefu.settings import Settings
from support import SECRET_KEY, AgentSpec, eventually, make_shop, running_server


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_ops_metrics_count_sockets_queues_and_assignment_waits(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        await srv.staff_socket(await srv.staff(shop.shop_id, "solo"))
        first, second = await srv.consumer(shop.shop_id), await srv.consumer(shop.shop_id)
        await first.request({"type": "request_human"})
        await second.request({"type": "request_human"})  # the only agent is full: it waits

        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            answer = await client.get("/metrics")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        samples = _samples(answer.text)
        assert samples[("kefu_queue_length", (("shop_id", str(shop.shop_id)),))] == 1
        assert samples[("kefu_connections", (("kind", "staff"),))] >= 1
        assert samples[("kefu_connections", (("kind", "consumer"),))] >= 2
        assert samples[("kefu_assignment_wait_seconds_count", ())] >= 1
        sent_before = samples.get(("kefu_messages_total", (("sender", "consumer"),)), 0)
        batches_before = samples[("kefu_writer_batch_size_count", ())]
        await first.request(
            {
                "type": "send",
                "conversation_id": first.conversation_id,
                "kind": "text",
                "body": "在吗",
                "client_id": "m-1",
            }
        )
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            samples = _samples((await client.get("/metrics")).text)
        assert samples[("kefu_messages_total", (("sender", "consumer"),))] == sent_before + 1
        assert samples[("kefu_writer_batch_size_count", ())] == batches_before + 1

        await second.close()
        await first.close()

        async def consumers_gone() -> bool:
            async with httpx.AsyncClient(base_url=srv.base_url) as client:
                text = (await client.get("/metrics")).text
            return _samples(text)[("kefu_connections", (("kind", "consumer"),))] == 0

        assert await eventually(consumers_gone)


async def test_ops_metrics_need_the_token_once_one_is_set(tmp_path: object) -> None:
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:", secret_key=SECRET_KEY, metrics_token="t0k3n"
    )
    app = create_app(settings, run_scheduler=False)
    await app.state.runtime.ctx.db.create_all()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kefu") as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer t0k3n"})
    assert refused.status_code == wrong.status_code == 403
    assert refused.json()["code"] == "metrics.forbidden"
    assert right.status_code == 200 and "kefu_database_errors" in right.text
    await app.state.runtime.ctx.db.dispose()


async def test_ops_metrics_refuse_callers_off_the_loopback_without_a_token() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key=SECRET_KEY)
    app = create_app(settings, run_scheduler=False)
    await app.state.runtime.ctx.db.create_all()
    remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 4242))
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 4242))
    async with httpx.AsyncClient(transport=remote, base_url="http://kefu") as client:
        assert (await client.get("/metrics")).status_code == 403
    async with httpx.AsyncClient(transport=local, base_url="http://kefu") as client:
        assert (await client.get("/metrics")).status_code == 200
    await app.state.runtime.ctx.db.dispose()


async def test_ops_every_answer_carries_a_request_id() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key=SECRET_KEY)
    app = create_app(settings, run_scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kefu") as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a"})
        fresh = await client.get("/healthz")
        refused = await client.get("/api/me")  # a refusal carries it too
        forged = await client.get("/healthz", headers={"X-Request-ID": "a\nb" + "x" * 80})
    assert given.headers["x-request-id"] == "lb-7f3a"
    assert len(fresh.headers["x-request-id"]) == 16
    assert refused.status_code == 401 and refused.headers["x-request-id"]
    assert len(forged.headers["x-request-id"]) == 16  # a new one, not the caller's


def test_ops_request_ids_accept_only_short_plain_tokens() -> None:
    assert request_id_of("abc-123_x.y:z") == "abc-123_x.y:z"
    assert request_id_of("x" * 65) != "x" * 65
    assert request_id_of("a b") != "a b"
    assert request_id_of(None) != request_id_of(None)


async def test_ops_a_socket_has_a_request_id_and_writes_to_the_server_directly() -> None:
    """A WebSocket's work logs under the load balancer's id, and its frames go to the server's
    own `send` (no wrapper per frame: a message is two frames)."""
    seen: list[tuple[object, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        seen.append((send, structlog.contextvars.get_contextvars().get("request_id")))

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        return None

    headers = [(b"x-request-id", b"lb-ws-1")]
    for kind in ("websocket", "http"):
        await RequestIds(app)({"type": kind, "headers": headers}, receive, send)
    (ws_send, ws_id), (http_send, http_id) = seen
    assert ws_send is send and ws_id == "lb-ws-1"
    assert http_send is not send and http_id == "lb-ws-1"  # HTTP answers get the header


def test_ops_json_logs_carry_the_request_id_on_kefu_and_library_lines() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(json=True)
        out = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(out)
        with structlog.contextvars.bound_contextvars(request_id="r-1"):
            structlog.get_logger("kefu.test").warning("queue is long", shop_id=3)
            logging.getLogger("uvicorn.error").warning("library line")
            structlog.get_logger("kefu.test").debug("too detailed to show")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [line["event"] for line in lines] == ["queue is long", "library line"]
        assert all(line["request_id"] == "r-1" for line in lines)
        assert lines[0]["shop_id"] == 3 and lines[0]["level"] == "warning"
        assert "timestamp" in lines[1]
    finally:
        structlog.reset_defaults()
        root.handlers, _ = saved[0], root.setLevel(saved[1])
        logging.getLogger("kefu").setLevel(logging.NOTSET)
