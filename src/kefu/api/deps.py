"""Request-scoped dependencies: the runtime, the signed-in staff member, cookie signing, and
the check that a write the cookie authenticates comes from one of our own pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

from fastapi import Request, Security
from fastapi.routing import APIRoute
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
# ACCT-4: one session per shop in the same browser. Login also sets a cookie named for its
# shop; a page that names its shop (this header, or `?shop=` on /ws/staff) is authenticated by
# that shop's cookie, so two shops' pages in one browser do not log each other out.
SHOP_HEADER = "X-Kefu-Shop"
SHOP_QUERY = "shop"
MAX_SHOP_DIGITS = 19
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON = "application/json"


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.runtime
    return rt


def ctx_of(conn: HTTPConnection) -> Context:
    return runtime(conn).ctx


def _signer(ctx: Context) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.settings.signing_key, salt="staff-session")


def sign_session(ctx: Context, session_id: str) -> str:
    return str(_signer(ctx).dumps(session_id))


def signed_session_id(ctx: Context, cookie: str | None) -> str | None:
    """The session id a cookie carries, if it is ours; whether it is live is not checked."""
    if not cookie:
        return None
    try:
        session_id = _signer(ctx).loads(cookie)
    except BadSignature:
        return None
    return session_id if isinstance(session_id, str) else None


def shop_cookie(shop_id: int) -> str:
    """ACCT-4: the name of the cookie holding this browser's session for one shop."""
    return f"{SESSION_COOKIE}_{shop_id}"


def named_shop(conn: HTTPConnection) -> int | None:
    """The shop the page says it works in (header, or `?shop=` for sockets), if any; a value
    that is no shop id is bad_input."""
    raw = conn.headers.get(SHOP_HEADER) or conn.query_params.get(SHOP_QUERY)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > MAX_SHOP_DIGITS or int(raw) < 1:
        raise errors.BadInput("The shop must be a positive id.", field=SHOP_HEADER)
    return int(raw)


def session_cookie(conn: HTTPConnection) -> str | None:
    """The session cookie for the shop the page names, else the last login's."""
    shop_id = named_shop(conn)
    name = shop_cookie(shop_id) if shop_id is not None else SESSION_COOKIE
    return conn.cookies.get(name)


async def staff_from_connection(conn: HTTPConnection) -> Staff:
    return _in_named_shop(conn, await _staff_from_cookie(ctx_of(conn), session_cookie(conn)))


def _in_named_shop(conn: HTTPConnection, staff: Staff) -> Staff:
    shop_id = named_shop(conn)
    if shop_id is not None and shop_id != staff.shop_id:
        raise errors.Unauthenticated()
    return staff


async def current_staff(
    request: Request, cookie: Annotated[str | None, Security(SESSION_SCHEME)]
) -> Staff:
    await same_site_write(request)
    if named_shop(request) is not None:
        cookie = session_cookie(request)
    staff = _in_named_shop(request, await _staff_from_cookie(ctx_of(request), cookie))
    await runtime(request).limits.staff_call(staff.session_id)
    return staff


def client_ip(conn: HTTPConnection) -> str:
    """The peer's address: the proxy's, unless uvicorn trusts its forwarded headers
    (FORWARDED_ALLOW_IPS; by default a proxy on the same machine)."""
    return conn.client.host if conn.client else ""


async def same_site_write(request: Request) -> None:
    """A write that the session cookie authenticates, or the login that sets it, comes from a
    page of an allowed origin, and carries JSON where the route takes a body.

    A browser sends the cookie with whatever another site's page posts here; it sends that
    page's Origin too, and a cross-site form can send a form or text body, never JSON.
    """
    if request.method in SAFE_METHODS:
        return
    if not origin_allowed(request):
        raise errors.Forbidden("Cross-site request refused.", code="csrf.origin")
    route = request.scope.get("route")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    takes_body = isinstance(route, APIRoute) and route.body_field is not None
    if takes_body and not _is_json(media_type):
        raise errors.BadInput(
            "Send the body as application/json.", content_type=media_type[:100], expected=JSON
        )


def _is_json(media_type: str) -> bool:
    return media_type == JSON or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def origin_allowed(conn: HTTPConnection) -> bool:
    """The page that made the request is this server's or in KEFU_ALLOWED_ORIGINS: its Origin,
    or, from a browser that sent none, its Referer's. With neither header the request is not a
    browser's (browsers send Origin with every write and WebSocket handshake): nothing to forge.
    """
    origin = conn.headers.get("origin")
    if origin is None:
        referer = conn.headers.get("referer")
        if referer is None:
            return True
        origin = _origin_of(referer)
    if origin in ctx_of(conn).settings.allowed_origins:
        return True
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc == conn.headers.get("host")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"


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
