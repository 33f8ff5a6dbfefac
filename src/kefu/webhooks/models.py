"""The answers of the webhook routes (API-2). A secret appears only in the answers of creation
and rotation."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kefu.api.models import Out
from kefu.storage.webhooks import AttemptRecord, DeliveryRecord, EndpointRecord
from kefu.webhooks.domain import DeliveryStatus, WebhookEvent


class WebhookEndpointOut(Out):
    id: int
    url: str
    events: list[WebhookEvent]
    is_enabled: bool
    previous_secret_until: datetime | None = Field(
        description="While a rotated secret still signs beside the new one: until when."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointListOut(Out):
    items: list[WebhookEndpointOut]
    max_endpoints: int


class WebhookSecretOut(WebhookEndpointOut):
    secret: str = Field(
        description="The signing secret (`whsec_…`): shown in this answer only, never again."
    )


class WebhookAttemptOut(Out):
    attempt: int
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer.")
    error: str | None = Field(
        description="Why no answer: `timeout`, `connection: …`, `webhook.address_refused`, "
        "`webhook.unresolvable`, `webhook.bad_url`."
    )
    duration_ms: int


class WebhookDeliveryOut(Out):
    id: int
    event_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event: WebhookEvent
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryPageOut(Out):
    items: list[WebhookDeliveryOut]
    total: int


def endpoint_out(record: EndpointRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "url": record.url,
        "events": list(record.events),
        "is_enabled": record.is_enabled,
        "previous_secret_until": record.previous_secret_until,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _attempt_out(record: AttemptRecord) -> dict[str, object]:
    return {
        "attempt": record.attempt,
        "at": record.at,
        "status_code": record.status_code,
        "error": record.error,
        "duration_ms": record.duration_ms,
    }


def delivery_out(record: DeliveryRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "event_id": record.event_id,
        "event": record.event,
        "status": record.status,
        "attempts": record.attempts,
        "created_at": record.created_at,
        "next_attempt_at": record.next_attempt_at,
        "last_attempt_at": record.last_attempt_at,
        "last_status_code": record.last_status_code,
        "last_error": record.last_error,
        "attempt_log": [_attempt_out(a) for a in record.attempt_log],
    }
