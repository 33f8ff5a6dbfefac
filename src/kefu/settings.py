"""Process configuration, read from KEFU_* environment variables, and the secret key that the
data folder keeps when none is configured."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import tempfile
from pathlib import Path

import limits
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_BYTES = 32
# The rate limits, each set by KEFU_RATE_<NAME>; "off" lifts one.
RATE_LIMITS = ("consumer_messages", "consumer_sessions", "conversations", "sockets", "staff_calls")
RATE_OFF = "off"
KEY_FILE = "secret.key"


class Settings(BaseSettings):
    # No value in error messages: one may be the secret key.
    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite+aiosqlite:///kefu.db"
    redis_url: str | None = None
    # The fan-out's health check: a PING on the subscriber connection this often, and a pong
    # missing after the timeout counts as a lost connection (reconnect, then clients resync).
    redis_health_check_interval_s: float = Field(default=5.0, gt=0)
    redis_health_check_timeout_s: float = Field(default=3.0, gt=0)
    # Bounds connecting to Redis and each command on it (a publish is then dropped).
    redis_socket_timeout_s: float = Field(default=3.0, gt=0)
    # The fan-out's channels are named so: deployments (or benchmarks) sharing one Redis keep
    # apart by their prefixes, since pub/sub ignores the database number in the URL.
    redis_channel_prefix: str = Field(default="kefu:", min_length=1)
    # Signs staff sessions and consumer tokens. None: the data folder's (`with_secret_key`).
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".kefu")
    # `kefu demo`: the demo shop's page signs its demo buyer's identity, as a shop's own site
    # signs its signed-in buyers, so the widget opens as that buyer (never on for a real shop).
    demo_buyer: bool = False
    allowed_origins: list[str] = Field(default_factory=list)
    # Staff sockets without an Origin header are refused (4403), unless API clients need them.
    allow_staff_sockets_without_origin: bool = False
    cookie_secure: bool = False
    scheduler_interval_s: float = 1.0
    # PostgreSQL: how often each process samples the database's clock, its time (issue 17).
    clock_sync_interval_s: float = Field(default=15.0, gt=0)
    # PRES-1: an agent whose last staff socket has been gone this long is not routed to; each
    # process refreshes its sockets' accounts in the database every third of it.
    presence_grace_s: float = Field(default=60.0, gt=0)
    # CONV-7: a transfer offered to a named agent and not decided within this expires.
    transfer_timeout_s: float = Field(default=60.0, gt=0)
    # HTTP request bodies (uploads have their own bounds); larger ones are 413 too_large.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    ws_max_frame_bytes: int = 64 * 1024
    ws_auth_timeout_s: float = 10.0
    ws_ping_interval_s: float = 20.0
    # Offered permessage-deflate: smaller frames on slow links, about twice the memory of an
    # idle socket (`kefu bench idle`).
    ws_per_message_deflate: bool = True
    message_batch_max: int = 200
    # Group commit, as PostgreSQL's commit_delay and commit_siblings: a batch goes once
    # `message_batch_enough` sends wait, or `message_batch_every_ms` after the previous one
    # began, whichever comes first (a send after a quiet spell is written at once). A batch
    # costs about 1 ms of CPU whatever its size (issue 16): at 500 messages/s, batches every
    # 20 ms rather than 10 save a fifth of the server's CPU; under heavier traffic a batch fills
    # sooner and waits less, so that latency at 2,000 messages/s does not grow.
    message_batch_every_ms: float = Field(default=20.0, ge=0, le=1000)
    message_batch_enough: int = Field(default=16, ge=1)
    # Bounds of every wait on the database (storage/db.py DbTimeouts); beyond them a request
    # is answered `unavailable` with `retryable: true`.
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_s: float = Field(default=15.0, gt=0)
    db_lock_timeout_s: float = Field(default=10.0, gt=0)
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    db_busy_timeout_s: float = Field(default=30.0, gt=0)
    db_idle_in_transaction_timeout_s: float = Field(default=60.0, gt=0)
    # One JSON object per log line (with the request id), for log collectors; `kefu serve`.
    log_json: bool = False
    # GET /metrics (Prometheus): with a token, callers must send `Authorization: Bearer TOKEN`;
    # without one, only callers on this machine's loopback are answered.
    metrics_token: str | None = None
    # Rate limits (docs/protocol.md, Rate limits), in the `limits` notation: "N/period", several
    # joined by ";" (each must hold), or "off". Counted in Redis when redis_url is set.
    rate_consumer_messages: str = "20/10 seconds;60/minute"  # per conversation
    rate_consumer_sessions: str = "30/minute;300/hour"  # per IP
    rate_conversations: str = "30/minute;300/hour"  # `open`/`request_human` frames per IP
    rate_sockets: str = "60/minute"  # WebSocket connections per IP, before authentication
    rate_staff_calls: str = "100/10 seconds;1000/10 minutes"  # per staff session
    # Where the counters live in Redis (processes sharing it must share the prefix).
    rate_key_prefix: str = "kefu:rate"
    # API-1: the largest product or order file an import takes (HTTP and `kefu import`); a
    # larger one is refused before any row is read.
    import_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # MSG-1: pictures and files in chats. Stored under KEFU_FILES_DIR (default: the data
    # folder's `files`); images at most max_image_bytes and max_image_pixels (checked from the
    # header, before decoding), other files (text, archives) at most max_file_bytes.
    files_dir: Path | None = None
    max_image_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    thumbnail_px: int = Field(default=320, ge=16, le=2048)
    # API-2: signed webhooks. Targets on private, loopback, link-local and other non-public
    # addresses are refused at save and at delivery unless this allow-list names them: CIDRs
    # separated by commas (e.g. "10.1.0.0/16,127.0.0.1/32").
    webhook_allow_nets: str = ""
    # One delivery attempt (connect, send, answer) within this; slower counts as failed.
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_max_endpoints: int = Field(default=10, ge=1, le=100)
    # The delivery log keeps settled deliveries (delivered or failed) this many days.
    webhook_log_days: int = Field(default=30, ge=1)

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"the secret key must be at least {MIN_SECRET_KEY_BYTES} bytes; leave it unset to "
                "have one generated and kept in the data folder (KEFU_DATA_DIR)"
            )
        return value

    @field_validator(*(f"rate_{name}" for name in RATE_LIMITS))
    @classmethod
    def _rate(cls, value: str) -> str:
        """Refused at start, not at the first request it would apply to."""
        if value.strip() != RATE_OFF:
            items = limits.parse_many(value)
            if any(item.amount < 1 for item in items):
                raise ValueError("a rate limit lets at least 1 through per period")
        return value

    @field_validator("webhook_allow_nets")
    @classmethod
    def _networks(cls, value: str) -> str:
        """Refused at start: every item a CIDR (API-2)."""
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)
        return value

    @property
    def signing_key(self) -> str:
        if self.secret_key is None:
            raise RuntimeError("No secret key: use with_secret_key(settings) first.")
        return self.secret_key


def with_secret_key(settings: Settings) -> Settings:
    """The settings with a secret key: the configured one, or the data folder's."""
    if settings.secret_key is not None:
        return settings
    return settings.model_copy(update={"secret_key": load_or_create_secret_key(settings.data_dir)})


def load_or_create_secret_key(data_dir: Path) -> str:
    """The key kept in `data_dir`, made on the first call; the file is the owner's only (0600).
    Processes sharing the folder share the key; other machines need KEFU_SECRET_KEY."""
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_secret_key(path)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text().strip()
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ValueError(
            f"{path} holds a secret key shorter than {MIN_SECRET_KEY_BYTES} bytes; delete it to "
            "have a new one made (everyone signed in must then sign in again)"
        )
    return key


def _create_secret_key(path: Path) -> None:
    """Written whole to a private temporary file, then linked into place: a process starting
    at the same moment either links first or reads the winner's key, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
