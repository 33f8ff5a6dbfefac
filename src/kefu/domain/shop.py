"""A shop's settings with their defaults (SET-1); stored as JSON, read through this type."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kefu import errors
from kefu.domain.accounts import check_reception_limit
from kefu.domain.conversation import AutoEndMode
from kefu.domain.presence import MAX_RECEPTION_LIMIT, MIN_RECEPTION_LIMIT
from kefu.domain.routing import QueueOrder
from kefu.offline import domain as offline
from kefu.supervision import alerts_domain as alerts

DEFAULT_WELCOME = "您好，欢迎光临！请问有什么可以帮您？"
ENTRY_SOURCES = ("product", "order", "after_sale", "live", "ad", "direct")
# PRES-4: who sets an agent's reception limit: the agent (Feige) or their supervisors (Xixi).
LIMIT_SETTERS = ("agent", "supervisor")


@dataclass(frozen=True, slots=True)
class ShopSettings:
    queue_order: QueueOrder = QueueOrder.FCFS
    auto_end: AutoEndMode = AutoEndMode.STANDARD
    bot_enabled: bool = False
    bot_mode: str = "bot_first"
    welcome_message: str = DEFAULT_WELCOME
    entry_groups: dict[str, int] = field(default_factory=dict)
    reception_limit_by: str = "agent"
    max_reception_limit: int = MAX_RECEPTION_LIMIT
    # ROUTE-6: service hours in the shop's time zone (IANA); not enabled: always open.
    time_zone: str = offline.DEFAULT_TIME_ZONE
    service_hours_enabled: bool = False
    service_hours: dict[str, list[list[str]]] = field(default_factory=dict)
    holidays: list[str] = field(default_factory=list)
    special_days: dict[str, list[list[str]]] = field(default_factory=dict)
    offline_message: str = ""  # ROUTE-6: shop-authored, posted outside service hours
    # OFFL-1: queued this long with nobody picking up makes an offline message; 0: never.
    offline_after_s: int = 0
    offline_auto_assign: bool = False  # OFFL-4
    # OFFL-1: with nobody eligible online, a human request becomes an offline message at once
    # (seed 002) instead of queueing for the first agent to come online (ROUTE-2, seed 000).
    offline_when_nobody_online: bool = False
    # RATE-1: the rating card at the end of every human conversation.
    rating_forced: bool = False
    # CONV-10: no end without the consultation summary.
    summary_required: bool = False
    # DATA-4: the preset's targets unless the owner edited them (validated by the analytics).
    kpi_preset: str = "feige"
    kpi_targets: tuple[dict[str, Any], ...] = ()
    # DATA-6: the owner's intent taxonomy; empty means the default one.
    intent_taxonomy: tuple[dict[str, Any], ...] = ()
    # LIVE-2: alerts are evaluated this often (seed 001: every 3 minutes).
    alert_interval_s: int = alerts.DEFAULT_INTERVAL_S

    def __post_init__(self) -> None:
        self.hours  # noqa: B018 -- validates ROUTE-6's values
        alerts.check_interval(self.alert_interval_s)
        if not 0 <= self.offline_after_s <= offline.MAX_OFFLINE_AFTER_S:
            raise ValueError(f"offline_after_s is 0 to {offline.MAX_OFFLINE_AFTER_S}")
        if len(self.offline_message) > offline.MAX_OFFLINE_MESSAGE_CHARS:
            raise ValueError(
                f"offline_message is at most {offline.MAX_OFFLINE_MESSAGE_CHARS} characters"
            )
        if self.reception_limit_by not in LIMIT_SETTERS:
            raise ValueError(f"reception_limit_by is one of {', '.join(LIMIT_SETTERS)}")
        if not MIN_RECEPTION_LIMIT <= self.max_reception_limit <= MAX_RECEPTION_LIMIT:
            raise ValueError(
                f"max_reception_limit is {MIN_RECEPTION_LIMIT} to {MAX_RECEPTION_LIMIT}"
            )

    @property
    def bot_first(self) -> bool:
        """BOT-3: the bot is on and answers a consumer's messages before any human does."""
        return self.bot_enabled and self.bot_mode == "bot_first"

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ShopSettings:
        data = data or {}
        return cls(
            queue_order=QueueOrder(data.get("queue_order", QueueOrder.FCFS)),
            auto_end=AutoEndMode(data.get("auto_end", AutoEndMode.STANDARD)),
            bot_enabled=bool(data.get("bot_enabled", False)),
            bot_mode=str(data.get("bot_mode", "bot_first")),
            welcome_message=str(data.get("welcome_message", DEFAULT_WELCOME)),
            entry_groups={str(k): int(v) for k, v in (data.get("entry_groups") or {}).items()},
            reception_limit_by=str(data.get("reception_limit_by", "agent")),
            max_reception_limit=int(data.get("max_reception_limit", MAX_RECEPTION_LIMIT)),
            time_zone=str(data.get("time_zone", offline.DEFAULT_TIME_ZONE)),
            service_hours_enabled=bool(data.get("service_hours_enabled", False)),
            service_hours=_windows_json(data.get("service_hours")),
            holidays=[str(d) for d in data.get("holidays") or []],
            special_days=_windows_json(data.get("special_days")),
            offline_message=str(data.get("offline_message", "")),
            offline_after_s=int(data.get("offline_after_s") or 0),
            offline_auto_assign=bool(data.get("offline_auto_assign", False)),
            offline_when_nobody_online=bool(data.get("offline_when_nobody_online", False)),
            rating_forced=bool(data.get("rating_forced", False)),
            summary_required=bool(data.get("summary_required", False)),
            kpi_preset=str(data.get("kpi_preset", "feige")),
            kpi_targets=tuple(dict(t) for t in data.get("kpi_targets") or ()),
            intent_taxonomy=tuple(dict(t) for t in data.get("intent_taxonomy") or ()),
            alert_interval_s=int(data.get("alert_interval_s") or alerts.DEFAULT_INTERVAL_S),
        )

    @property
    def hours(self) -> offline.ServiceHours:
        """ROUTE-6: the service-hours rule these settings describe."""
        return offline.service_hours(
            enabled=self.service_hours_enabled,
            time_zone=self.time_zone,
            weekly=self.service_hours,
            holidays=self.holidays,
            special_days=self.special_days,
        )

    def check_reception_limit(self, limit: int, *, set_by: str, field: str = "limit") -> None:
        """PRES-4: the shop decides who sets reception limits, the agent (Feige, the default)
        or their supervisors (Xixi); the other is refused, naming who does. Either way a limit
        is 1 to the shop's maximum (PRES-2)."""
        if set_by != self.reception_limit_by:
            raise errors.Forbidden(
                f"In this shop the {self.reception_limit_by} sets the reception limits.",
                code=f"reception_limit.set_by_{self.reception_limit_by}",
            )
        check_reception_limit(limit, field=field, maximum=self.max_reception_limit)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **changes: Any) -> ShopSettings:
        """SET-1: apply a partial update, validating each value."""
        try:
            merged = {**self.to_json(), **{k: v for k, v in changes.items() if v is not None}}
            return replace(ShopSettings.from_json(merged))
        except (ValueError, TypeError) as exc:
            raise errors.BadInput(str(exc)) from exc


def _windows_json(raw: Any) -> dict[str, list[list[str]]]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): [[str(v) for v in pair] for pair in windows] for k, windows in raw.items()}


def group_for_entry(
    settings: ShopSettings, source: str, default_group_id: int | None
) -> int | None:
    """ENTRY-1: the entry's source maps to a reception group; otherwise the shop's first group."""
    return settings.entry_groups.get(source, default_group_id)
