"""Sales attribution (DATA-7, Alibaba's 询单转化): who was served by a human on a day, who of
them paid afterwards, and how many consumers who came to ask turned into buyers. Pure: the
services and orders come in as plain records, the day and its time zone as arguments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

# DATA-7: a consumer inquires when they had no order in this shop in the 21 days before.
INQUIRY_LOOKBACK = timedelta(days=21)


@dataclass(frozen=True, slots=True)
class Service:
    """A human took the consumer's conversation (an assignment or a transfer) at `at`."""

    consumer_id: int
    agent_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Order:
    consumer_id: int
    amount: Decimal
    ordered_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class SalesFigures:
    """One day's figures, for the shop or for one agent. `sales` is the amount paid by the
    served consumers after being served; `conversion_rate` is None when nobody inquired."""

    served: int
    inquiring: int
    paying: int
    inquiring_paying: int
    sales: Decimal

    @property
    def conversion_rate(self) -> float | None:
        return self.inquiring_paying / self.inquiring if self.inquiring else None


@dataclass(frozen=True, slots=True)
class SalesDay:
    day: date
    shop: SalesFigures
    by_agent: dict[int, SalesFigures]


def parse_amount(text: str) -> Decimal:
    """An order's amount as imported (API-1, text); what is not a number counts as nothing."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as [start, end) instants."""
    return (
        datetime.combine(day, time(), tz),
        datetime.combine(day + timedelta(days=1), time(), tz),
    )


def sales_day(
    services: Iterable[Service], orders: Sequence[Order], *, day: date, tz: ZoneInfo
) -> SalesDay:
    """DATA-7 for the local `day` in the shop's time zone `tz`:

    - served consumers: those a human served (was assigned or transferred their conversation)
      during the day; a consumer counts once, at the first time they were served that day;
    - paying consumers and sales: served consumers who paid (`paid_at`) later the same day, at
      or after that first service, and the sum of those orders' amounts (what was paid that
      day: a later refund or cancellation is not subtracted);
    - inquiring consumers: served consumers with no order in this shop (`ordered_at`) in the
      21 days before that first service;
    - conversion rate = paying / inquiring consumers, where the paying are counted among the
      inquiring ones (`inquiring_paying`), so that the rate never exceeds 100%.

    Per agent, a consumer is credited to the agent who served them FIRST that day (the one who
    took the inquiry), never to several agents, so the agents' figures add up to the shop's.
    """
    start, end = day_bounds(day, tz)
    first: dict[int, Service] = {}
    for s in sorted(services, key=lambda s: s.at):
        if start <= s.at < end and s.consumer_id not in first:
            first[s.consumer_id] = s
    by_consumer: dict[int, list[Order]] = {}
    for o in orders:
        by_consumer.setdefault(o.consumer_id, []).append(o)
    outcomes = {c: _outcome(s, by_consumer.get(c, []), end=end) for c, s in first.items()}
    agents = sorted({s.agent_id for s in first.values()})
    return SalesDay(
        day,
        _figures(outcomes.values()),
        {a: _figures(o for c, o in outcomes.items() if first[c].agent_id == a) for a in agents},
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    inquiring: bool
    paid: Decimal | None  # None: did not pay after being served that day


def _outcome(served: Service, orders: Sequence[Order], *, end: datetime) -> _Outcome:
    since = served.at - INQUIRY_LOOKBACK
    inquiring = not any(since <= o.ordered_at < served.at for o in orders)
    paid = [o.amount for o in orders if o.paid_at is not None and served.at <= o.paid_at < end]
    return _Outcome(inquiring, sum(paid, Decimal(0)) if paid else None)


def _figures(outcomes: Iterable[_Outcome]) -> SalesFigures:
    served = inquiring = paying = inquiring_paying = 0
    sales = Decimal(0)
    for o in outcomes:
        served += 1
        inquiring += o.inquiring
        if o.paid is not None:
            paying += 1
            inquiring_paying += o.inquiring
            sales += o.paid
    return SalesFigures(served, inquiring, paying, inquiring_paying, sales)
