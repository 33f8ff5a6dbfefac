"""Welcome and closing messages per group and per agent (SET-2): the owner's settings, and the
system messages posted when routing assigns a conversation and when it ends. The posting
functions run inside the caller's transaction and rely on its lock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kefu import errors
from kefu.domain.greetings import MAX_GREETING_CHARS, GreetingKind, choose_greeting
from kefu.domain.permissions import Feature
from kefu.services.access import access_account, access_group
from kefu.services.context import Context, Staff
from kefu.services.permissions import require_permission
from kefu.storage import greetings as store
from kefu.storage import messages as message_store
from kefu.storage.db import Connection
from kefu.storage.messages import Append, NewMessage


@dataclass(frozen=True, slots=True)
class GreetingsView:
    groups: list[dict[str, object]]
    agents: list[dict[str, object]]


async def get_greetings(ctx: Context, staff: Staff) -> GreetingsView:
    async with ctx.db.read() as tx:
        return _view(await store.for_shop(tx.conn, staff.shop_id))


def _view(items: Sequence[store.Greeting]) -> GreetingsView:
    def row(g: store.Greeting, key: str) -> dict[str, object]:
        return {key: g.target_id, "welcome": g.welcome, "closing": g.closing}

    return GreetingsView(
        [row(g, "group_id") for g in items if g.target == "group"],
        [row(g, "agent_id") for g in items if g.target == "agent"],
    )


async def put_greetings(
    ctx: Context, staff: Staff, items: Sequence[store.Greeting]
) -> GreetingsView:
    """SET-1, SET-2: replace every group's and agent's greetings (the owner, or a
    sub-account granted the settings feature, ACCT-6)."""
    require_permission(staff, Feature.SETTINGS)
    clean = [_checked(g) for g in items]
    keys = [(g.target, g.target_id) for g in clean]
    if len(set(keys)) != len(keys):
        raise errors.BadInput("A group or agent is listed twice.", field="greetings")
    async with ctx.db.uow() as tx:
        for g in clean:
            if g.target == "group":
                await access_group(tx.conn, staff, g.target_id)
            else:
                await access_account(tx.conn, staff, g.target_id)
        await store.replace_all(
            tx.conn, staff.shop_id, [g for g in clean if g.welcome or g.closing]
        )
        saved = await store.for_shop(tx.conn, staff.shop_id)
        await tx.commit()
    return _view(saved)


def _checked(g: store.Greeting) -> store.Greeting:
    def text(value: str | None, name: str) -> str | None:
        if value is None or not value.strip():
            return None
        if "\x00" in value or len(value) > MAX_GREETING_CHARS:
            raise errors.BadInput(
                "Greetings are at most 500 characters.", field=name, max_chars=MAX_GREETING_CHARS
            )
        return value.strip()

    return store.Greeting(
        g.target, g.target_id, text(g.welcome, "welcome"), text(g.closing, "closing")
    )


def _texts(
    items: Sequence[store.Greeting],
    groups: Mapping[int, int | None],
    agent_ids: Iterable[int],
    kind: GreetingKind,
) -> dict[int, str]:
    texts = {(g.target, g.target_id): getattr(g, kind.value) for g in items}
    out: dict[int, str] = {}
    for agent_id in agent_ids:
        group_id = groups.get(agent_id)
        text = choose_greeting(
            texts.get(("group", group_id)) if group_id is not None else None,
            texts.get(("agent", agent_id)),
        )
        if text:
            out[agent_id] = text
    return out


async def post_welcomes(
    conn: Connection,
    shop_id: int,
    assignments: Sequence[tuple[int, int]],
    now: datetime,
    *,
    items: Sequence[store.Greeting] | None = None,
    groups: Mapping[int, int | None] | None = None,
) -> None:
    """SET-2: on assignment, each conversation gets its agent's welcome as a system message.

    Runs in the routing transaction, under the shop lock its caller holds. `items` (the shop's
    greetings) and `groups` (each agent's group), if the caller has them, spare their reads.
    Two statements for the whole batch, none if the shop has no greetings.
    """
    items = await store.for_shop(conn, shop_id) if items is None else items
    if not items or not assignments:
        return
    agent_ids = sorted({a for _, a in assignments})
    if groups is None:
        groups = await store.agent_groups(conn, agent_ids)
    texts = _texts(items, groups, agent_ids, GreetingKind.WELCOME)
    await message_store.append(
        conn,
        [
            Append(shop_id, conversation_id, [_greeting(texts[agent_id], GreetingKind.WELCOME)])
            for conversation_id, agent_id in assignments
            if agent_id in texts
        ],
        now=now,
    )


def closing_messages(
    items: Sequence[store.Greeting], agent_id: int | None, group_id: int | None
) -> list[NewMessage]:
    """SET-2: the closing message for a conversation its agent (of group `group_id`) ends, if
    one is set; `items` hold at least the greetings aimed at that group and that agent."""
    if agent_id is None:
        return []
    text = _texts(items, {agent_id: group_id}, [agent_id], GreetingKind.CLOSING).get(agent_id)
    return [_greeting(text, GreetingKind.CLOSING)] if text else []


def _greeting(text: str, kind: GreetingKind) -> NewMessage:
    return NewMessage("system", None, "system", text, meta={"greeting": kind.value})
