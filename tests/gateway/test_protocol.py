"""API-2: the server's WebSocket frames hold to the models that kefu.gateway.protocol declares
for each socket. Real scenarios through a real server record every frame each socket receives;
each must be a type its socket is registered for, and validate strictly and losslessly against
its model, like the HTTP answers of tests/api/test_openapi.py. The registries must declare
exactly the frames the scenarios observe, so neither side can drift silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson
from pydantic import ValidationError
from websockets.asyncio.client import connect

from kefu.domain.shop import ShopSettings
from kefu.gateway import protocol as p
from kefu.supervision import alerts
from support import PASSWORD, AgentSpec, Frames, Server, ShopIds, make_shop, running_server

Socket = Literal["consumer", "staff"]
REGISTRIES: dict[Socket, dict[str, type[p.FrameOut]]] = {
    "consumer": p.CONSUMER_FRAMES_OUT,
    "staff": p.STAFF_FRAMES_OUT,
}
BOT_FIRST = ShopSettings(bot_enabled=True, bot_mode="bot_first")
SHIPPING = ("多久发货", "付款后48小时内发货。", ["什么时候发货"])
RETURNS = ("怎么退货", "七天无理由退货，在订单页申请即可。", ["退货流程是什么"])


def frame_problems(socket: Socket, frame: dict[str, Any]) -> list[str]:
    """What is wrong with a frame this socket received: an unknown type, a type the socket is
    not registered for, or a body its model refuses (a missing, extra or mistyped key)."""
    kind = frame.get("type")
    if not isinstance(kind, str) or not any(kind in r for r in REGISTRIES.values()):
        return [f"{socket}: unknown frame type {kind!r}"]
    model = REGISTRIES[socket].get(kind)
    if model is None:
        return [f"{socket}: {kind!r} is not registered for this socket"]
    # The recorded frame is re-encoded: orjson gives back the text it decoded, key for key.
    try:
        parsed = model.model_validate_json(orjson.dumps(frame), strict=True)
    except ValidationError as exc:
        return [f"{socket} {kind}: {e['type']} at {e['loc']}" for e in exc.errors()]
    if parsed.model_dump(mode="json", exclude_unset=True) != frame:
        return [f"{socket} {kind}: not read back losslessly"]
    return []


def coverage_problems(observed: set[tuple[Socket, str]]) -> list[str]:
    """Declared frames no scenario observed, and observed frames no registry declares."""
    declared = {(socket, kind) for socket, registry in REGISTRIES.items() for kind in registry}
    return [f"{s} {k}: declared, never observed" for s, k in sorted(declared - observed)] + [
        f"{s} {k}: observed, not declared" for s, k in sorted(observed - declared)
    ]


@dataclass
class Recorded:
    """Every socket a scenario opened, with the frames it received."""

    sockets: list[tuple[Socket, Frames]] = field(default_factory=list)

    def add(self, socket: Socket, frames: Frames) -> Frames:
        self.sockets.append((socket, frames))
        return frames

    def problems(self) -> list[str]:
        return [
            problem
            for socket, frames in self.sockets
            for frame in frames.received
            for problem in frame_problems(socket, frame)
        ]

    def observed(self) -> set[tuple[Socket, str]]:
        return {
            (socket, str(frame.get("type")))
            for socket, frames in self.sockets
            for frame in frames.received
        }


async def scenarios(db_url: str) -> Recorded:
    """A shop day: the bot answers and feedback is recorded, a FAQ click, a human request that
    queues until an agent goes online, typing and replies, a transfer declined then accepted,
    syncs, refused frames, a resync, a reconnect, a refused auth and a session taken over."""
    recorded = Recorded()
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            agents=[
                AgentSpec("alice", limit=1, status="offline"),
                AgentSpec("bob", limit=1, status="offline"),
            ],
            settings=BOT_FIRST,
            clock=srv.clock,
        )
        owner = await srv.staff(shop.shop_id, "owner")
        faq_item = await _knowledge_base(owner)
        alice, bob = await srv.staff(shop.shop_id, "alice"), await srv.staff(shop.shop_id, "bob")
        owner_ws = recorded.add("staff", await srv.staff_socket(owner))
        watched = await owner_ws.request({"type": "live_watch"})  # LIVE-1: pushed all day
        assert watched["type"] == "live", watched
        alice_ws = recorded.add("staff", await srv.staff_socket(alice))
        bob_ws = recorded.add("staff", await srv.staff_socket(bob))
        consumer = recorded.add("consumer", await srv.consumer(shop.shop_id))
        cid = consumer.conversation_id  # type: ignore[attr-defined]

        await _bot(consumer, cid, faq_item)
        await _queue_then_agent(srv, shop, consumer, cid, alice, alice_ws)
        await _transfer(shop, cid, alice, alice_ws, bob, bob_ws)
        await _sync_and_refusals(consumer, cid, bob_ws)
        await _resync(srv, consumer, bob_ws)
        await _reconnect_and_refused_auth(recorded, srv, shop, consumer)
        await _take_over(srv, shop, alice_ws)
        await _alert(srv, shop, owner, owner_ws)
        assert (await owner_ws.request({"type": "live_unwatch"}))["type"] == "live_stopped"
        # A barrier: each open socket's pong comes after every frame pushed to it before.
        for _, frames in recorded.sockets:
            if frames.ws.close_code is None:
                await frames.request({"type": "ping"})
    return recorded


async def _knowledge_base(owner: httpx.AsyncClient) -> str:
    """Two answers for the bot, and a FAQ menu item linked to the second; its id."""
    ids = []
    for question, answer, phrasings in (SHIPPING, RETURNS):
        made = await owner.post(
            "/api/kb/questions",
            json={
                "question": question,
                "answer": answer,
                "phrasings": phrasings,
                "related_ids": ids[:1],
            },
        )
        assert made.status_code == 200, made.text
        ids.append(made.json()["id"])
    child = {"title": RETURNS[0], "question_id": ids[1]}
    entry = await owner.put(
        "/api/shop/entry",
        json={
            "welcome_message": "欢迎光临",
            "faq_menu": [{"title": "售后", "children": [child]}],
            "bot_cards": [],
            "consumer_phrases": [],
        },
    )
    assert entry.status_code == 200, entry.text
    return str(entry.json()["faq_menu"][0]["children"][0]["id"])


async def _bot(consumer: Frames, cid: int, faq_item: str) -> None:
    """BOT-3: an answer and its feedback; ENTRY-2: a FAQ click answered by the bot."""
    ack = await consumer.request(
        {"type": "send", "conversation_id": cid, "client_id": "c1", "body": "什么时候发货"}
    )
    assert ack["type"] == "ack", ack
    answer = await consumer.wait_for(
        lambda f: f["type"] == "message" and f["message"]["sender"] == "bot"
    )
    done = await consumer.request(
        {
            "type": "feedback",
            "conversation_id": cid,
            "seq": answer["message"]["seq"],
            "resolved": True,
        }
    )
    assert done["type"] == "feedback_recorded", done
    click = await consumer.request(
        {"type": "faq_click", "conversation_id": cid, "item_id": faq_item}
    )
    assert click["type"] == "faq_click_recorded" and click["seq"] is not None, click
    answered = await consumer.wait_for(
        lambda f: f["type"] == "message" and f["message"]["seq"] == click["seq"]
    )
    # BOT-5: a question the answer offers, picked; the bot answers it.
    (offered,) = answered["message"]["meta"]["related"]
    picked = await consumer.request(
        {
            "type": "suggestion_click",
            "conversation_id": cid,
            "seq": click["seq"],
            "question_id": offered["question_id"],
        }
    )
    assert picked["type"] == "suggestion_click_recorded", picked
    await consumer.wait_for(
        lambda f: f["type"] == "message" and f["message"]["seq"] == picked["answer_seq"]
    )
    # DESK-5: the widget reports a page of the shop's site the consumer viewed.
    viewed = await consumer.request(
        {"type": "page_view", "conversation_id": cid, "url": "https://shop.example/p1"}
    )
    assert viewed["type"] == "page_view_recorded" and viewed["recorded"] is True, viewed


async def _queue_then_agent(
    srv: Server,
    shop: ShopIds,
    consumer: Frames,
    cid: int,
    alice: httpx.AsyncClient,
    alice_ws: Frames,
) -> None:
    """ROUTE-4: nobody online, so the request queues; alice goes online and takes it, sees the
    consumer typing (MSG-3) and replies (MSG-2)."""
    queued = await consumer.request({"type": "request_human"})
    assert queued["conversation"]["state"] == "queued", queued
    await consumer.wait_for(lambda f: f["type"] == "queue" and f["position"] == 1)

    assert (await alice.put("/api/me/status", json={"status": "online"})).status_code == 200
    await alice_ws.wait_for(lambda f: f["type"] == "account")
    await alice_ws.wait_for(
        lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "assigned"
    )
    await consumer.send({"type": "typing", "conversation_id": cid, "text": "我想问一下"})
    await alice_ws.wait_for(lambda f: f["type"] == "typing")
    await consumer.request(
        {"type": "send", "conversation_id": cid, "client_id": "c2", "body": "在吗"}
    )
    await alice_ws.wait_for(lambda f: f["type"] == "message" and f["message"]["client_id"] == "c2")
    reply = await alice_ws.request(
        {"type": "send", "conversation_id": cid, "client_id": "a1", "body": "您好"}
    )
    assert reply["type"] == "ack", reply
    await consumer.wait_for(lambda f: f["type"] == "message" and f["message"]["body"] == "您好")


async def _transfer(
    shop: ShopIds,
    cid: int,
    alice: httpx.AsyncClient,
    alice_ws: Frames,
    bob: httpx.AsyncClient,
    bob_ws: Frames,
) -> None:
    """CONV-7: bob declines alice's first offer and accepts the second."""
    assert (await bob.put("/api/me/status", json={"status": "online"})).status_code == 200
    await bob_ws.wait_for(lambda f: f["type"] == "account")
    for decision in ("decline", "accept"):
        offer = await alice.post(
            f"/api/conversations/{cid}/transfer", json={"to_agent_id": shop.accounts["bob"]}
        )
        assert offer.status_code == 200, offer.text
        transfer_id = offer.json()["id"]
        await bob_ws.wait_for(_about_transfer("transfer_request", transfer_id))
        decided = await bob.post(f"/api/transfers/{transfer_id}/{decision}")
        assert decided.status_code == 200, decided.text
        await alice_ws.wait_for(_about_transfer("transfer_result", transfer_id))
    await bob_ws.wait_for(
        lambda f: f["type"] == "conversation" and f["conversation"]["agent_id"] is not None
    )


def _about_transfer(kind: str, transfer_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == kind and f["transfer"]["id"] == transfer_id


async def _sync_and_refusals(consumer: Frames, cid: int, bob_ws: Frames) -> None:
    """MSG-2 resyncs on both sockets, and refused frames on both: they get error frames."""
    for frames in (consumer, bob_ws):
        page = await frames.request({"type": "sync", "conversation_id": cid, "since_seq": 0})
        assert page["type"] == "messages" and page["items"], page
    unknown = await consumer.request({"type": "tip", "stars": 5})
    assert (unknown["type"], unknown["code"]) == ("error", "unknown_frame"), unknown
    rated = await consumer.request({"type": "rate", "conversation_id": cid, "stars": 5})
    assert rated["type"] == "rated", rated  # RATE-2
    missing = await bob_ws.request({"type": "sync", "conversation_id": 2**40})
    assert (missing["type"], missing["code"]) == ("error", "not_found"), missing


async def _resync(srv: Server, consumer: Frames, bob_ws: Frames) -> None:
    """Issue 17: the fan-out reconnected (the fault suite makes Redis do it for real): every
    socket of the process is told to resync."""
    await srv.runtime.hub.resync()
    for frames in (consumer, bob_ws):
        await frames.wait_for(lambda f: f["type"] == "resync")


async def _reconnect_and_refused_auth(
    recorded: Recorded, srv: Server, shop: ShopIds, consumer: Frames
) -> None:
    """A second socket of the same consumer is ready with the open conversation; a bad token
    gets an error frame (its `ref` null) before the close."""
    token = consumer.token  # type: ignore[attr-defined]
    again = recorded.add("consumer", Frames(await connect(srv.ws_url + "/ws/consumer")))
    await again.send({"type": "auth", "shop_id": shop.shop_id, "token": token})
    ready = await again.wait_for(lambda f: f["type"] == "ready")
    assert ready["conversation"] is not None, ready
    refused = recorded.add("consumer", Frames(await connect(srv.ws_url + "/ws/consumer")))
    await refused.send({"type": "auth", "shop_id": shop.shop_id, "token": "not-a-token"})
    error = await refused.wait_for(lambda f: f["type"] == "error")
    assert error["ref"] is None and error["code"] == "auth.required", error
    await refused.ws.wait_closed()


async def _take_over(srv: Server, shop: ShopIds, alice_ws: Frames) -> None:
    """ACCT-4: a new login with take_over closes alice's socket with session_closed."""
    login = {"shop_id": shop.shop_id, "username": "alice", "password": PASSWORD, "take_over": True}
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        assert (await client.post("/api/auth/login", json=login)).status_code == 200
    closed = await alice_ws.wait_for(lambda f: f["type"] == "session_closed")
    assert closed["reason"] == "taken_over", closed
    await alice_ws.ws.wait_closed()
    assert alice_ws.ws.close_code == 4409


async def _alert(srv: Server, shop: ShopIds, owner: httpx.AsyncClient, owner_ws: Frames) -> None:
    """LIVE-2: a rule that alerts (nobody queued is fewer than 1) reaches its recipient."""
    rule = {
        "scope": "shop",
        "metric": "queued",
        "comparison": "lt",
        "threshold": 1,
        "recipient_ids": [shop.accounts["owner"]],
    }
    assert (await owner.post("/api/supervision/alerts/rules", json=rule)).status_code == 201
    assert await alerts.evaluate_shop(srv.runtime.ctx, shop.shop_id)
    await owner_ws.wait_for(lambda f: f["type"] == "alert")


async def test_api_2_every_server_frame_matches_its_declared_model(db_url: str) -> None:
    recorded = await scenarios(db_url)
    assert all(frames.received for _, frames in recorded.sockets)
    assert recorded.problems() == []


async def test_api_2_the_registries_declare_exactly_the_frames_the_scenarios_observe(
    db_url: str,
) -> None:
    assert coverage_problems((await scenarios(db_url)).observed()) == []


def test_api_2_the_checks_report_unknown_misplaced_missing_extra_and_drifting_frames() -> None:
    typing = {"type": "typing", "conversation_id": 12, "text": "在"}
    assert frame_problems("staff", typing) == []
    assert frame_problems("staff", {"type": "pong", "ref": None}) == []
    assert frame_problems("staff", {"type": "tip"}) == ["staff: unknown frame type 'tip'"]
    assert frame_problems("staff", {"type": ["pong"]}) == ["staff: unknown frame type ['pong']"]
    assert frame_problems("consumer", typing) == [
        "consumer: 'typing' is not registered for this socket"
    ]
    assert frame_problems("staff", {"type": "pong"}) == ["staff pong: missing at ('ref',)"]
    assert frame_problems("staff", {**typing, "seq": 3}) == [
        "staff typing: extra_forbidden at ('seq',)"
    ]
    assert frame_problems("staff", {**typing, "conversation_id": "12"}) == [
        "staff typing: int_type at ('conversation_id',)"
    ]
    # A pushed frame carries no ref; `conversation` is pushed and answers, so it may carry one.
    assert frame_problems("staff", {**typing, "ref": "r1"}) == [
        "staff typing: extra_forbidden at ('ref',)"
    ]
    assert frame_problems("staff", {"type": "conversation"}) == [
        "staff conversation: missing at ('conversation',)"
    ]

    every = {(socket, kind) for socket, registry in REGISTRIES.items() for kind in registry}
    assert coverage_problems(every) == []
    assert coverage_problems(every - {("consumer", "queue")} | {("staff", "queue")}) == [
        "consumer queue: declared, never observed",
        "staff queue: observed, not declared",
    ]
