"""New staff accounts (ACCT-1, ACCT-2), staff login and sessions (ACCT-4), consumer identities
(signed tokens and the shop's HMAC), and tenant-scoped access to accounts (ACCT-5). Passwords
are argon2 hashes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

from kefu import errors
from kefu.domain.accounts import (
    check_group_of_role,
    check_name,
    check_password,
    check_reception_limit,
    parse_role,
    parse_status,
)
from kefu.domain.ids import AccountId, GroupId, ShopId
from kefu.domain.login import (
    ACCOUNT_DELAY,
    ADDRESS_DELAY,
    FAILURE_WINDOW,
    MAX_ADDRESS_CHARS,
    address_failures,
    login_wait,
)
from kefu.domain.permissions import effective
from kefu.domain.presence import DEFAULT_RECEPTION_LIMIT, AgentStatus, Role
from kefu.services import audit, views
from kefu.services.context import ConsumerActor, Context, Staff, account_topic, presence_window
from kefu.services.presence import account_changed, queue_may_change
from kefu.services.views import AccountView
from kefu.storage import accounts as store
from kefu.storage import permissions as permission_store
from kefu.storage import shops as shop_store
from kefu.storage.accounts import AccountRecord, NewAccountRow
from kefu.storage.db import Connection, UnitOfWork

SESSION_LIFETIME = timedelta(hours=12)
IDENTITY_VALIDITY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class NewAccount:
    """An account to create. `display_name` None: the username, and for the main account the
    shop's manager name, which is the only name it may have (ACCT-3)."""

    username: str
    password: str = field(repr=False)
    role: Role = Role.AGENT
    display_name: str | None = None
    group_id: GroupId | None = None
    has_im_permission: bool = True
    status: AgentStatus = AgentStatus.OFFLINE
    is_suspended: bool = False
    reception_limit: int = DEFAULT_RECEPTION_LIMIT


async def create_account(
    ctx: Context,
    *,
    shop_id: ShopId,
    username: str,
    password: str,
    role: Role = Role.AGENT,
    display_name: str | None = None,
    group_id: GroupId | None = None,
    has_im_permission: bool = True,
    status: AgentStatus = AgentStatus.OFFLINE,
    is_suspended: bool = False,
    reception_limit: int = DEFAULT_RECEPTION_LIMIT,
) -> AccountId:
    """ACCT-1, ACCT-2: one account of the shop; the rules are create_accounts'."""
    account = NewAccount(
        username=username,
        password=password,
        role=role,
        display_name=display_name,
        group_id=group_id,
        has_im_permission=has_im_permission,
        status=status,
        is_suspended=is_suspended,
        reception_limit=reception_limit,
    )
    (account_id,) = await create_accounts(ctx, shop_id=shop_id, accounts=[account])
    return account_id


async def create_accounts(
    ctx: Context,
    *,
    shop_id: ShopId,
    accounts: Sequence[NewAccount],
    audit_as: Staff | None = None,
    audited: bool = False,
) -> list[AccountId]:
    """ACCT-1, ACCT-2: accounts of one shop in one unit of work; their ids, in order.

    Usernames are unique in the shop, a shop has one main account (owner) and no second, and
    groups must be the shop's own (ACCT-5). Passwords are hashed before the transaction opens,
    so that the write lock is not held while argon2 works. No actor is checked: this is
    provisioning (the demo, benchmarks, fixtures); an owner's route (ACCT-6) calls
    require_owner first. `audited` records each account in the audit log, made by `audit_as`
    (None: the command line).
    """
    accounts = [_checked(a) for a in accounts]
    _refuse_repeats(accounts)
    if not accounts:
        return []
    hashes = await asyncio.to_thread(_hash_all, ctx.hasher, [a.password for a in accounts])
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(shop_id)  # two creations of one username must not both pass the check
        manager_name = await _check_against_shop(tx, shop_id, accounts)
        rows = [_row(a, h, manager_name) for a, h in zip(accounts, hashes, strict=True)]
        ids = await store.add_accounts(tx.conn, shop_id, rows, now)
        if audited:
            for account_id, row in zip(ids, rows, strict=True):
                await audit.record(
                    tx.conn,
                    shop_id=shop_id,
                    actor=audit_as,
                    action="account.create",
                    target=("account", account_id),
                    at=now,
                    username=row.username,
                    role=row.role.value,
                    group_id=row.group_id,
                )
        await tx.commit()
    return ids


def _checked(account: NewAccount) -> NewAccount:
    """The account with its role and status as enum members, or BadInput."""
    check_name(account.username, field="username")
    check_password(account.password)
    role = parse_role(account.role)
    status = parse_status(account.status)
    if account.display_name is not None:
        check_name(account.display_name, field="display_name")
    check_group_of_role(role, account.group_id is not None)
    check_reception_limit(account.reception_limit, field="reception_limit")
    return replace(account, role=role, status=status)


def _refuse_repeats(accounts: Sequence[NewAccount]) -> None:
    """Within one batch: a username twice, or two main accounts (ACCT-1)."""
    repeated = sorted(n for n, k in Counter(a.username for a in accounts).items() if k > 1)
    if repeated:
        raise errors.BadInput("A username is given twice.", field="username", usernames=repeated)
    if sum(1 for a in accounts if a.role is Role.OWNER) > 1:
        raise errors.BadInput("A shop has one main account.", field="role")


def _hash_all(hasher: PasswordHasher, passwords: list[str]) -> list[str]:
    return [hasher.hash(p) for p in passwords]


async def _check_against_shop(
    tx: UnitOfWork, shop_id: ShopId, accounts: Sequence[NewAccount]
) -> str:
    """Refuse what clashes with the shop as stored; returns its manager name (ACCT-3)."""
    shop = await shop_store.shop(tx.conn, shop_id)
    if shop is None:
        raise errors.NotFound(kind="shop", id=shop_id)
    own_groups = {g.id for g in await shop_store.groups(tx.conn, shop_id)}
    for account in accounts:
        if account.group_id is not None and account.group_id not in own_groups:
            raise errors.NotFound(kind="group", id=account.group_id)
    taken = await store.taken_usernames(tx.conn, shop_id, [a.username for a in accounts])
    if taken:
        raise errors.Conflict(
            "The shop already has an account of this username.",
            code="account.username_taken",
            field="username",
            usernames=sorted(taken),
        )
    owners = [a for a in accounts if a.role is Role.OWNER]
    if owners and await store.has_owner(tx.conn, shop_id):
        raise errors.Conflict("The shop already has its main account.", code="account.owner_taken")
    if any(a.display_name not in (None, shop.manager_name) for a in owners):
        raise errors.RuleViolation("The main account's name is the shop's manager name.")
    return shop.manager_name


def _row(account: NewAccount, password_hash: str, manager_name: str) -> NewAccountRow:
    if account.role is Role.OWNER:
        display_name = manager_name
    else:
        display_name = account.display_name or account.username
    return NewAccountRow(
        username=account.username,
        password_hash=password_hash,
        display_name=display_name,
        role=account.role,
        group_id=account.group_id,
        has_im_permission=account.has_im_permission,
        status=account.status,
        is_suspended=account.is_suspended,
        reception_limit=account.reception_limit,
    )


@dataclass(frozen=True, slots=True)
class LoginResult:
    session_id: str
    account: AccountView


async def login(
    ctx: Context,
    *,
    shop_id: int,
    username: str,
    password: str,
    take_over: bool,
    ip: str | None = None,
    own_session_id: str | None = None,
) -> LoginResult:
    """ACCT-4: verify, refuse a second live session unless taken over, rotate the session id.
    `own_session_id` is the session this browser already holds for the shop: when it is the
    account's live session, logging in again is no second session and goes straight in.

    The password check (argon2, ~200 ms) runs outside any transaction and off the event loop,
    so that it holds no write lock (SQLite has one writer). The attempt is counted as a failure
    before the check, and forgotten when it succeeds, so that attempts made while others are
    being checked still meet the delays. An unknown username is checked against a dummy hash
    of the same cost, so that the time of the answer does not tell which usernames exist.
    """
    now = ctx.clock.now()
    ip = ip[:MAX_ADDRESS_CHARS] if ip else None
    attempt = await _start_attempt(ctx, shop_id, username, ip, now)
    if attempt.account is None:
        await _verify(ctx, await _dummy_hash(ctx), password)
        await _failed(ctx, attempt)
        raise errors.InvalidCredentials()
    if not await _verify(ctx, attempt.account.password_hash, password):
        await _failed(ctx, attempt)
        raise errors.InvalidCredentials()
    if attempt.account.is_disabled:
        await _failed(ctx, attempt)
        raise errors.AccountDisabled()
    return await _open_session(
        ctx, attempt, attempt.account.id, take_over=take_over, now=now, own=own_session_id
    )


@dataclass(frozen=True, slots=True)
class _Attempt:
    failure_id: int
    shop_id: int
    username: str
    account: AccountRecord | None


async def _start_attempt(
    ctx: Context, shop_id: int, username: str, ip: str | None, now: datetime
) -> _Attempt:
    """Delay (ACCT-4), record the attempt as a failure and read the account, in one short
    write, under the locks of the account and the address."""
    async with ctx.db.uow() as tx:
        keys = [f"account:{shop_id}:{username}", *([f"ip:{ip}"] if ip is not None else [])]
        await store.lock_login_keys(tx.conn, keys)
        since = now - FAILURE_WINDOW
        await store.forget_login_failures_before(
            tx.conn, shop_id=shop_id, username=username, ip=ip, before=since
        )
        wait = await _wait(tx.conn, shop_id, username, ip, since=since, now=now)
        if wait > timedelta(0):
            raise errors.Throttled(retry_after_s=math.ceil(wait.total_seconds()))
        failure_id = await store.record_login_failure(tx.conn, shop_id, username, ip, now)
        found = await store.account_by_username(tx.conn, shop_id, username)
        await tx.commit()
    return _Attempt(failure_id, shop_id, username, found)


async def _failed(ctx: Context, attempt: _Attempt) -> None:
    """The attempt's check is over and it failed: it now counts in full against its address."""
    async with ctx.db.uow() as tx:
        await store.settle_login_failure(tx.conn, attempt.failure_id)
        await tx.commit()


async def _wait(
    conn: Connection, shop_id: int, username: str, ip: str | None, *, since: datetime, now: datetime
) -> timedelta:
    """The longer of the account's and the address's waits."""
    tallies = [(ACCOUNT_DELAY, await store.account_failures(conn, shop_id, username, since))]
    if ip is not None:
        failed, checking = await store.address_failures(conn, ip, since)
        counted = address_failures(failed.count, failed.last_at, checking.count, checking.last_at)
        tallies.append((ADDRESS_DELAY, store.FailureTally(*counted)))
    return max(
        login_wait(delay, failures=tally.count, last_failure_at=tally.last_at, now=now)
        for delay, tally in tallies
    )


async def _verify(ctx: Context, password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(ctx.hasher.verify, password_hash, password)
    except VerificationError:
        return False


async def _dummy_hash(ctx: Context) -> str:
    """A hash of no one's password at the hasher's cost, made once per process (and again
    only if the hasher's parameters change)."""
    cached = ctx.dummy_password_hash
    if cached is None or ctx.hasher.check_needs_rehash(cached):
        cached = await asyncio.to_thread(ctx.hasher.hash, secrets.token_urlsafe(16))
        ctx.dummy_password_hash = cached
    return cached


async def _open_session(
    ctx: Context,
    attempt: _Attempt,
    account_id: int,
    *,
    take_over: bool,
    now: datetime,
    own: str | None = None,
) -> LoginResult:
    """The password was right: take over live sessions if asked, clear failures, open one."""
    async with ctx.db.uow() as tx:
        live_ids = await store.live_session_ids(tx.conn, account_id, now)
        if own is not None and live_ids == [own]:
            return await _keep_session(tx, ctx, attempt, account_id, own, now)
        if live_ids and not take_over:
            # The password was right: this attempt does not count towards the throttle.
            await store.forget_login_failure(tx.conn, attempt.failure_id)
            await tx.commit()
            raise errors.AlreadyLoggedIn()
        if live_ids:
            await store.revoke_sessions(tx.conn, live_ids, at=now, reason="taken_over")
        await store.forget_login_failure(tx.conn, attempt.failure_id)
        await store.clear_login_failures(tx.conn, attempt.shop_id, attempt.username, now)
        session_id = secrets.token_urlsafe(32)
        await store.add_session(
            tx.conn,
            session_id=session_id,
            shop_id=attempt.shop_id,
            account_id=account_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        await store.touch_accounts(tx.conn, [account_id], now)  # PRES-1: a sign of life
        account = await views.account_view_of(tx.conn, account_id, presence_window(ctx))
        if live_ids:
            tx.on_commit(lambda: _announce_closed(ctx, account_id, live_ids, "taken_over"))
        await tx.commit()
    return LoginResult(session_id=session_id, account=account)


async def _keep_session(
    tx: UnitOfWork, ctx: Context, attempt: _Attempt, account_id: int, session_id: str, now: datetime
) -> LoginResult:
    """ACCT-4: the browser logs in again over its own live session (a return to the
    workbench): the session goes on, its sockets stay open, nothing is taken over."""
    await store.forget_login_failure(tx.conn, attempt.failure_id)
    await store.clear_login_failures(tx.conn, attempt.shop_id, attempt.username, now)
    await store.touch_accounts(tx.conn, [account_id], now)
    account = await views.account_view_of(tx.conn, account_id, presence_window(ctx))
    await tx.commit()
    return LoginResult(session_id=session_id, account=account)


async def revoke_all_sessions(
    tx: UnitOfWork, ctx: Context, account_id: int, *, reason: str, at: datetime
) -> None:
    """Every live session of the account ends, and after commit its sockets close."""
    live_ids = await store.live_session_ids(tx.conn, account_id, at)
    if live_ids:
        await store.revoke_sessions(tx.conn, live_ids, at=at, reason=reason)
        tx.on_commit(lambda: _announce_closed(ctx, account_id, live_ids, reason))


async def _announce_closed(
    ctx: Context, account_id: int, session_ids: list[str], reason: str
) -> None:
    await ctx.broker.publish(
        account_topic(account_id),
        {"type": "session_closed", "reason": reason, "session_ids": session_ids},
    )


async def logout(ctx: Context, staff: Staff) -> None:
    """ACCT-4: the session dies server-side and its sockets are closed. PRES-1: the agent is
    offline at once (an account has one live session), so nothing more is routed to them."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await store.revoke_sessions(tx.conn, [staff.session_id], at=now, reason="logged_out")
        account = await store.shop_account(tx.conn, staff.shop_id, staff.account_id)
        if account is not None and account.status is not AgentStatus.OFFLINE:
            await store.set_status(
                tx.conn,
                shop_id=staff.shop_id,
                account_id=staff.account_id,
                status=AgentStatus.OFFLINE,
                at=now,
            )
            view = await views.account_view_of(tx.conn, staff.account_id, presence_window(ctx))
            tx.on_commit(account_changed(ctx, view))
            tx.on_commit(lambda: _queue_may_change(ctx, staff.shop_id))
        tx.on_commit(
            lambda: _announce_closed(ctx, staff.account_id, [staff.session_id], "logged_out")
        )
        await tx.commit()


async def _queue_may_change(ctx: Context, shop_id: int) -> None:
    queue_may_change(ctx, shop_id)  # ROUTE-4: whether anyone is online may have changed


async def authenticate(ctx: Context, session_id: str) -> Staff:
    """The live session behind a cookie, or auth.required."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        account = await store.session_account(tx.conn, session_id, now)
        grants = await permission_store.grants_of(tx.conn, account.id) if account else {}
    if account is None:
        raise errors.Unauthenticated()
    return Staff(
        account_id=account.id,
        shop_id=account.shop_id,
        role=account.role,
        group_id=account.group_id,
        session_id=session_id,
        features=effective(account.role, grants),
    )


def _consumer_signer(ctx: Context, shop_id: int) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.settings.signing_key, salt=f"consumer:{shop_id}")


def consumer_token(ctx: Context, consumer: ConsumerActor) -> str:
    return str(_consumer_signer(ctx, consumer.shop_id).dumps({"c": consumer.consumer_id}))


def consumer_from_token(ctx: Context, shop_id: int, token: str) -> ConsumerActor:
    """A consumer token is valid only for the shop it was signed for."""
    try:
        data = _consumer_signer(ctx, shop_id).loads(token)
    except BadSignature as exc:
        raise errors.Unauthenticated("Invalid consumer token.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise errors.Unauthenticated("Invalid consumer token.")
    return ConsumerActor(consumer_id=data["c"], shop_id=shop_id)


def identity_signature(secret: str, uid: str, nickname: str, ts: int) -> str:
    """What the shop's own site computes to vouch for a consumer identity."""
    message = f"{uid}|{nickname}|{ts}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def signed_identity(
    ctx: Context, shop_id: int, *, uid: str, nickname: str
) -> dict[str, str | int]:
    """The identity a shop's own site would sign for its signed-in buyer (the demo shop's site
    is kefu itself, so it signs for its demo buyer); NotFound for no such shop."""
    async with ctx.db.read() as tx:
        secret = await shop_store.shop_secret(tx.conn, shop_id)
    if secret is None:
        raise errors.NotFound(kind="shop")
    ts = int(ctx.clock.now().timestamp())
    sig = identity_signature(secret, uid, nickname, ts)
    return {"uid": uid, "nickname": nickname, "ts": ts, "sig": sig}


async def consumer_profile(ctx: Context, consumer: ConsumerActor) -> dict[str, str]:
    """The consumer's public identity, as the widget shows it."""
    async with ctx.db.read() as tx:
        found = await store.shop_consumer(tx.conn, consumer.shop_id, consumer.consumer_id)
    if found is None:
        raise errors.Unauthenticated("Invalid consumer token.")
    return {"uid": found.uid, "nickname": found.nickname}


@dataclass(frozen=True, slots=True)
class ConsumerSession:
    token: str
    consumer_id: int
    uid: str
    nickname: str


async def start_consumer_session(
    ctx: Context,
    *,
    shop_id: int,
    identity: tuple[str, str, int, str] | None,
    token: str | None = None,
) -> ConsumerSession:
    """A returning anonymous token, a shop-signed identity, or a new anonymous consumer."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        secret = await shop_store.shop_secret(tx.conn, shop_id)
        if secret is None:
            raise errors.NotFound(kind="shop")
        if identity is not None:
            uid, nickname, ts, sig = identity
            expected = identity_signature(secret, uid, nickname, ts)
            fresh = abs(now.timestamp() - ts) <= IDENTITY_VALIDITY.total_seconds()
            if not (fresh and hmac.compare_digest(expected, sig)):
                raise errors.Unauthenticated("The identity signature is invalid or expired.")
            found = await store.upsert_consumer(tx.conn, shop_id, uid, nickname, now)
        elif token is not None:
            actor = consumer_from_token(ctx, shop_id, token)
            returning = await store.shop_consumer(tx.conn, shop_id, actor.consumer_id)
            if returning is None:
                raise errors.Unauthenticated("Invalid consumer token.")
            found = returning
        else:
            uid = "anon-" + secrets.token_hex(8)
            found = await store.upsert_consumer(tx.conn, shop_id, uid, "访客" + uid[-4:], now)
        await tx.commit()
    actor = ConsumerActor(consumer_id=found.id, shop_id=shop_id)
    return ConsumerSession(consumer_token(ctx, actor), found.id, found.uid, found.nickname)
