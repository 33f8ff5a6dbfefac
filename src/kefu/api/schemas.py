"""HTTP request bodies: strict types, size-limited, extra fields refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from kefu.domain.messages import MAX_CLIENT_ID_CHARS, MAX_TEXT_CHARS
from kefu.gateway.protocol import Short

Name = Annotated[str, StringConstraints(min_length=1, max_length=50)]
# Ids are BIGINT columns: a larger id is bad_input here, not an overflow in the driver.
MAX_ID = 2**62
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the calendar starts in UTC
        raise ValueError("time out of range") from None


# A time with its offset, in UTC; one that is off the calendar in UTC is bad_input, not a 500.
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class In(BaseModel):
    # Strict: "3" or true is no number and 1 no boolean (bad_input). FastAPI validates the
    # decoded JSON in Python mode, where strict refuses strings for dates and enums too: such a
    # field would need `Strict(False)`; none exists today (API-2).
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        """PostgreSQL text cannot hold NUL, and no field needs it (bad_input)."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


class LoginIn(In):
    shop_id: DbId
    username: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    take_over: bool = False


class StatusIn(In):
    status: Literal["online", "busy", "break", "offline"]


class LimitIn(In):
    limit: int


Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AgentUpdateIn(In):
    display_name: Name | None = None
    has_im_permission: bool | None = None
    is_disabled: bool | None = None
    reception_limit: int | None = None


class AgentCreateIn(In):
    username: Name
    password: Password
    display_name: Name | None = None
    role: Literal["supervisor", "leader", "agent"] = "agent"
    group_id: DbId | None = None
    has_im_permission: bool = True
    reception_limit: int = 3


class PasswordIn(In):
    password: Password


class GroupIn(In):
    name: Name


class BatchIn(In):
    agent_ids: Annotated[list[DbId], Field(min_length=1, max_length=500)]
    action: Literal["suspend", "unsuspend", "move"]
    group_id: DbId | None = None


class SettingsIn(In):
    queue_order: Literal["fcfs", "lcfs"] | None = None
    auto_end: Literal["15min", "5min_warn"] | None = None
    bot_enabled: bool | None = None
    bot_mode: Literal["bot_first", "human_first"] | None = None
    welcome_message: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    entry_groups: (
        dict[Literal["product", "order", "after_sale", "live", "ad", "direct"], DbId] | None
    ) = None
    reception_limit_by: Literal["agent", "supervisor"] | None = None
    max_reception_limit: Annotated[int, Field(ge=1, le=50)] | None = None
    # ROUTE-6, OFFL-1, OFFL-4 (checked in depth by the domain: `bad_input`).
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    service_hours_enabled: bool | None = None
    service_hours: (
        dict[
            Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            Annotated[
                list[
                    Annotated[
                        list[Annotated[str, StringConstraints(max_length=5)]],
                        Field(min_length=2, max_length=2),
                    ]
                ],
                Field(max_length=4),
            ],
        ]
        | None
    ) = None
    holidays: (
        Annotated[list[Annotated[str, StringConstraints(max_length=10)]], Field(max_length=366)]
        | None
    ) = None
    special_days: (
        Annotated[
            dict[
                Annotated[str, StringConstraints(max_length=10)],
                Annotated[
                    list[
                        Annotated[
                            list[Annotated[str, StringConstraints(max_length=5)]],
                            Field(min_length=2, max_length=2),
                        ]
                    ],
                    Field(max_length=4),
                ],
            ],
            Field(max_length=366),
        ]
        | None
    ) = None
    offline_message: Annotated[str, StringConstraints(max_length=500)] | None = None
    offline_after_s: Annotated[int, Field(ge=0, le=86_400)] | None = None
    offline_auto_assign: bool | None = None
    offline_when_nobody_online: bool | None = None
    rating_forced: bool | None = None
    summary_required: bool | None = None
    alert_interval_s: Annotated[int, Field(ge=60, le=3600)] | None = None


class SendHttpIn(In):
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CLIENT_ID_CHARS)]
    # MSG-1: a product link's `body` is the product's external id (docs/protocol.md, Cards).
    kind: Literal["text", "emoji", "product_link"] = "text"
    body: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


class TransferIn(In):
    to_agent_id: DbId | None = None
    to_group_id: DbId | None = None


class InviteIn(In):
    agent_id: DbId


class IdentityIn(In):
    uid: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    nickname: Name
    ts: int
    sig: Annotated[str, StringConstraints(min_length=64, max_length=64)]


class ConsumerSessionIn(In):
    shop_id: DbId
    identity: IdentityIn | None = None
    token: Annotated[str, StringConstraints(max_length=512)] | None = None


__all__ = ["Short"]
