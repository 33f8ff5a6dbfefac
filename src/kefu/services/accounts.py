"""Staff login and sessions (ACCT-4), consumer identities (signed tokens and the shop's HMAC),
and tenant-scoped access to accounts (ACCT-5). Passwords are argon2 hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2.exceptions import VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.domain.presence import Role
from kefu.services.context import ConsumerActor, Context, Staff, account_topic
from kefu.storage import tables as t
from kefu.storage.views import AccountView, account_views

SESSION_LIFETIME = timedelta(hours=12)
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
MAX_LOGIN_FAILURES = 5
IDENTITY_VALIDITY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class LoginResult:
    session_id: str
    account: AccountView


async def login(
    ctx: Context, *, shop_id: int, username: str, password: str, take_over: bool
) -> LoginResult:
    """ACCT-4: verify, refuse a second live session unless taken over, rotate the session id."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        failures = await tx.conn.scalar(
            select(func.count()).where(
                t.login_failures.c.shop_id == shop_id,
                t.login_failures.c.username == username,
                t.login_failures.c.at > now - LOGIN_FAILURE_WINDOW,
            )
        )
        if (failures or 0) >= MAX_LOGIN_FAILURES:
            raise errors.Throttled(retry_after_s=int(LOGIN_FAILURE_WINDOW.total_seconds()))
        row = (
            await tx.conn.execute(
                select(t.accounts).where(
                    t.accounts.c.shop_id == shop_id, t.accounts.c.username == username
                )
            )
        ).first()
        if row is None or not _verify(ctx, row.password_hash, password):
            await tx.conn.execute(
                insert(t.login_failures).values(shop_id=shop_id, username=username, at=now)
            )
            await tx.commit()
            raise errors.InvalidCredentials()
        live = select(t.staff_sessions.c.id).where(
            t.staff_sessions.c.account_id == row.id,
            t.staff_sessions.c.revoked_at.is_(None),
            t.staff_sessions.c.expires_at > now,
        )
        live_ids = list((await tx.conn.scalars(live)).all())
        if live_ids and not take_over:
            raise errors.AlreadyLoggedIn()
        if live_ids:
            await _revoke(tx.conn, live_ids, now, "taken_over")
        await tx.conn.execute(
            delete(t.login_failures).where(
                t.login_failures.c.shop_id == shop_id, t.login_failures.c.username == username
            )
        )
        session_id = secrets.token_urlsafe(32)
        await tx.conn.execute(
            insert(t.staff_sessions).values(
                id=session_id,
                shop_id=shop_id,
                account_id=row.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        (account,) = await account_views(tx.conn, t.accounts.c.id == row.id)
        if live_ids:
            tx.on_commit(lambda: _announce_closed(ctx, row.id, live_ids, "taken_over"))
        await tx.commit()
    return LoginResult(session_id=session_id, account=account)


def _verify(ctx: Context, password_hash: str, password: str) -> bool:
    try:
        return ctx.hasher.verify(password_hash, password)
    except VerificationError:
        return False


async def _revoke(conn: AsyncConnection, ids: list[str], now: datetime, reason: str) -> None:
    await conn.execute(
        update(t.staff_sessions)
        .where(t.staff_sessions.c.id.in_(ids))
        .values(revoked_at=now, revoked_reason=reason)
    )


async def _announce_closed(
    ctx: Context, account_id: int, session_ids: list[str], reason: str
) -> None:
    await ctx.broker.publish(
        account_topic(account_id),
        {"type": "session_closed", "reason": reason, "session_ids": session_ids},
    )


async def logout(ctx: Context, staff: Staff) -> None:
    """ACCT-4: the session dies server-side and its sockets are closed."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await _revoke(tx.conn, [staff.session_id], now, "logged_out")
        tx.on_commit(
            lambda: _announce_closed(ctx, staff.account_id, [staff.session_id], "logged_out")
        )
        await tx.commit()


async def authenticate(ctx: Context, session_id: str) -> Staff:
    """The live session behind a cookie, or auth.required."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        row = (
            await tx.conn.execute(
                select(t.staff_sessions.c.id, t.accounts)
                .join(t.accounts, t.accounts.c.id == t.staff_sessions.c.account_id)
                .where(
                    t.staff_sessions.c.id == session_id,
                    t.staff_sessions.c.revoked_at.is_(None),
                    t.staff_sessions.c.expires_at > now,
                )
            )
        ).first()
    if row is None:
        raise errors.Unauthenticated()
    return Staff(
        account_id=row.id_1,
        shop_id=row.shop_id,
        role=Role(row.role),
        group_id=row.group_id,
        session_id=session_id,
    )


def _consumer_signer(ctx: Context, shop_id: int) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.settings.secret_key, salt=f"consumer:{shop_id}")


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


async def consumer_profile(ctx: Context, consumer: ConsumerActor) -> dict[str, str]:
    """The consumer's public identity, as the widget shows it."""
    async with ctx.db.read() as tx:
        row = (
            await tx.conn.execute(
                select(t.consumers.c.uid, t.consumers.c.nickname).where(
                    t.consumers.c.id == consumer.consumer_id,
                    t.consumers.c.shop_id == consumer.shop_id,
                )
            )
        ).first()
    if row is None:
        raise errors.Unauthenticated("Invalid consumer token.")
    return {"uid": row.uid, "nickname": row.nickname}


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
        shop = (await tx.conn.execute(select(t.shops).where(t.shops.c.id == shop_id))).first()
        if shop is None:
            raise errors.NotFound(kind="shop")
        if identity is not None:
            uid, nickname, ts, sig = identity
            expected = identity_signature(shop.secret, uid, nickname, ts)
            fresh = abs(now.timestamp() - ts) <= IDENTITY_VALIDITY.total_seconds()
            if not (fresh and hmac.compare_digest(expected, sig)):
                raise errors.Unauthenticated("The identity signature is invalid or expired.")
            row = await _upsert_consumer(tx.conn, shop_id, uid, nickname, now)
        elif token is not None:
            actor = consumer_from_token(ctx, shop_id, token)
            found = (
                await tx.conn.execute(
                    select(t.consumers).where(
                        t.consumers.c.id == actor.consumer_id, t.consumers.c.shop_id == shop_id
                    )
                )
            ).first()
            if found is None:
                raise errors.Unauthenticated("Invalid consumer token.")
            row = found
        else:
            uid = "anon-" + secrets.token_hex(8)
            row = await _upsert_consumer(tx.conn, shop_id, uid, "访客" + uid[-4:], now)
        await tx.commit()
    actor = ConsumerActor(consumer_id=row.id, shop_id=shop_id)
    return ConsumerSession(consumer_token(ctx, actor), row.id, row.uid, row.nickname)


async def _upsert_consumer(
    conn: AsyncConnection, shop_id: int, uid: str, nickname: str, now: datetime
) -> Row[Any]:
    c = t.consumers.c
    row = (
        await conn.execute(select(t.consumers).where(c.shop_id == shop_id, c.uid == uid))
    ).first()
    if row is None:
        await conn.execute(
            insert(t.consumers).values(shop_id=shop_id, uid=uid, nickname=nickname, created_at=now)
        )
    elif row.nickname != nickname:
        await conn.execute(
            update(t.consumers).where(and_(c.id == row.id)).values(nickname=nickname)
        )
    return (await conn.execute(select(t.consumers).where(c.shop_id == shop_id, c.uid == uid))).one()
