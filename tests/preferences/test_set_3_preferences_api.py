"""SET-3 over HTTP: every account keeps its own notification preferences, quick phrases and
reception limit; nobody reads or writes another account's preferences."""

from __future__ import annotations

import httpx
import pytest

from kefu.domain.notifications import (
    NotificationPreferences,
    NotifyEvent,
    decode_events,
    encode_events,
)
from support import AgentSpec, make_shop, running_server

ALL = ["new_conversation", "new_message", "transfer_request"]
PREFS = "/api/me/notification-preferences"


def test_set_3_preferences_default_to_everything_on() -> None:
    prefs = NotificationPreferences()
    assert all(prefs.alerts(e) for e in NotifyEvent)
    silent = NotificationPreferences(is_sound_on=False, is_desktop_on=False)
    assert not silent.alerts(NotifyEvent.NEW_MESSAGE)
    only = NotificationPreferences(events=frozenset({NotifyEvent.TRANSFER_REQUEST}))
    assert only.alerts(NotifyEvent.TRANSFER_REQUEST)
    assert not only.alerts(NotifyEvent.NEW_CONVERSATION)


def test_set_3_events_round_trip_and_drop_unknown_codes() -> None:
    events = frozenset({NotifyEvent.NEW_MESSAGE, NotifyEvent.NEW_CONVERSATION})
    assert encode_events(events) == "new_conversation,new_message"
    assert decode_events(encode_events(events)) == events
    assert decode_events("gone,new_message,") == {NotifyEvent.NEW_MESSAGE}
    assert decode_events("") == frozenset()


async def test_set_3_each_account_keeps_its_own_notification_preferences(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=srv.clock
        )
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")

        first = await alice.get(PREFS)
        assert first.status_code == 200, first.text
        assert first.json() == {"sound": True, "desktop": True, "events": ALL}

        chosen = {"sound": False, "desktop": True, "events": ["transfer_request", "new_message"]}
        saved = await alice.put(PREFS, json=chosen)
        assert saved.status_code == 200, saved.text
        expected = {"sound": False, "desktop": True, "events": ["new_message", "transfer_request"]}
        assert saved.json() == expected
        assert (await alice.get(PREFS)).json() == expected
        # Bob's are his own: untouched by Alice's choice.
        assert (await bob.get(PREFS)).json() == {"sound": True, "desktop": True, "events": ALL}

        # Saving again replaces the whole choice (no duplicate rows).
        again = await alice.put(PREFS, json={"sound": True, "desktop": False, "events": []})
        assert again.json() == {"sound": True, "desktop": False, "events": []}
        assert (await alice.get(PREFS)).json() == again.json()


async def test_set_3_preferences_survive_a_new_session(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        await alice.put(PREFS, json={"sound": False, "desktop": False, "events": ["new_message"]})
        assert (await alice.post("/api/auth/logout")).status_code == 200
        later = await srv.staff(shop.shop_id, "alice")
        assert (await later.get(PREFS)).json() == {
            "sound": False,
            "desktop": False,
            "events": ["new_message"],
        }


@pytest.mark.parametrize(
    "body",
    [
        {"sound": "no", "desktop": True, "events": []},
        {"sound": True, "desktop": True, "events": ["everything"]},
        {"sound": True, "desktop": True, "events": ALL * 2},
        {"sound": True, "desktop": True},
        {"sound": True, "desktop": True, "events": [], "account_id": 1},
    ],
)
async def test_set_3_bad_preferences_are_refused(db_url: str, body: dict[str, object]) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        refused = await alice.put(PREFS, json=body)
        assert refused.status_code == 422
        assert refused.json()["code"] == "bad_input"
        assert (await alice.get(PREFS)).json()["events"] == ALL


async def test_set_3_preferences_need_a_session(db_url: str) -> None:
    async with running_server(db_url) as srv:
        anonymous = httpx.AsyncClient(base_url=srv.base_url)
        try:
            assert (await anonymous.get(PREFS)).status_code == 401
        finally:
            await anonymous.aclose()


async def test_set_3_reception_limit_is_the_accounts_own_and_capped(db_url: str) -> None:
    """PRES-2/PRES-4 as SET-3 needs them: an agent sets their own limit up to the owner's cap."""
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=srv.clock
        )
        owner = await srv.staff(shop.shop_id, "owner")
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")
        capped = await owner.put("/api/shop/settings", json={"max_reception_limit": 5})
        assert capped.status_code == 200, capped.text

        mine = await alice.put("/api/me/reception-limit", json={"limit": 4})
        assert mine.status_code == 200, mine.text
        assert mine.json()["account"]["reception_limit"] == 4
        over = await alice.put("/api/me/reception-limit", json={"limit": 6})
        assert over.status_code == 422
        # Bob's limit did not move with Alice's, and he cannot set hers.
        agents = {a["id"]: a for a in (await bob.get("/api/agents")).json()["items"]}
        assert agents[shop.accounts["alice"]]["reception_limit"] == 4
        assert agents[shop.accounts["bob"]]["reception_limit"] != 4
        theirs = await bob.put(f"/api/agents/{shop.accounts['alice']}", json={"reception_limit": 2})
        assert theirs.status_code == 403


async def test_set_3_quick_phrases_are_each_accounts_own(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=srv.clock
        )
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")
        made = await alice.post(
            "/api/quick-phrases", json={"scope": "personal", "title": "hi", "body": "您好"}
        )
        assert made.status_code in (200, 201), made.text
        alices = [p["body"] for p in (await alice.get("/api/quick-phrases")).json()["items"]]
        bobs = [p["body"] for p in (await bob.get("/api/quick-phrases")).json()["items"]]
        assert "您好" in alices
        assert "您好" not in bobs
