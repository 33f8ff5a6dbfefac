"""Request-scoped dependencies: the runtime, the signed-in staff member, cookie signing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import HTTPConnection

from kefu import errors
from kefu.services import accounts
from kefu.services.context import Context, Staff

if TYPE_CHECKING:
    from kefu.app import Runtime

SESSION_COOKIE = "kefu_session"


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.runtime
    return rt


def ctx_of(conn: HTTPConnection) -> Context:
    return runtime(conn).ctx


def _signer(ctx: Context) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.settings.secret_key, salt="staff-session")


def sign_session(ctx: Context, session_id: str) -> str:
    return str(_signer(ctx).dumps(session_id))


async def staff_from_connection(conn: HTTPConnection) -> Staff:
    ctx = ctx_of(conn)
    cookie = conn.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise errors.Unauthenticated()
    try:
        session_id = _signer(ctx).loads(cookie)
    except BadSignature as exc:
        raise errors.Unauthenticated() from exc
    if not isinstance(session_id, str):
        raise errors.Unauthenticated()
    return await accounts.authenticate(ctx, session_id)


async def current_staff(request: Request) -> Staff:
    return await staff_from_connection(request)
