"""The two WebSocket endpoints. Thin: authenticate, parse a frame from the registry, call a
service, answer with the same error model as HTTP. A bad frame never closes the socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from kefu import errors, telemetry
from kefu.api.deps import client_ip, origin_allowed, runtime, staff_from_connection
from kefu.api.errors import error_frame, validation_error
from kefu.bot import replies as bot_replies
from kefu.broker.base import Event
from kefu.catalog import service as catalog
from kefu.catalog.domain import CardKind, card_summary
from kefu.customers import service as customers
from kefu.domain.conversation import ConversationState
from kefu.domain.messages import CARD_KINDS, MessageKind, SenderKind
from kefu.gateway import protocol as p
from kefu.gateway.hub import Connection
from kefu.ratings import service as ratings
from kefu.services import accounts, conversations, messages
from kefu.services.consumers import consumer_send
from kefu.services.context import (
    ConsumerActor,
    Context,
    Staff,
    consumer_topic,
    live_topic,
)
from kefu.services.messages import SendRequest
from kefu.services.presence import me, socket_closed, socket_opened, staff_topics
from kefu.supervision import live

if TYPE_CHECKING:
    from kefu.app import Runtime

CLOSE_UNAUTHENTICATED = 4401
CLOSE_ORIGIN = 4403
CLOSE_TAKEN_OVER = 4409
CLOSE_TOO_LARGE = 1009
CLOSE_RATE_LIMITED = 4429
# RFC 6455 "Try Again Later": the database was unavailable while the socket was being set up.
CLOSE_TRY_AGAIN_LATER = 1013

log = structlog.get_logger(__name__)

Handler = Callable[[p.FrameIn], Awaitable[dict[str, Any] | None]]


def _ack(ack: messages.Ack, ref: str | None) -> dict[str, Any]:
    """MSG-2: the ack carries the stored message, which the sending socket gets only here."""
    return {
        "type": "ack",
        "ref": ref,
        "conversation_id": ack.conversation_id,
        "seq": ack.seq,
        "client_id": ack.client_id,
        "created_at": ack.created_at,
        "message": ack.message,
    }


def parse(text: str, registry: dict[str, type[p.FrameIn]], max_bytes: int) -> p.FrameIn:
    """Decode one client frame against the registry (bad_input / unknown_frame on failure)."""
    if len(text.encode()) > max_bytes:
        raise errors.BadInput("Frame too large.", code="frame_too_large", max_bytes=max_bytes)
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise errors.BadInput("Malformed JSON.", detail=str(exc)) from exc
    # Decoded, not raw: a user may type a literal backslash-u0000 (escaped as "\\u0000").
    if "\\u0000" in text and _has_nul(data):
        raise errors.BadInput("Frames may not contain NUL characters.")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise errors.BadInput("A frame is a JSON object with a string `type`.")
    model = registry.get(data["type"])
    if model is None:
        raise errors.BadInput("Unknown frame type.", code="unknown_frame", type=data["type"][:64])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def _has_nul(data: object) -> bool:
    """Iterative: a deeply nested frame must not exhaust the stack."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _raw_ref(text: str, max_bytes: int) -> str | None:
    """The `ref` of a frame that failed validation, so the client can match the error to it."""
    if len(text) > max_bytes:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    ref = data.get("ref") if isinstance(data, dict) else None
    return ref if isinstance(ref, str) and len(ref) <= p.MAX_REF_CHARS else None


async def _receive_text(websocket: WebSocket) -> str:
    """The next frame's text; a binary frame is bad_input (frames are JSON text)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        raise errors.BadInput("Frames are JSON text; a binary frame is not accepted.")
    return str(text)


async def _serve(
    websocket: WebSocket,
    connection: Connection,
    registry: dict[str, type[p.FrameIn]],
    handle: Handler,
) -> None:
    limit = runtime(websocket).ctx.settings.ws_max_frame_bytes
    while connection.is_open:
        try:
            text = await _receive_text(websocket)
        except (WebSocketDisconnect, RuntimeError):
            return
        except errors.BadInput as exc:
            connection.push(error_frame(exc, None))
            continue
        if not connection.is_open:
            return  # came in while closing: unanswered, so the client resends it (MSG-2)
        with connection.answering():
            ref = None
            try:
                frame = parse(text, registry, limit)
                ref = frame.ref
                answer = await handle(frame)
            except errors.KefuError as exc:
                connection.push(error_frame(exc, ref if ref is not None else _raw_ref(text, limit)))
                if exc.code == "frame_too_large":
                    connection.close(CLOSE_TOO_LARGE)
                continue
            except Exception:  # a bug in one frame's handling must not end the socket
                log.exception("frame handling failed")
                connection.push(error_frame(errors.InternalError(), ref))
                continue
            if answer is not None:
                connection.push({**answer, "ref": ref})


async def _refuse_for_now(websocket: WebSocket, exc: errors.Unavailable) -> None:
    """The database is out while a socket is set up: say so, and close with 1013."""
    with contextlib.suppress(Exception):
        await websocket.send_text(orjson.dumps(error_frame(exc, None)).decode())
        await websocket.close(CLOSE_TRY_AGAIN_LATER)


def _close_for_now(connection: Connection, exc: errors.Unavailable) -> None:
    connection.push(error_frame(exc, None))
    connection.close(CLOSE_TRY_AGAIN_LATER)


class _NotUtf8IsTheClients(logging.Filter):
    """A text frame that is not UTF-8: uvicorn closes the socket with 1007 (RFC 6455, 8.1) but
    logs the client's mistake as a server error with a traceback. Keep it, as one warning line."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE:
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_client_errors() -> None:
    """Install the filter above on uvicorn's error log, once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NotUtf8IsTheClients) for f in logger.filters):
        logger.addFilter(_NotUtf8IsTheClients())


def _staff_origin_allowed(websocket: WebSocket) -> bool:
    """Staff sockets: the page's Origin must be this server's or in KEFU_ALLOWED_ORIGINS. No
    Origin is refused too, unless the operator lets API clients in without one: a cookie is
    no proof that the page using it is ours."""
    if websocket.headers.get("origin") is None:
        return runtime(websocket).ctx.settings.allow_staff_sockets_without_origin
    return origin_allowed(websocket)


async def staff_socket(websocket: WebSocket) -> None:
    rt = runtime(websocket)
    # Accept first so that the refusal carries its close code (documented in protocol.md).
    await websocket.accept()
    if not await _admitted(websocket):
        return
    if not _staff_origin_allowed(websocket):
        await websocket.close(CLOSE_ORIGIN)
        return
    try:
        staff = await staff_from_connection(websocket)
    except errors.Unavailable as exc:
        await _refuse_for_now(websocket, exc)
        return
    except errors.KefuError:
        await websocket.close(CLOSE_UNAUTHENTICATED)
        return

    monitor = rt.monitor

    def on_event(conn: Connection, event: Event) -> bool:
        kind = event.get("type")
        if kind == "session_closed" and staff.session_id in event.get("session_ids", ()):
            conn.push({"type": "session_closed", "reason": event.get("reason")})
            conn.close(CLOSE_TAKEN_OVER)
            return False
        if monitor is not None and kind in live.TRIGGERS:
            monitor.changed(staff.shop_id)  # LIVE-1: coalesced; nothing if no page watches
        return kind not in ("session_closed", live.LIVE_CHANGED)

    connection = Connection(websocket, on_event=on_event)
    topics = staff_topics(staff)
    # Subscribe before answering `ready`, so nothing falls between catch-up and live (MSG-2).
    await rt.hub.listen(connection, topics)
    telemetry.CONNECTIONS.labels(kind="staff").inc()
    try:
        if not await _staff_ready(rt, staff, connection):  # PRES-1: socket_closed below
            return
        await _serve(
            websocket,
            connection,
            p.STAFF_FRAMES,
            lambda f: _staff_frame(websocket, staff, f, connection),
        )
    finally:
        telemetry.CONNECTIONS.labels(kind="staff").dec()
        if monitor is not None:
            monitor.unwatch(connection, staff.shop_id)
        await rt.hub.forget(connection)
        await socket_closed(rt.ctx, staff)
        await asyncio.sleep(0)
        await connection.stop()


async def _staff_ready(rt: Runtime, staff: Staff, connection: Connection) -> bool:
    """Count the socket in (PRES-1) and answer `ready`; in a frame of its own, so that what it
    loaded is not held while the socket lives."""
    try:
        await socket_opened(rt.ctx, staff)
        account = await me(rt.ctx, staff)
    except errors.Unavailable as exc:
        _close_for_now(connection, exc)
        return False
    connection.push({"type": "ready", "account": account})
    return True


async def _staff_frame(
    websocket: WebSocket, staff: Staff, frame: p.FrameIn, connection: Connection
) -> dict[str, Any] | None:
    rt = runtime(websocket)
    if isinstance(frame, p.PingIn):
        return {"type": "pong"}
    if isinstance(frame, p.LiveWatchIn | p.LiveUnwatchIn):
        return await _live_frame(rt, staff, frame, connection)
    if isinstance(frame, p.SendIn):
        body = await _card_body(rt.ctx, staff, frame)
        ack = await rt.writer.send(
            SendRequest(
                staff.shop_id,
                frame.conversation_id,
                SenderKind.AGENT,
                staff.account_id,
                MessageKind(frame.kind),
                body,
                frame.client_id,
                origin=connection.origin,
            )
        )
        return _ack(ack, frame.ref)
    if isinstance(frame, p.SyncIn):
        return await _sync(websocket, staff, frame)
    raise errors.BadInput("Unknown frame type.", code="unknown_frame")


async def _live_frame(
    rt: Runtime, staff: Staff, frame: p.LiveWatchIn | p.LiveUnwatchIn, connection: Connection
) -> dict[str, Any]:
    """LIVE-1: a monitoring page follows its shop's live view on this socket, or stops."""
    if rt.monitor is None:
        raise errors.Unavailable("Live monitoring is off on this server.")
    topics = [live_topic(staff.shop_id)]
    if isinstance(frame, p.LiveUnwatchIn):
        rt.monitor.unwatch(connection, staff.shop_id)
        await rt.hub.unlisten(connection, topics)
        return {"type": "live_stopped"}
    view = await rt.monitor.watch(connection, staff, connection.push)
    await rt.hub.listen(connection, topics)
    return {"type": "live", "view": view}


async def _sync(
    websocket: WebSocket, actor: Staff | ConsumerActor, frame: p.SyncIn
) -> dict[str, Any]:
    items, has_more = await messages.history(
        runtime(websocket).ctx,
        actor,
        frame.conversation_id,
        since_seq=frame.since_seq,
        limit=frame.limit,
    )
    return {
        "type": "messages",
        "conversation_id": frame.conversation_id,
        "items": items,
        "has_more": has_more,
    }


async def consumer_socket(websocket: WebSocket) -> None:
    rt = runtime(websocket)
    await websocket.accept()
    if not await _admitted(websocket):
        return
    consumer = await _consumer_auth(websocket)
    if consumer is None:
        return
    connection = Connection(websocket)
    await rt.hub.listen(connection, [consumer_topic(consumer.consumer_id)])
    telemetry.CONNECTIONS.labels(kind="consumer").inc()
    try:
        if not await _consumer_ready(rt, consumer, connection):
            return
        await _serve(
            websocket,
            connection,
            p.CONSUMER_FRAMES,
            lambda f: _consumer_frame(websocket, consumer, f, connection),
        )
    finally:
        telemetry.CONNECTIONS.labels(kind="consumer").dec()
        await rt.hub.forget(connection)
        await connection.stop()


async def _consumer_ready(rt: Runtime, consumer: ConsumerActor, connection: Connection) -> bool:
    """Answer `ready`; in a frame of its own, so that the views it sent are not held while the
    socket lives."""
    try:
        view = await conversations.current_conversation(rt.ctx, consumer)
        profile = await accounts.consumer_profile(rt.ctx, consumer)
    except errors.Unavailable as exc:
        _close_for_now(connection, exc)
        return False
    connection.push(
        {
            "type": "ready",
            "consumer": {"id": consumer.consumer_id, **profile},
            "conversation": view,
        }
    )
    if view is not None and view.state == ConversationState.QUEUED:
        rt.notifier.retell(consumer.shop_id, view.id)
    return True


async def _admitted(websocket: WebSocket) -> bool:
    """Connections per address, counted before they authenticate: one over the limit gets a
    `rate_limited` error frame (ref null) and is closed with 4429."""
    try:
        await runtime(websocket).limits.socket(client_ip(websocket))
    except errors.RateLimited as exc:
        with contextlib.suppress(Exception):
            await websocket.send_text(orjson.dumps(error_frame(exc, None)).decode())
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_RATE_LIMITED)
        return False
    return True


async def _consumer_auth(websocket: WebSocket) -> ConsumerActor | None:
    """The first frame must be `auth`, within the timeout, or the socket closes with 4401."""
    rt = runtime(websocket)
    try:
        text = await asyncio.wait_for(_receive_text(websocket), rt.ctx.settings.ws_auth_timeout_s)
        frame = parse(text, {"auth": p.AuthIn}, rt.ctx.settings.ws_max_frame_bytes)
        assert isinstance(frame, p.AuthIn)
        return accounts.consumer_from_token(rt.ctx, frame.shop_id, frame.token)
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        pass
    except errors.KefuError as exc:
        with contextlib.suppress(Exception):
            await websocket.send_text(orjson.dumps(error_frame(exc, None)).decode())
    with contextlib.suppress(Exception):
        await websocket.close(CLOSE_UNAUTHENTICATED)
    return None


async def _consumer_frame(
    websocket: WebSocket, consumer: ConsumerActor, frame: p.FrameIn, connection: Connection
) -> dict[str, Any] | None:
    rt = runtime(websocket)
    ctx = rt.ctx
    if isinstance(frame, p.PingIn):
        return {"type": "pong"}
    if isinstance(frame, p.OpenIn):
        await rt.limits.conversation(client_ip(websocket))
        entry = _entry(websocket, frame.entry)
        return {
            "type": "conversation",
            "conversation": await conversations.open_conversation(ctx, consumer, entry=entry),
        }
    if isinstance(frame, p.RequestHumanIn):
        await rt.limits.conversation(client_ip(websocket))
        view = await conversations.request_human(
            ctx, consumer, entry=_entry(websocket, p.EntryIn())
        )
        return {"type": "conversation", "conversation": view}
    if isinstance(frame, p.LeaveQueueIn):
        return {
            "type": "conversation",
            "conversation": await conversations.leave_queue(ctx, consumer),
        }
    if isinstance(frame, p.TypingIn):
        await messages.preview_typing(ctx, consumer, frame.conversation_id, frame.text)
        return None
    if isinstance(frame, p.SendIn):
        await rt.limits.consumer_message(frame.conversation_id)
        body = await _card_body(ctx, consumer, frame)
        kind = MessageKind(frame.kind)
        ack = await consumer_send(
            ctx,
            rt.writer,
            consumer,
            conversation_id=frame.conversation_id,
            client_id=frame.client_id,
            kind=kind,
            body=body,
            bot_text=card_summary(CardKind(kind), body) if kind in CARD_KINDS else None,
            origin=connection.origin,
        )
        return _ack(ack, frame.ref)
    if isinstance(frame, p.SyncIn):
        return await _sync(websocket, consumer, frame)
    if isinstance(frame, p.FeedbackIn | p.FaqClickIn | p.SuggestionClickIn):
        return await _bot_frame(ctx, consumer, frame)
    if isinstance(frame, p.RateIn):
        rated = await ratings.rate(
            ctx,
            consumer,
            conversation_id=frame.conversation_id,
            stars=frame.stars,
            card_seq=frame.card_seq,
        )
        return {"type": "rated", **asdict(rated)}
    if isinstance(frame, p.PageViewIn):
        recorded = await customers.record_page_view(
            ctx, consumer, frame.conversation_id, url=frame.url, title=frame.title, at=frame.at
        )
        return {
            "type": "page_view_recorded",
            "conversation_id": frame.conversation_id,
            "recorded": recorded,
        }
    raise errors.BadInput("Unknown frame type.", code="unknown_frame")


async def _bot_frame(
    ctx: Context, consumer: ConsumerActor, frame: p.FeedbackIn | p.FaqClickIn | p.SuggestionClickIn
) -> dict[str, Any]:
    """BOT-3 feedback, ENTRY-2 FAQ clicks and BOT-5 clicks on offered questions."""
    if isinstance(frame, p.FeedbackIn):
        done = await bot_replies.feedback(
            ctx,
            consumer,
            conversation_id=frame.conversation_id,
            seq=frame.seq,
            resolved=frame.resolved,
        )
        return {"type": "feedback_recorded", **asdict(done)}
    if isinstance(frame, p.SuggestionClickIn):
        picked = await bot_replies.suggestion_click(
            ctx,
            consumer,
            conversation_id=frame.conversation_id,
            seq=frame.seq,
            question_id=frame.question_id,
        )
        return {"type": "suggestion_click_recorded", **asdict(picked)}
    click = await bot_replies.faq_click(
        ctx, consumer, conversation_id=frame.conversation_id, item_id=frame.item_id
    )
    return {"type": "faq_click_recorded", **asdict(click)}


def _entry(websocket: WebSocket, entry: p.EntryIn) -> dict[str, Any]:
    """ENTRY-1: the page's context plus what the server knows (IP; region from a proxy header)."""
    data = entry.model_dump(exclude_none=True)
    data["ip"] = websocket.client.host if websocket.client else ""
    data["region"] = websocket.headers.get("x-kefu-region", "")[:50]
    return data


async def _card_body(ctx: Context, actor: Staff | ConsumerActor, frame: p.SendIn) -> str:
    """ENTRY-3, MSG-1: a card's body is built from the row its `body` names; text is as sent."""
    kind = MessageKind(frame.kind)
    if kind not in CARD_KINDS:
        return frame.body
    return await catalog.card_body(ctx, actor, CardKind(kind), frame.body)
