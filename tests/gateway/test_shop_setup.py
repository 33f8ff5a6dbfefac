"""ACCT-1, ACCT-2, ACCT-6 from an empty database: `kefu shop create`, then the owner sets up
a group and two agents through the HTTP API only; one agent goes online and is assigned a
consumer, the other is disabled and loses its socket at once. Real processes throughout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from procs import SECRET, ServeProcess
from support import Frames, open_consumer, staff_socket

pytestmark = pytest.mark.slow

OWNER_PASSWORD = "owner-password-long-enough"
AGENT_PASSWORD = "agent-password-long-enough"


def _kefu(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kefu", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _login(base: str, username: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=30)
    answer = await client.post(
        "/api/auth/login", json={"shop_id": 1, "username": username, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return client


async def test_acct_1_a_shop_set_up_from_an_empty_database_serves_a_consumer(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    env = {**os.environ, "KEFU_DATABASE_URL": url, "KEFU_SECRET_KEY": SECRET}
    server = ServeProcess(url, log_path=tmp_path / "serve.log")
    await server.start()
    clients: list[httpx.AsyncClient] = []
    sockets: list[Frames] = []
    try:
        assert "kefu shop create" in (tmp_path / "serve.log").read_text()

        refused = _kefu("shop", "create", "--name", "小鹿", "--owner", "boss", env=env, stdin="")
        assert refused.returncode != 0  # no password given on the prompt's stdin
        created = _kefu(
            "shop",
            "create",
            "--name",
            "小鹿优选",
            "--owner",
            "boss",
            "--manager-name",
            "林晓",
            "--password-stdin",
            env=env,
            stdin=OWNER_PASSWORD + "\n",
        )
        assert created.returncode == 0, created.stderr
        assert "shop 1 created" in created.stdout and "/workbench" in created.stdout
        assert OWNER_PASSWORD not in created.stdout + created.stderr

        owner = await _login(server.base_url, "boss", OWNER_PASSWORD)
        clients.append(owner)
        group = await owner.post("/api/groups", json={"name": "售前组"})
        assert group.status_code == 201, group.text
        group_id = group.json()["id"]
        for username in ("mei", "lan"):
            made = await owner.post(
                "/api/agents",
                json={"username": username, "password": AGENT_PASSWORD, "group_id": group_id},
            )
            assert made.status_code == 201, made.text

        mei = await _login(server.base_url, "mei", AGENT_PASSWORD)
        lan = await _login(server.base_url, "lan", AGENT_PASSWORD)
        clients += [mei, lan]
        assert (await mei.put("/api/me/status", json={"status": "online"})).status_code == 200
        lan_socket = await staff_socket(server.ws_url, lan)
        sockets.append(lan_socket)

        consumer = await open_consumer(server.base_url, server.ws_url, 1)
        sockets.append(consumer)
        answer = await consumer.request({"type": "request_human"})
        assert answer["conversation"]["state"] == "assigned"
        mei_id = (await mei.get("/api/me")).json()["account"]["id"]
        assert answer["conversation"]["agent_id"] == mei_id

        # ACCT-1: a disabled account's socket closes at once and its session is gone.
        lan_id = (await lan.get("/api/me")).json()["account"]["id"]
        disabled = await owner.put(f"/api/agents/{lan_id}", json={"is_disabled": True})
        assert disabled.status_code == 200 and disabled.json()["account"]["is_disabled"]
        closed = await lan_socket.wait_for(lambda f: f["type"] == "session_closed")
        assert closed["reason"] == "disabled"
        assert (await lan.get("/api/me")).status_code == 401
        again = await lan.post(
            "/api/auth/login", json={"shop_id": 1, "username": "lan", "password": AGENT_PASSWORD}
        )
        assert (again.status_code, again.json()["code"]) == (403, "account.disabled")

        # Only the owner manages staff: the agent is refused.
        forbidden = await mei.post("/api/groups", json={"name": "x"})
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
        log = (await owner.get("/api/audit")).json()["items"]
        assert [e["action"] for e in log] == [
            "account.update",
            "account.create",
            "account.create",
            "group.create",
            "account.create",
        ]
        assert log[-1]["actor_id"] is None  # the command line made the main account
    finally:
        for frames in sockets:
            await frames.close()
        for client in clients:
            await client.aclose()
        server.stop()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
