"""The composition root: builds everything from Settings and a Clock. Importing this module
creates nothing; `create_app` does."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import WebSocketRoute
from starlette.staticfiles import StaticFiles

from kefu import __version__
from kefu.analytics.api import router as analytics_router
from kefu.analytics.list_api import router as analytics_list_router
from kefu.api import body_limit
from kefu.api import errors as api_errors
from kefu.api import rate_limits as api_rate_limits
from kefu.api.health import router as health_router
from kefu.api.permission_routes import router as permission_router
from kefu.api.preference_routes import router as preference_router
from kefu.api.request_ids import RequestIds
from kefu.api.responses import JsonOut
from kefu.api.routes import router
from kefu.api.settings_routes import router as settings_router
from kefu.bot.api import router as bot_router
from kefu.bot.responder import BotResponder
from kefu.broker.base import Broker
from kefu.broker.memory import MemoryBroker
from kefu.broker.redis import RedisBroker
from kefu.catalog.api import router as catalog_router
from kefu.clock import Clock, FollowingClock, SystemClock
from kefu.customers.api import router as customers_router
from kefu.files.api import UPLOAD_PATHS
from kefu.files.api import router as files_router
from kefu.gateway.direct import DirectSockets
from kefu.gateway.hub import Hub
from kefu.gateway.sockets import consumer_socket, quiet_client_errors, staff_socket
from kefu.offline.api import router as offline_router
from kefu.quality.api import router as quality_router
from kefu.ratings.api import router as ratings_router
from kefu.scheduler.clock_sync import ClockSync
from kefu.scheduler.heartbeat import Heartbeat
from kefu.scheduler.loop import Scheduler
from kefu.search.api import router as search_router
from kefu.services.context import Context
from kefu.services.messages import MessageWriter
from kefu.services.queue_notifier import QueueNotifier
from kefu.services.rate_limits import RateLimits
from kefu.settings import Settings, with_secret_key
from kefu.simulation.driver import LivelyDemo
from kefu.storage.db import Database, DbTimeouts
from kefu.summaries.api import router as summaries_router
from kefu.supervision.alerts_api import router as alerts_router
from kefu.supervision.api import router as supervision_router
from kefu.supervision.monitor import LiveMonitor
from kefu.webhooks.api import router as webhooks_router
from kefu.webhooks.worker import WebhookWorker

STATIC_DIR = Path(__file__).parent / "static"
# Uploads bound their own bodies as they read them (api/uploads.py: 10 MB, 2 MB; catalog
# imports: KEFU_IMPORT_MAX_BYTES; pictures and files in chats: the larger of
# KEFU_MAX_IMAGE_BYTES and KEFU_MAX_FILE_BYTES).
SELF_BOUNDED_PATHS = (
    frozenset(
        {
            "/api/kb/import",
            "/api/quick-phrases/import",
            "/api/catalog/products/import",
            "/api/catalog/orders/import",
        }
    )
    | UPLOAD_PATHS
)
# Routes that answer without the database (or report its outage in their own model).
NO_DATABASE_PATHS = frozenset({"/healthz", "/readyz"})


# The WebSocket close code of a server shutdown: "service restart", come back and resync.
CLOSE_SHUTDOWN = 1012
# How long a shutdown waits for sockets to answer their last frames before closing them.
DRAIN_WITHIN_S = 10.0


@dataclass
class Runtime:
    ctx: Context
    hub: Hub
    writer: MessageWriter
    scheduler: Scheduler
    notifier: QueueNotifier
    bot: BotResponder
    limits: RateLimits
    heartbeat: Heartbeat
    webhooks: WebhookWorker  # API-2
    # PostgreSQL without an injected clock: the database's time for every process (issue 17).
    clock_sync: ClockSync | None = None
    # LIVE-1: this process's monitoring pages, pushed coalesced views.
    monitor: LiveMonitor | None = None
    # `kefu demo --lively`: the demo shop's simulated traffic.
    lively: LivelyDemo | None = None

    async def drain(self) -> None:
        """A graceful shutdown, once the server stopped taking connections: release claimed
        timers at once (an interrupted claim rolls back, so another process takes the timer),
        answer each socket's current frame and close it with 1012, then commit and
        acknowledge the sends still queued (HTTP ones). The demo's simulated traffic stops
        first: it sends nothing more."""
        if self.lively is not None:
            await self.lively.stop()
        await self.scheduler.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hub.shut_down(CLOSE_SHUTDOWN), DRAIN_WITHIN_S)
        await self.writer.stop()


def build_runtime(
    settings: Settings, *, clock: Clock | None = None, rng: random.Random | None = None
) -> Runtime:
    settings = with_secret_key(settings)
    broker: Broker = MemoryBroker()
    if settings.redis_url:
        broker = RedisBroker(
            settings.redis_url,
            health_check_interval_s=settings.redis_health_check_interval_s,
            health_check_timeout_s=settings.redis_health_check_timeout_s,
            socket_timeout_s=settings.redis_socket_timeout_s,
            channel_prefix=settings.redis_channel_prefix,
        )
    db = Database(settings.database_url, timeouts=DbTimeouts.of(settings))
    clock_sync = None
    if clock is None and not db.is_sqlite:
        clock = FollowingClock()
        clock_sync = ClockSync(clock, db, interval_s=settings.clock_sync_interval_s)
    ctx = Context(
        db=db,
        clock=clock or SystemClock(),
        broker=broker,
        settings=settings,
        rng=rng or random.Random(),
    )
    notifier = QueueNotifier(ctx)
    ctx.on_queue_changed = notifier.changed
    bot = BotResponder(ctx)
    ctx.responder = bot
    return Runtime(
        ctx=ctx,
        hub=Hub(broker),
        writer=MessageWriter(ctx),
        scheduler=Scheduler(ctx),
        notifier=notifier,
        bot=bot,
        clock_sync=clock_sync,
        limits=RateLimits(settings),
        heartbeat=Heartbeat(ctx),
        webhooks=WebhookWorker(ctx),
        monitor=LiveMonitor(ctx),
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    run_scheduler: bool = True,
    lively: float | None = None,
    lively_rng: random.Random | None = None,
) -> FastAPI:
    """`lively`: play the demo shop's traffic at this speed while serving (`kefu demo`)."""
    runtime = build_runtime(settings, clock=clock, rng=rng)
    if lively is not None:
        runtime.lively = LivelyDemo(runtime.ctx, runtime.writer, speed=lively, rng=lively_rng)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        quiet_client_errors()
        if runtime.clock_sync is not None:
            await runtime.clock_sync.start()
        await runtime.ctx.broker.start(runtime.hub.handle, runtime.hub.resync)
        await runtime.writer.start()
        runtime.heartbeat.start()  # PRES-1
        if run_scheduler:
            await runtime.scheduler.start()
            runtime.webhooks.start()  # API-2
        if runtime.lively is not None:
            await runtime.lively.start()
        try:
            yield
        finally:
            if runtime.lively is not None:
                await runtime.lively.stop()
            await runtime.scheduler.stop()
            await runtime.webhooks.stop()
            await runtime.heartbeat.stop()
            if runtime.monitor is not None:
                await runtime.monitor.stop()
            await runtime.notifier.stop()
            await runtime.writer.stop()
            await runtime.ctx.broker.stop()
            if runtime.clock_sync is not None:
                await runtime.clock_sync.stop()
            await runtime.limits.close()
            await runtime.ctx.db.dispose()

    app = FastAPI(
        title="kefu",
        version=__version__,
        lifespan=lifespan,
        default_response_class=JsonOut,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    api_errors.install(app)
    app.add_middleware(
        body_limit.BodyLimit,
        max_bytes=settings.http_max_body_bytes,
        self_bounded=SELF_BOUNDED_PATHS,
    )
    app.add_middleware(
        DirectSockets, endpoints={"/ws/staff": staff_socket, "/ws/consumer": consumer_socket}
    )
    app.add_middleware(RequestIds)  # outermost: refusals of the body limit carry the id too
    app.include_router(health_router)
    app.include_router(router)
    app.include_router(bot_router)
    app.include_router(catalog_router)
    app.include_router(analytics_router)
    app.include_router(settings_router)
    app.include_router(permission_router)
    app.include_router(offline_router)
    app.include_router(ratings_router)
    app.include_router(summaries_router)
    app.include_router(files_router)
    app.include_router(customers_router)
    app.include_router(search_router)
    app.include_router(analytics_list_router)
    app.include_router(quality_router)
    app.include_router(alerts_router)
    app.include_router(preference_router)
    app.include_router(webhooks_router)
    app.include_router(supervision_router)
    # Served by DirectSockets before any routing; listed here as the app's routes.
    app.router.routes.append(WebSocketRoute("/ws/staff", staff_socket))
    app.router.routes.append(WebSocketRoute("/ws/consumer", consumer_socket))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = FastAPI.openapi(app)
            doc = body_limit.document(doc, self_bounded=SELF_BOUNDED_PATHS)
            doc = api_rate_limits.document(doc)
            app.openapi_schema = api_errors.document_outages(doc, except_paths=NO_DATABASE_PATHS)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        """Swagger UI from kefu's own static files (built with the front end), so the API
        docs work without the internet."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="kefu API",
            swagger_js_url="/api-docs/swagger-ui-bundle.js",
            swagger_css_url="/api-docs/swagger-ui.css",
            swagger_favicon_url="/api-docs/favicon-32x32.png",
        )

    _mount_front_end(app)
    return app


def _mount_front_end(app: FastAPI) -> None:
    """The built web front end; every other non-API path falls back to index.html (SPA)."""
    assets = STATIC_DIR / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def front_end(path: str) -> Response:
        if path.startswith(("api/", "ws/")):
            return JsonOut(
                {"code": "not_found", "message": "Not found.", "params": {}}, status_code=404
            )
        candidate = (STATIC_DIR / path).resolve()
        if path and candidate.is_file() and STATIC_DIR.resolve() in candidate.parents:
            return FileResponse(candidate)
        index = STATIC_DIR / "index.html"
        if index.is_file():
            return FileResponse(index)
        return Response(
            "kefu: the web front end is not built (run `make install`).", media_type="text/plain"
        )
