"""Staff accounts, their sessions, failed logins and status changes, and consumer identities
(ACCT-1 to ACCT-5, PRES-1 to PRES-3). Queries only: who may log in, change or see what is
decided in services/accounts.py and services/presence.py."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from kefu.domain.conversation import ConversationState
from kefu.domain.ids import AccountId, ConsumerId, GroupId, ShopId
from kefu.domain.presence import AgentStatus, Role, StatusChange
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: AccountId
    shop_id: ShopId
    username: str
    password_hash: str
    display_name: str
    role: Role
    group_id: GroupId | None
    has_im_permission: bool
    status: AgentStatus
    is_suspended: bool
    reception_limit: int
    is_disabled: bool = False
    last_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewAccountRow:
    username: str
    password_hash: str
    display_name: str
    role: Role
    group_id: int | None
    has_im_permission: bool
    status: AgentStatus
    is_suspended: bool
    reception_limit: int


@dataclass(frozen=True, slots=True)
class ConsumerRecord:
    id: ConsumerId
    shop_id: ShopId
    uid: str
    nickname: str
    is_vip: bool


def _account(r: Any) -> AccountRecord:
    return AccountRecord(
        id=AccountId(r.id),
        shop_id=ShopId(r.shop_id),
        username=r.username,
        password_hash=r.password_hash,
        display_name=r.display_name,
        role=Role(r.role),
        group_id=GroupId(r.group_id) if r.group_id is not None else None,
        has_im_permission=r.has_im_permission,
        status=AgentStatus(r.status),
        is_suspended=r.is_suspended,
        reception_limit=r.reception_limit,
        is_disabled=r.is_disabled,
        last_seen_at=r.last_seen_at,
    )


def _consumer(r: Any) -> ConsumerRecord:
    return ConsumerRecord(ConsumerId(r.id), ShopId(r.shop_id), r.uid, r.nickname, r.is_vip)


# --- accounts -------------------------------------------------------------------------------


async def add_accounts(
    conn: AsyncConnection, shop_id: int, rows: Sequence[NewAccountRow], created_at: datetime
) -> list[AccountId]:
    """One INSERT whatever the number of rows; the ids come back in the rows' order."""
    if not rows:
        return []
    ids = await conn.scalars(
        insert(t.accounts).returning(t.accounts.c.id, sort_by_parameter_order=True),
        [
            {
                "shop_id": shop_id,
                "username": r.username,
                "password_hash": r.password_hash,
                "display_name": r.display_name,
                "role": r.role,
                "group_id": r.group_id,
                "has_im_permission": r.has_im_permission,
                "status": r.status,
                "is_suspended": r.is_suspended,
                "reception_limit": r.reception_limit,
                "created_at": created_at,
            }
            for r in rows
        ],
    )
    return [AccountId(i) for i in ids.all()]


async def taken_usernames(
    conn: AsyncConnection, shop_id: int, usernames: Sequence[str]
) -> set[str]:
    a = t.accounts.c
    rows = await conn.scalars(
        select(a.username).where(a.shop_id == shop_id, a.username.in_(list(usernames)))
    )
    return set(rows.all())


async def has_owner(conn: AsyncConnection, shop_id: int) -> bool:
    a = t.accounts.c
    found = await conn.scalar(
        select(a.id).where(a.shop_id == shop_id, a.role == Role.OWNER).limit(1)
    )
    return found is not None


async def shop_account(
    conn: AsyncConnection, shop_id: int, account_id: int
) -> AccountRecord | None:
    """The account if it belongs to this shop (ACCT-5)."""
    a = t.accounts.c
    row = (
        await conn.execute(select(t.accounts).where(a.id == account_id, a.shop_id == shop_id))
    ).first()
    return _account(row) if row is not None else None


async def account_by_username(
    conn: AsyncConnection, shop_id: int, username: str
) -> AccountRecord | None:
    a = t.accounts.c
    row = (
        await conn.execute(select(t.accounts).where(a.shop_id == shop_id, a.username == username))
    ).first()
    return _account(row) if row is not None else None


# Built once: a subquery made per call copies its columns (with their foreign keys) into
# reference cycles, garbage that waits for the collector; every login and staff socket made one.
_LOAD = (
    select(t.conversations.c.agent_id, func.count().label("n"))
    .where(t.conversations.c.state == ConversationState.ASSIGNED)
    .group_by(t.conversations.c.agent_id)
    .subquery("load")
)
# The same for `IN` over a list of values: each `in_([...])` makes a parameter that refers to
# itself. Statements run often take their ids as a parameter of one clause built here.
_ACCOUNT_IN = t.accounts.c.id.in_(bindparam("account_ids", expanding=True))
_TOUCH = (
    update(t.accounts)
    .where(
        _ACCOUNT_IN,
        or_(t.accounts.c.last_seen_at.is_(None), t.accounts.c.last_seen_at < bindparam("at")),
    )
    .values(last_seen_at=bindparam("at"))
)


@dataclass(frozen=True, slots=True)
class LoadedAccount:
    """An account with the conversations assigned to it now (PRES-3's load)."""

    account: AccountRecord
    current_load: int


async def loaded_accounts(
    conn: AsyncConnection,
    *,
    account_ids: Sequence[int] | None = None,
    shop_id: int | None = None,
) -> list[LoadedAccount]:
    """These accounts (or all of a shop's) with their loads, by id."""
    a = t.accounts.c
    query = (
        select(t.accounts, func.coalesce(_LOAD.c.n, 0).label("current_load"))
        .outerjoin(_LOAD, _LOAD.c.agent_id == a.id)
        .order_by(a.id)
    )
    params: dict[str, Any] = {}
    if account_ids is not None:
        query = query.where(_ACCOUNT_IN)
        params["account_ids"] = list(account_ids)
    if shop_id is not None:
        query = query.where(a.shop_id == shop_id)
    rows = await conn.execute(query, params)
    return [LoadedAccount(_account(r), r.current_load) for r in rows]


async def display_names(conn: AsyncConnection, shop_id: int) -> dict[int, str]:
    """Every account's display name in the shop, by id (messages show their sender's)."""
    a = t.accounts.c
    rows = await conn.execute(select(a.id, a.display_name).where(a.shop_id == shop_id))
    return {r.id: r.display_name for r in rows}


async def set_status(
    conn: AsyncConnection,
    *,
    shop_id: int,
    account_id: int,
    status: AgentStatus,
    at: datetime,
    seen: bool = False,
) -> None:
    """PRES-1, PRES-3: the account's status, and the change row work time is computed from.
    `seen`: the agent changed it, a sign of life (PRES-1)."""
    values: dict[str, Any] = {"status": status}
    if seen:
        values["last_seen_at"] = at
    await conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(**values))
    await conn.execute(
        insert(t.status_changes).values(
            shop_id=shop_id, account_id=account_id, status=status, at=at
        )
    )


async def touch_accounts(conn: AsyncConnection, account_ids: Sequence[int], at: datetime) -> None:
    """PRES-1: a sign of life of these accounts at `at`, in one statement (a process's
    heartbeat for its open staff sockets). Never moves a later sign back."""
    if not account_ids:
        return
    await conn.execute(_TOUCH, {"account_ids": sorted(set(account_ids)), "at": at})


async def set_reception_limit(conn: AsyncConnection, account_id: int, limit: int) -> None:
    await conn.execute(
        update(t.accounts).where(t.accounts.c.id == account_id).values(reception_limit=limit)
    )


async def group_member_count(conn: AsyncConnection, group_id: int) -> int:
    a = t.accounts.c
    return int(await conn.scalar(select(func.count()).where(a.group_id == group_id)) or 0)


async def move_accounts(conn: AsyncConnection, account_ids: Sequence[int], group_id: int) -> None:
    await conn.execute(
        update(t.accounts).where(t.accounts.c.id.in_(list(account_ids))).values(group_id=group_id)
    )


async def suspend_accounts(
    conn: AsyncConnection, account_ids: Sequence[int], *, suspended: bool
) -> None:
    await conn.execute(
        update(t.accounts)
        .where(t.accounts.c.id.in_(list(account_ids)))
        .values(is_suspended=suspended)
    )


async def update_account(
    conn: AsyncConnection,
    account_id: int,
    *,
    display_name: str | None = None,
    has_im_permission: bool | None = None,
    is_disabled: bool | None = None,
    reception_limit: int | None = None,
    password_hash: str | None = None,
) -> None:
    """Sets the values given; None leaves a column as it is."""
    given = {
        "display_name": display_name,
        "has_im_permission": has_im_permission,
        "is_disabled": is_disabled,
        "reception_limit": reception_limit,
        "password_hash": password_hash,
    }
    values = {column: value for column, value in given.items() if value is not None}
    if values:
        await conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(**values))


# --- staff sessions and failed logins (ACCT-4) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureTally:
    """Failed logins of one account or one address in a window: how many, and the last one."""

    count: int
    last_at: datetime | None


# The two-key advisory locks, a key space apart from lock_shop's one-key locks.
_LOGIN_LOCK_CLASS = 0x4B4C


async def lock_login_keys(conn: AsyncConnection, keys: Sequence[str]) -> None:
    """Serialise the attempts that share an account or an address, from their tally to their
    record, on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises every write already. Taken in
    one order, so that two attempts never wait for each other's second lock."""
    if conn.dialect.name != "postgresql":
        return
    for key in sorted({zlib.crc32(k.encode()) - 2**31 for k in keys}):
        await conn.execute(select(func.pg_advisory_xact_lock(_LOGIN_LOCK_CLASS, key)))


async def account_failures(
    conn: AsyncConnection, shop_id: int, username: str, since: datetime
) -> FailureTally:
    """The account's failed logins after `since` that no later success cleared."""
    f = t.login_failures.c
    return await _tally(
        conn, f.shop_id == shop_id, f.username == username, f.cleared_at.is_(None), f.at > since
    )


async def address_failures(
    conn: AsyncConnection, ip: str, since: datetime
) -> tuple[FailureTally, FailureTally]:
    """The attempts from `ip` after `since`, into any account: the failed ones, and those
    whose password is still being checked."""
    f = t.login_failures.c
    rows = await conn.execute(
        select(f.checking, func.count(), func.max(f.at))
        .where(f.ip == ip, f.at > since)
        .group_by(f.checking)
    )
    found = {bool(checking): FailureTally(int(n), last) for checking, n, last in rows}
    empty = FailureTally(0, None)
    return found.get(False, empty), found.get(True, empty)


async def _tally(conn: AsyncConnection, *where: ColumnElement[bool]) -> FailureTally:
    f = t.login_failures.c
    row = (await conn.execute(select(func.count(), func.max(f.at)).where(*where))).one()
    return FailureTally(int(row[0]), row[1])


async def record_login_failure(
    conn: AsyncConnection, shop_id: int, username: str, ip: str | None, at: datetime
) -> int:
    """A login attempt, counted as failed while its password is being checked; its id."""
    failure_id = await conn.scalar(
        insert(t.login_failures)
        .values(shop_id=shop_id, username=username, ip=ip, at=at, checking=True)
        .returning(t.login_failures.c.id)
    )
    assert failure_id is not None
    return int(failure_id)


async def settle_login_failure(conn: AsyncConnection, failure_id: int) -> None:
    """The attempt's password was checked and it failed."""
    f = t.login_failures.c
    await conn.execute(update(t.login_failures).where(f.id == failure_id).values(checking=False))


async def forget_login_failure(conn: AsyncConnection, failure_id: int) -> None:
    await conn.execute(delete(t.login_failures).where(t.login_failures.c.id == failure_id))


async def clear_login_failures(
    conn: AsyncConnection, shop_id: int, username: str, at: datetime
) -> None:
    """The account's failures no longer delay it; they still count against their addresses."""
    f = t.login_failures.c
    await conn.execute(
        update(t.login_failures)
        .where(f.shop_id == shop_id, f.username == username, f.cleared_at.is_(None))
        .values(cleared_at=at)
    )


async def forget_login_failures_before(
    conn: AsyncConnection, *, shop_id: int, username: str, ip: str | None, before: datetime
) -> None:
    """Failures too old to count, of this account and this address (each by its index)."""
    f = t.login_failures.c
    await conn.execute(
        delete(t.login_failures).where(f.shop_id == shop_id, f.username == username, f.at <= before)
    )
    if ip is not None:
        await conn.execute(delete(t.login_failures).where(f.ip == ip, f.at <= before))


async def live_session_ids(conn: AsyncConnection, account_id: int, now: datetime) -> list[str]:
    s = t.staff_sessions.c
    rows = await conn.scalars(
        select(s.id).where(s.account_id == account_id, s.revoked_at.is_(None), s.expires_at > now)
    )
    return list(rows.all())


async def add_session(
    conn: AsyncConnection,
    *,
    session_id: str,
    shop_id: int,
    account_id: int,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        insert(t.staff_sessions).values(
            id=session_id,
            shop_id=shop_id,
            account_id=account_id,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


async def revoke_sessions(
    conn: AsyncConnection, session_ids: Sequence[str], *, at: datetime, reason: str
) -> None:
    await conn.execute(
        update(t.staff_sessions)
        .where(t.staff_sessions.c.id.in_(list(session_ids)))
        .values(revoked_at=at, revoked_reason=reason)
    )


async def session_account(
    conn: AsyncConnection, session_id: str, now: datetime
) -> AccountRecord | None:
    """The account behind a session that is neither revoked nor expired at `now`, unless the
    account is disabled."""
    s = t.staff_sessions.c
    row = (
        await conn.execute(
            select(t.accounts)
            .join(t.staff_sessions, s.account_id == t.accounts.c.id)
            .where(
                s.id == session_id,
                s.revoked_at.is_(None),
                s.expires_at > now,
                t.accounts.c.is_disabled.is_(False),
            )
        )
    ).first()
    return _account(row) if row is not None else None


# --- work statistics (PRES-3) ---------------------------------------------------------------


async def status_changes_since(
    conn: AsyncConnection, account_id: int, since: datetime
) -> list[StatusChange]:
    sc = t.status_changes.c
    rows = await conn.execute(
        select(sc.status, sc.at).where(sc.account_id == account_id, sc.at >= since)
    )
    return [StatusChange(AgentStatus(r.status), r.at) for r in rows]


async def shop_queue_length(conn: AsyncConnection, shop_id: int) -> int:
    c = t.conversations.c
    found = await conn.scalar(
        select(func.count()).where(c.shop_id == shop_id, c.state == ConversationState.QUEUED)
    )
    return int(found or 0)


async def group_queue_length(conn: AsyncConnection, shop_id: int, group_id: int | None) -> int:
    """Queued conversations of one group; with None, those that have no group."""
    c = t.conversations.c
    found = await conn.scalar(
        select(func.count()).where(
            c.shop_id == shop_id, c.state == ConversationState.QUEUED, c.group_id == group_id
        )
    )
    return int(found or 0)


# --- consumer identities --------------------------------------------------------------------


async def shop_consumer(
    conn: AsyncConnection, shop_id: int, consumer_id: int
) -> ConsumerRecord | None:
    c = t.consumers.c
    row = (
        await conn.execute(select(t.consumers).where(c.id == consumer_id, c.shop_id == shop_id))
    ).first()
    return _consumer(row) if row is not None else None


async def add_consumer(
    conn: AsyncConnection,
    shop_id: int,
    *,
    uid: str,
    nickname: str,
    is_vip: bool,
    created_at: datetime,
) -> ConsumerId:
    found = await conn.scalar(
        insert(t.consumers)
        .values(shop_id=shop_id, uid=uid, nickname=nickname, is_vip=is_vip, created_at=created_at)
        .returning(t.consumers.c.id)
    )
    assert found is not None
    return ConsumerId(found)


async def upsert_consumer(
    conn: AsyncConnection, shop_id: int, uid: str, nickname: str, now: datetime
) -> ConsumerRecord:
    """The shop's consumer known by `uid`, created or renamed to `nickname`."""
    c = t.consumers.c
    by_uid = select(t.consumers).where(c.shop_id == shop_id, c.uid == uid)
    row = (await conn.execute(by_uid)).first()
    if row is None:
        await conn.execute(
            insert(t.consumers).values(shop_id=shop_id, uid=uid, nickname=nickname, created_at=now)
        )
    elif row.nickname != nickname:
        await conn.execute(update(t.consumers).where(c.id == row.id).values(nickname=nickname))
    return _consumer((await conn.execute(by_uid)).one())
