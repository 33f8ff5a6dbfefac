"""Issue 9 finding 1 at the edges: a database outage is answered, on a socket that stays
open, with a retryable `unavailable` error frame, and over HTTP with 503, the same body and
Retry-After; an unexpected failure in one frame is `internal_error`, and the socket lives on.
The outage here is SQLite's write lock held past the busy timeout by another connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.gateway import sockets
from kefu.storage.db import Database
from support import AgentSpec, make_shop, running_server, server_log

UNAVAILABLE = {"retryable": True, "retry_after_s": 1, "cause": "busy"}


async def test_issue_9_1_outage_is_a_retryable_error_frame_and_a_503(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    holder = Database(url)
    async with running_server(url, db_busy_timeout_s=0.3) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        agent = await srv.staff(shop.shop_id, "a")
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        send = {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "hello"}
        with server_log() as log:
            async with holder.uow():  # the database's write lock, held past the busy timeout
                refused = await consumer.request(dict(send), timeout=5)
                response = await agent.put("/api/me/status", json={"status": "busy"})
            assert refused["type"] == "error" and refused["code"] == "unavailable"
            assert refused["params"] == UNAVAILABLE and refused["ref"] is not None
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.json()["code"] == "unavailable"
            assert response.json()["params"] == UNAVAILABLE
            # The socket is still open: the resend with the same client id is stored once.
            acked = await consumer.request(dict(send))
            assert acked["type"] == "ack" and acked["client_id"] == "m1"
            again = await consumer.request(dict(send))
            assert again["type"] == "ack" and again["seq"] == acked["seq"]
        assert log.problems() == []
    await holder.dispose()
    assert "Traceback" not in "".join(capfd.readouterr())  # logged as a warning line


async def test_issue_9_1_an_unexpected_failure_is_internal_error_and_the_socket_lives_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    async def broken(*_args: object) -> dict[str, object]:
        raise RuntimeError("a bug")

    async with running_server(f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}") as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        monkeypatch.setattr(sockets, "_sync", broken)
        capfd.readouterr()
        failed = await consumer.request({"type": "sync", "conversation_id": cid})
        assert failed["type"] == "error" and failed["code"] == "internal_error"
        assert failed["ref"] is not None
        assert "".join(capfd.readouterr()).count("frame handling failed") == 1
        monkeypatch.undo()
        synced = await consumer.request({"type": "sync", "conversation_id": cid})
        assert synced["type"] == "messages"
