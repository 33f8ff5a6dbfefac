"""API-2 end to end: events reach the test's own HTTP receiver signed (checked by the verifier
of docs/webhooks.md), survive a receiver that is down, slow or failing and a kefu restart with
the same event id, and nothing leaves for rolled-back work. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import trustme
from sqlalchemy import event, select
from webhook_receiver import Receiver, documented_verifier

from kefu.broker.memory import MemoryBroker
from kefu.services.context import Context
from kefu.storage import tables as t
from kefu.storage import webhooks as store
from kefu.storage.db import Database
from kefu.storage.webhooks import DeliveryRecord
from kefu.webhooks.delivery import deliver_due, new_client
from kefu.webhooks.domain import BACKOFF, MAX_ATTEMPTS, ROTATION_OVERLAP, DeliveryStatus
from kefu.webhooks.sealing import PREFIX, seal, unseal
from kefu.webhooks.worker import WebhookWorker
from support import AgentSpec, Server, ShopIds, make_shop, running_server

ALLOW = "127.0.0.1/32"
ALL_EVENTS = [
    "conversation.created",
    "message.created",
    "rating.created",
    "offline_message.created",
    "alert.raised",
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


async def _shop(srv: Server) -> tuple[ShopIds, httpx.AsyncClient]:
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
    return shop, await srv.staff(shop.shop_id, "owner")


async def _endpoint(
    owner: httpx.AsyncClient, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    created = await owner.post("/api/webhooks", json={"url": url, "events": events or ALL_EVENTS})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def _log(owner: httpx.AsyncClient, endpoint_id: int, **params: Any) -> dict[str, Any]:
    found = await owner.get(f"/api/webhooks/{endpoint_id}/deliveries", params=params)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def _stored_log(srv: Server, shop_id: int, endpoint_id: int) -> list[DeliveryRecord]:
    async with srv.db.read() as tx:
        items, _ = await store.deliveries(tx.conn, shop_id, endpoint_id, limit=50, offset=0)
    return items


def _now_s(srv: Server) -> int:
    return int(srv.clock.now().timestamp())


async def test_api_2_events_arrive_signed_and_verified_by_the_documented_verifier(
    db_url: str, receiver: Receiver
) -> None:
    verify = documented_verifier()
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        assigned = await consumer.request({"type": "request_human"})
        assert assigned["conversation"]["agent_id"] == shop.accounts["alice"]
        sent = await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "c1", "body": "你好 <b>"}
        )
        assert sent["type"] == "ack", sent
        alice = await srv.staff(shop.shop_id, "alice")
        replied = await alice.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "a1", "body": "在的"}
        )
        assert replied.status_code == 200, replied.text
        rated = await consumer.request({"type": "rate", "conversation_id": cid, "stars": 4})
        assert rated["type"] == "rated", rated

        assert await srv.runtime.webhooks.tick() == 4
        assert [r.path for r in receiver.received] == ["/hook"] * 4
        for request in receiver.received:
            assert verify([endpoint["secret"]], request.headers, request.body, now=_now_s(srv))
            assert request.headers["webhook-id"] == request.json["id"]
            assert request.json["shop_id"] == shop.shop_id
        (opened,) = receiver.of_type("conversation.created")
        assert opened.json["data"]["conversation_id"] == cid
        messages = sorted(
            (r.json["data"] for r in receiver.of_type("message.created")), key=lambda m: m["seq"]
        )
        assert [(m["sender"], m["body"]) for m in messages] == [
            ("consumer", "你好 <b>"),
            ("agent", "在的"),
        ]
        (rating,) = receiver.of_type("rating.created")
        assert rating.json["data"]["stars"] == 4
        assert rating.json["data"]["agent_id"] == shop.accounts["alice"]
        # Delivered once: nothing left to send, and the log says so.
        assert await srv.runtime.webhooks.tick() == 0
        log = await _log(owner, endpoint["id"])
        assert log["total"] == 4
        assert {d["status"] for d in log["items"]} == {"delivered"}
        assert all(d["attempt_log"][0]["status_code"] == 200 for d in log["items"])


async def test_api_2_offline_messages_are_announced(db_url: str, receiver: Receiver) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("bob", status="offline")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        await _endpoint(owner, receiver.url, ["offline_message.created"])
        closed = await owner.put("/api/shop/settings", json={"service_hours_enabled": True})
        assert closed.status_code == 200, closed.text
        consumer = await srv.consumer(shop.shop_id)
        answer = await consumer.request({"type": "request_human"})
        assert answer["conversation"]["state"] == "offline", answer
        assert await srv.runtime.webhooks.tick() == 1
        (offline,) = receiver.received
        assert offline.json["type"] == "offline_message.created"
        assert offline.json["data"]["cause"] == "outside_hours"


async def test_api_2_a_failing_receiver_gets_the_same_event_later_also_after_a_restart(
    db_url: str, receiver: Receiver
) -> None:
    """Answering 500, then slow, then down; kefu restarts (a new app on the same database);
    then the receiver is back: the event arrives with the id and body of the first attempt."""
    settings = {"webhook_allow_nets": ALLOW, "webhook_timeout_s": 0.3}
    async with running_server(db_url, **settings) as srv:
        clock = srv.clock
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        await srv.consumer(shop.shop_id)
        receiver.status = 500
        assert await srv.runtime.webhooks.tick() == 1
        first = receiver.received[0]
        assert await srv.runtime.webhooks.tick() == 0  # not due before its backoff
        clock.advance(BACKOFF[0])
        receiver.status, receiver.delay_s = 200, 1.0  # slow: past the 0.3 s timeout
        assert await srv.runtime.webhooks.tick() == 1
        receiver.delay_s = 0
        receiver.stop()  # down
        clock.advance(BACKOFF[1])
        assert await srv.runtime.webhooks.tick() == 1
        (delivery,) = (await _log(owner, endpoint["id"]))["items"]
        assert [a["status_code"] for a in delivery["attempt_log"]] == [500, None, None]
        errors = [a["error"] for a in delivery["attempt_log"]]
        assert errors[1] == "timeout" and errors[2].startswith("connection"), errors
        assert delivery["status"] == "pending" and delivery["attempts"] == 3

    receiver.start()  # back, on the same port
    async with running_server(db_url, clock=clock, create_schema=False, **settings) as again:
        clock.advance(BACKOFF[2])
        assert await again.runtime.webhooks.tick() == 1
        last = receiver.received[-1]
        assert last.headers["webhook-id"] == first.headers["webhook-id"]
        assert last.body == first.body
        (stored,) = await _stored_log(again, shop.shop_id, endpoint["id"])
        assert (stored.status, stored.attempts, len(stored.attempt_log)) == ("delivered", 4, 4)
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


async def test_api_2_two_processes_share_the_outbox_and_send_each_event_once(
    db_url: str, receiver: Receiver
) -> None:
    """Two workers with their own engines (as two processes) tick at the same moment: each
    due delivery is claimed by one of them (SKIP LOCKED on PostgreSQL, SQLite's one writer)."""
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        await _endpoint(owner, receiver.url, ["conversation.created"])
        for _ in range(12):
            await srv.consumer(shop.shop_id)
        other_db = Database(db_url)
        settings = srv.runtime.ctx.settings
        other = WebhookWorker(
            Context(db=other_db, clock=srv.clock, broker=MemoryBroker(), settings=settings)
        )
        try:
            sent = await asyncio.gather(srv.runtime.webhooks.tick(), other.tick())
        finally:
            await other.stop()
            await other_db.dispose()
        assert sum(sent) == 12
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 12


async def test_api_2_an_endpoint_deleted_during_a_send_drops_its_result_only(
    db_url: str, receiver: Receiver
) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        doomed = await _endpoint(owner, receiver.url, ["conversation.created"])
        kept = await _endpoint(owner, receiver.url, ["conversation.created"])
        await srv.consumer(shop.shop_id)
        now = srv.clock.now()
        async with srv.db.uow() as tx:
            claimed = await store.claim_due(tx.conn, now, lease_until=now, limit=10)
            await tx.commit()
        assert len(claimed) == 2
        deleted = await owner.delete(f"/api/webhooks/{doomed['id']}")
        assert deleted.status_code == 200, deleted.text
        result = store.AttemptResult(now, 200, None, 3)
        async with srv.db.uow() as tx:
            settled = [
                await store.settle(
                    tx.conn, d, result, status=DeliveryStatus.DELIVERED, next_attempt_at=None
                )
                for d in claimed
            ]
            await tx.commit()
        assert settled == [d.endpoint_id == kept["id"] for d in claimed]
        (delivery,) = (await _log(owner, kept["id"]))["items"]
        assert delivery["status"] == "delivered" and len(delivery["attempt_log"]) == 1


async def test_api_2_a_delivery_is_marked_failed_after_the_last_attempt(
    db_url: str, receiver: Receiver
) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        await srv.consumer(shop.shop_id)
        receiver.status = 503
        for wait in [timedelta(0), *BACKOFF]:
            srv.clock.advance(wait)
            assert await srv.runtime.webhooks.tick() == 1
        (delivery,) = (await _log(owner, endpoint["id"]))["items"]
        srv.clock.advance(timedelta(days=1))
        assert await srv.runtime.webhooks.tick() == 0
        assert delivery["status"] == "failed"
        assert delivery["attempts"] == MAX_ATTEMPTS == len(delivery["attempt_log"])
        assert delivery["next_attempt_at"] is None
        assert len(receiver.received) == MAX_ATTEMPTS


async def test_api_2_rolled_back_work_sends_nothing(db_url: str, receiver: Receiver) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        await _endpoint(owner, receiver.url, ["message.created"])
        now = srv.clock.now()
        with pytest.raises(RuntimeError):
            async with srv.db.uow() as tx:
                event_id = await store.record_event(
                    tx.conn, shop_id=shop.shop_id, event="message.created", data={}, now=now
                )
                assert event_id is not None  # written, inside the transaction
                raise RuntimeError("the use case fails after the event")
        async with srv.db.uow() as tx:
            committed = await store.record_event(
                tx.conn, shop_id=shop.shop_id, event="message.created", data={"n": 1}, now=now
            )
            await tx.commit()
        assert await srv.runtime.webhooks.tick() == 1
        assert [r.json["id"] for r in receiver.received] == [committed]


async def test_api_2_private_targets_are_refused_at_save(db_url: str) -> None:
    async with running_server(db_url) as srv:  # no allow-list
        _, owner = await _shop(srv)
        for url in (
            "http://localhost:8080/hook",  # a name that resolves to 127.0.0.1
            "http://127.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:10.0.0.1]/",
            "http://192.168.1.10/",
        ):
            refused = await owner.post(
                "/api/webhooks", json={"url": url, "events": ["message.created"]}
            )
            assert refused.status_code == 422, (url, refused.text)
            assert refused.json()["code"] == "webhook.address_refused", url
        bad = await owner.post(
            "/api/webhooks", json={"url": "file:///etc/passwd", "events": ["message.created"]}
        )
        assert bad.json()["code"] == "webhook.bad_url"
        assert (await owner.get("/api/webhooks")).json()["items"] == []


async def test_api_2_private_targets_are_refused_again_at_delivery(
    db_url: str, receiver: Receiver
) -> None:
    """Saved while the operator allowed loopback, then the allow-list no longer names it: the
    name is resolved and refused before any connection, and the receiver sees nothing."""
    async with running_server(db_url, webhook_allow_nets="127.0.0.0/8,::1/128") as srv:
        shop, owner = await _shop(srv)
        url = f"http://localhost:{receiver.port}/hook"
        endpoint = await _endpoint(owner, url, ["conversation.created"])
        ctx = srv.runtime.ctx
        ctx.settings = ctx.settings.model_copy(update={"webhook_allow_nets": ""})
        await srv.consumer(shop.shop_id)
        assert await srv.runtime.webhooks.tick() == 1
        assert receiver.received == []
        (delivery,) = (await _log(owner, endpoint["id"]))["items"]
        assert delivery["attempt_log"][0]["error"] == "webhook.address_refused"
        assert delivery["status"] == "pending"


async def test_api_2_https_goes_to_the_checked_address_under_the_names_certificate(
    db_url: str,
) -> None:
    """The POST connects to the address kefu checked, yet TLS still names the host (SNI) and
    checks the certificate against it: a certificate for another name is refused."""
    ca = trustme.CA()
    receivers = {name: _tls_receiver(ca, name) for name in ("localhost", "other.example")}
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    try:
        async with running_server(db_url, webhook_allow_nets="127.0.0.1/32,::1/128") as srv:
            shop, owner = await _shop(srv)
            for r in receivers.values():
                await _endpoint(owner, f"https://localhost:{r.port}/hook", ["conversation.created"])
            await srv.consumer(shop.shop_id)
            async with new_client(5.0, verify=client_tls) as client:
                assert await deliver_due(srv.runtime.ctx, client) == 2
            async with srv.db.read() as tx:
                rows = await tx.conn.execute(
                    select(
                        t.webhook_deliveries.c.last_status_code, t.webhook_deliveries.c.last_error
                    ).order_by(t.webhook_deliveries.c.endpoint_id)
                )
                results = [tuple(r) for r in rows]
        good = receivers["localhost"]
        (got,) = good.received
        assert got.headers["host"] == f"localhost:{good.port}"
        assert receivers["other.example"].received == []
        assert results[0] == (200, None)
        assert results[1][0] is None and str(results[1][1]).startswith("connection")
    finally:
        for r in receivers.values():
            r.stop()


def _tls_receiver(ca: trustme.CA, name: str) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return Receiver(tls=context).start()


async def test_api_2_a_disabled_endpoint_gets_no_new_events_and_its_pending_ones_wait(
    db_url: str, receiver: Receiver
) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        path = f"/api/webhooks/{endpoint['id']}"
        await srv.consumer(shop.shop_id)  # recorded while enabled
        assert (await owner.patch(path, json={"is_enabled": False})).status_code == 200
        await srv.consumer(shop.shop_id)  # not recorded: disabled
        assert await srv.runtime.webhooks.tick() == 0
        assert (await owner.patch(path, json={"is_enabled": True})).status_code == 200
        assert await srv.runtime.webhooks.tick() == 1
        assert len(receiver.received) == 1
        assert (await _log(owner, endpoint["id"]))["total"] == 1


async def test_api_2_redirects_are_not_followed(db_url: str, receiver: Receiver) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        receiver.status, receiver.location = 307, f"http://127.0.0.1:{receiver.port}/elsewhere"
        await srv.consumer(shop.shop_id)
        assert await srv.runtime.webhooks.tick() == 1
        assert [r.path for r in receiver.received] == ["/hook"]
        (delivery,) = (await _log(owner, endpoint["id"]))["items"]
        assert delivery["last_status_code"] == 307 and delivery["status"] == "pending"


async def test_api_2_rotation_signs_with_both_secrets_then_the_new_one(
    db_url: str, receiver: Receiver
) -> None:
    verify = documented_verifier()
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        old = endpoint["secret"]
        rotated = await owner.post(f"/api/webhooks/{endpoint['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old and new.startswith("whsec_")
        await srv.consumer(shop.shop_id)
        await srv.runtime.webhooks.tick()
        during = receiver.received[-1]
        assert len(during.headers["webhook-signature"].split()) == 2
        assert verify([old], during.headers, during.body, now=_now_s(srv))
        assert verify([new], during.headers, during.body, now=_now_s(srv))

        srv.clock.advance(ROTATION_OVERLAP + timedelta(seconds=1))
        await srv.consumer(shop.shop_id)
        await srv.runtime.webhooks.tick()
        after = receiver.received[-1]
        assert after.headers["webhook-id"] != during.headers["webhook-id"]
        assert len(after.headers["webhook-signature"].split()) == 1
        assert verify([new], after.headers, after.body, now=_now_s(srv))
        assert not verify([old], after.headers, after.body, now=_now_s(srv))


async def test_api_2_owner_only_secrets_shown_once_and_limits(db_url: str) -> None:
    async with running_server(db_url, webhook_max_endpoints=2) as srv:
        shop, owner = await _shop(srv)
        url = "https://1.1.1.1/kefu"  # public; nothing is delivered in this test
        first = await _endpoint(owner, url, ["message.created"])
        assert first["secret"].startswith("whsec_")
        listed = (await owner.get("/api/webhooks")).json()
        assert listed["max_endpoints"] == 2
        assert "secret" not in listed["items"][0]
        assert first["secret"] not in (await owner.get("/api/webhooks")).text
        patched = await owner.patch(
            f"/api/webhooks/{first['id']}", json={"is_enabled": False, "events": ["alert.raised"]}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["events"] == ["alert.raised"] and "secret" not in patched.json()
        await _endpoint(owner, url)
        third = await owner.post("/api/webhooks", json={"url": url, "events": ["alert.raised"]})
        assert (third.status_code, third.json()["code"]) == (409, "webhook.limit")
        too_long = await owner.post(
            "/api/webhooks", json={"url": url + "/" + "a" * 2048, "events": ["alert.raised"]}
        )
        assert too_long.status_code == 422
        unknown = await owner.post("/api/webhooks", json={"url": url, "events": ["nope"]})
        assert unknown.status_code == 422

        alice = await srv.staff(shop.shop_id, "alice")
        for method, path in (
            ("GET", "/api/webhooks"),
            ("POST", f"/api/webhooks/{first['id']}/rotate-secret"),
            ("GET", f"/api/webhooks/{first['id']}/deliveries"),
            ("DELETE", f"/api/webhooks/{first['id']}"),
        ):
            refused = await alice.request(method, path)
            assert refused.status_code == 403, (method, path, refused.text)
        deleted = await owner.delete(f"/api/webhooks/{first['id']}")
        assert deleted.json() == {"ok": True}
        assert len((await owner.get("/api/webhooks")).json()["items"]) == 1


async def test_api_2_the_delivery_log_is_paged_latest_first(
    db_url: str, receiver: Receiver
) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        for _ in range(3):
            await srv.consumer(shop.shop_id)
        await srv.runtime.webhooks.tick()
        first = await _log(owner, endpoint["id"], page=1, page_size=2)
        second = await _log(owner, endpoint["id"], page=2, page_size=2)
        assert first["total"] == second["total"] == 3
        ids = [d["id"] for d in first["items"] + second["items"]]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3


async def test_api_2_the_delivery_log_keeps_settled_deliveries_for_the_set_days(
    db_url: str, receiver: Receiver
) -> None:
    async with running_server(db_url, webhook_allow_nets=ALLOW, webhook_log_days=7) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        await srv.consumer(shop.shop_id)
        assert await srv.runtime.webhooks.tick() == 1  # delivered
        receiver.stop()
        srv.clock.advance(timedelta(days=6))
        await srv.consumer(shop.shop_id)
        assert await srv.runtime.webhooks.tick() == 1  # pending: the receiver is down
        srv.clock.advance(timedelta(days=2))
        assert await srv.runtime.webhooks.tick() == 1  # prunes, then retries the pending one
        (kept,) = await _stored_log(srv, shop.shop_id, endpoint["id"])
        assert kept.status == "pending" and kept.attempts == 2


async def test_api_2_record_event_costs_no_query_for_a_shop_without_endpoints(
    db_url: str,
) -> None:
    """The message path's cost: after the first read, a shop nobody subscribed to is answered
    from the process's memory (SUBSCRIPTIONS_TTL)."""
    async with running_server(db_url) as srv:
        shop, _ = await _shop(srv)
        now = srv.clock.now()
        async with _counted(srv.db) as statements, srv.db.uow() as tx:
            await tx.conn.execute(select(1))  # the transaction's BEGIN, before counting
            statements.clear()
            for _ in range(100):
                found = await store.record_event(
                    tx.conn, shop_id=shop.shop_id, event="message.created", data={}, now=now
                )
                assert found is None
            await tx.commit()
        assert len(statements) <= 1  # one read for the first event, then none
        async with srv.db.read() as tx:
            rows = (await tx.conn.execute(select(t.webhook_deliveries.c.id))).all()
        assert rows == []


@asynccontextmanager
async def _counted(db: Database) -> AsyncIterator[list[str]]:
    """The SQL statements the engine sends meanwhile."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_api_2_secrets_are_sealed_at_rest_and_a_changed_key_is_reported(
    db_url: str, receiver: Receiver
) -> None:
    """The database holds no usable signing secret: the stored value is sealed with a key
    derived from the server's secret key; a secret stored before sealing still signs, and one
    the server's key no longer opens fails its attempt with `secret_unreadable`."""
    verify = documented_verifier()
    async with running_server(db_url, webhook_allow_nets=ALLOW) as srv:
        shop, owner = await _shop(srv)
        endpoint = await _endpoint(owner, receiver.url, ["conversation.created"])
        secret = endpoint["secret"]
        async with srv.db.read() as tx:
            stored = await tx.conn.scalar(
                select(t.webhook_endpoints.c.secret).where(
                    t.webhook_endpoints.c.id == endpoint["id"]
                )
            )
        assert stored.startswith(PREFIX) and secret not in stored
        assert unseal(stored, srv.runtime.ctx.settings.signing_key) == secret

        async def store_secret(value: str) -> None:
            async with srv.db.uow() as tx:
                await tx.conn.execute(
                    t.webhook_endpoints.update()
                    .where(t.webhook_endpoints.c.id == endpoint["id"])
                    .values(secret=value)
                )
                await tx.commit()
            store.forget_subscriptions(srv.db, shop.shop_id)

        await store_secret(secret)  # as stored before sealing: used as it is
        await srv.consumer(shop.shop_id)
        assert await srv.runtime.webhooks.tick() == 1
        assert verify(
            [secret], receiver.received[-1].headers, receiver.received[-1].body, now=_now_s(srv)
        )

        await store_secret(seal(secret, "another server's secret key, long enough to pass"))
        await srv.consumer(shop.shop_id)
        assert await srv.runtime.webhooks.tick() == 1
        assert len(receiver.received) == 1  # nothing left unsigned or wrongly signed
        latest = (await _log(owner, endpoint["id"]))["items"][0]
        assert latest["attempt_log"][-1]["error"] == "secret_unreadable"
