"""Request-scoped dependencies: the runtime, the signed-in staff member, cookie signing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyCookie
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import HTTPConnection

from kefu import errors
from kefu.services import accounts
from kefu.services.context import Context, Staff

if TYPE_CHECKING:
    from kefu.app import Runtime

SESSION_COOKIE = "kefu_session"
# Documents the cookie as /openapi.json's security scheme of every staff route (API-2); it
# only reads the cookie, and a missing one is refused below with the product's error model.
SESSION_SCHEME = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="staff_session",
    description="The signed staff session, set by POST /api/auth/login.",
    auto_error=False,
)


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.runtime
    return rt


def ctx_of(conn: HTTPConnection) -> Context:
    return runtime(conn).ctx


def _signer(ctx: Context) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.settings.signing_key, salt="staff-session")


def sign_session(ctx: Context, session_id: str) -> str:
    return str(_signer(ctx).dumps(session_id))


async def staff_from_connection(conn: HTTPConnection) -> Staff:
    return await _staff_from_cookie(ctx_of(conn), conn.cookies.get(SESSION_COOKIE))


async def current_staff(
    request: Request, cookie: Annotated[str | None, Security(SESSION_SCHEME)]
) -> Staff:
    return await _staff_from_cookie(ctx_of(request), cookie)


async def _staff_from_cookie(ctx: Context, cookie: str | None) -> Staff:
    if not cookie:
        raise errors.Unauthenticated()
    try:
        session_id = _signer(ctx).loads(cookie)
    except BadSignature as exc:
        raise errors.Unauthenticated() from exc
    if not isinstance(session_id, str):
        raise errors.Unauthenticated()
    return await accounts.authenticate(ctx, session_id)
