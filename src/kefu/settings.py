"""Process configuration, read from KEFU_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///kefu.db"
    redis_url: str | None = None
    secret_key: str = Field(default="change-me-in-production-please-0123456789", min_length=16)
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".kefu")
    allowed_origins: list[str] = Field(default_factory=list)
    # Staff sockets without an Origin header are refused (4403), unless API clients need them.
    allow_staff_sockets_without_origin: bool = False
    cookie_secure: bool = False
    scheduler_interval_s: float = 1.0
    # HTTP request bodies (uploads have their own bounds); larger ones are 413 too_large.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    ws_max_frame_bytes: int = 64 * 1024
    ws_auth_timeout_s: float = 10.0
    ws_ping_interval_s: float = 20.0
    message_batch_max: int = 200
    log_json: bool = False
