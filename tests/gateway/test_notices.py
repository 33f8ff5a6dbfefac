"""MSG-1 system notices: what the server writes for people is a code with params, stored on the
message and pushed with it, so that each client shows it in its viewer's language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.domain.conversation import AutoEndMode
from kefu.domain.notices import ZH_CN_TEXT, NoticeCode
from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t
from support import AgentSpec, Frames, Server, make_shop, running_server


async def _assigned(srv: Server, shop_id: int) -> tuple[Frames, int]:
    consumer = await srv.consumer(shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["state"] == "assigned"
    return consumer, int(answer["conversation"]["id"])


async def _pushed(frames: Frames, code: NoticeCode) -> dict[str, Any]:
    """The pushed message carrying this notice."""
    found = await frames.wait_for(
        lambda f: f["type"] == "message" and (f["message"].get("notice") or {}).get("code") == code
    )
    return dict(found["message"])


async def _synced(frames: Frames, conversation_id: int) -> list[dict[str, Any]]:
    """The conversation's messages as stored, read back through a resync (MSG-2)."""
    page = await frames.request({"type": "sync", "conversation_id": conversation_id})
    return list(page["items"])


async def _stored_meta(srv: Server, conversation_id: int, seq: int) -> Any:
    m = t.messages.c
    async with srv.db.read() as tx:
        return await tx.conn.scalar(
            select(m.meta).where(m.conversation_id == conversation_id, m.seq == seq)
        )


def _check(message: dict[str, Any], code: NoticeCode, params: dict[str, Any]) -> None:
    """A system notice with its code and params, and the zh-CN text as the body fallback."""
    assert message["notice"] == {"code": code.value, "params": params}
    assert (message["sender"], message["kind"]) == ("system", "system")
    assert message["body"] == ZH_CN_TEXT[code].format_map(params)


async def test_msg_1_notices_are_codes_with_params_on_transfer_to_an_agent(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a"), AgentSpec("b", status="busy")], clock=srv.clock
        )
        a, b = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "b")
        b_ws = await srv.staff_socket(b)
        consumer, cid = await _assigned(srv, shop.shop_id)
        await b.put("/api/me/status", json={"status": "online"})
        offer = await a.post(
            f"/api/conversations/{cid}/transfer", json={"to_agent_id": shop.accounts["b"]}
        )
        await b.post(f"/api/transfers/{offer.json()['id']}/accept")

        params = {"from_agent": "A", "to_agent": "B"}
        for side in (consumer, b_ws):
            _check(await _pushed(side, NoticeCode.TRANSFERRED), NoticeCode.TRANSFERRED, params)
        (stored,) = [m for m in await _synced(consumer, cid) if m["notice"]]
        _check(stored, NoticeCode.TRANSFERRED, params)
        assert await _stored_meta(srv, cid, stored["seq"]) == {
            "notice": {"code": "conversation.transferred", "params": params}
        }


async def test_msg_1_notices_are_codes_with_params_on_transfer_to_a_group(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            groups=2,
            agents=[AgentSpec("a", group=0), AgentSpec("c", group=1)],
            clock=srv.clock,
        )
        a = await srv.staff(shop.shop_id, "a")
        consumer, cid = await _assigned(srv, shop.shop_id)
        done = await a.post(
            f"/api/conversations/{cid}/transfer", json={"to_group_id": shop.group_ids[1]}
        )
        assert done.json()["to_agent_id"] == shop.accounts["c"]

        code = NoticeCode.TRANSFERRED_TO_GROUP
        params = {"from_agent": "A", "to_agent": "C", "group": "g1"}
        _check(await _pushed(consumer, code), code, params)
        (stored,) = [m for m in await _synced(consumer, cid) if m["notice"]]
        _check(stored, code, params)


async def test_msg_1_notices_are_codes_with_params_on_end(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        a_ws = await srv.staff_socket(a)
        consumer, cid = await _assigned(srv, shop.shop_id)
        await a.post(f"/api/conversations/{cid}/end")

        for side in (consumer, a_ws):
            _check(await _pushed(side, NoticeCode.ENDED), NoticeCode.ENDED, {})
        messages = await _synced(consumer, cid)
        _check(messages[-1], NoticeCode.ENDED, {})
        # The welcome is the shop's own text, stored as written: no notice.
        assert messages[0]["sender"] == "system" and messages[0]["notice"] is None
        view = (await a.get(f"/api/conversations/{cid}")).json()
        assert view["last_message"]["notice"] == {"code": "conversation.ended", "params": {}}


async def test_msg_1_notices_are_codes_with_params_on_leaving_the_queue(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        await _assigned(srv, shop.shop_id)
        waiting = await srv.consumer(shop.shop_id)
        queued = await waiting.request({"type": "request_human"})
        assert queued["conversation"]["state"] == "queued"
        left = await waiting.request({"type": "leave_queue"})
        cid = left["conversation"]["id"]

        code = NoticeCode.LEFT_QUEUE
        _check(await _pushed(waiting, code), code, {})
        assert left["conversation"]["last_message"]["notice"] == {"code": code.value, "params": {}}
        _check((await _synced(waiting, cid))[-1], code, {})


async def test_msg_1_notices_are_codes_with_params_on_auto_end_warning_and_end(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        settings = ShopSettings(auto_end=AutoEndMode.XIXI)
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], settings=settings, clock=srv.clock)
        a_ws = await srv.staff_socket(await srv.staff(shop.shop_id, "a"))
        consumer, cid = await _assigned(srv, shop.shop_id)

        srv.clock.advance(timedelta(minutes=4))
        await srv.runtime.scheduler.tick()
        warning = NoticeCode.AUTO_END_WARNING
        for side in (consumer, a_ws):
            _check(await _pushed(side, warning), warning, {"minutes": 1})

        srv.clock.advance(timedelta(minutes=1))
        await srv.runtime.scheduler.tick()
        ended = NoticeCode.AUTO_ENDED
        _check(await _pushed(consumer, ended), ended, {"minutes": 5})
        stored = [m["notice"]["code"] for m in await _synced(consumer, cid) if m["notice"]]
        assert stored == [warning.value, ended.value]


async def test_msg_1_auto_end_notice_names_the_standard_fifteen_minutes(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        consumer, cid = await _assigned(srv, shop.shop_id)
        srv.clock.advance(timedelta(minutes=15))
        await srv.runtime.scheduler.tick()
        code = NoticeCode.AUTO_ENDED
        _check(await _pushed(consumer, code), code, {"minutes": 15})
        _check((await _synced(consumer, cid))[-1], code, {"minutes": 15})
