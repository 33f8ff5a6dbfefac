"""DATA-7, pure: the sales attribution of one day, computed by hand for a small shop.

The day is 2026-01-05 in Shanghai (UTC+8). Agent 1 is A, agent 2 is B.
- c1: A serves at 10:00; no order before; pays 99.50 at 11:00 (and 5.00 the next day).
- c2: B serves at 09:00; ordered 10 days before (not inquiring) and paid that order 88.00
  at 08:00 today (before being served: not counted); pays 20.00 at 12:00.
- c3: A serves at 13:00, then B at 14:00 (transfer: still A's); last ordered 22 days before
  (inquiring); pays 15.00 at 23:30.
- c4: B served yesterday at 23:00; pays 50.00 today: yesterday's consumer, who paid no
  yesterday; today not served.
- c5: A serves at 20:00, inquiring, pays nothing.
Today: served 4, inquiring 3 (c1 c3 c5), paying 3 (c1 c2 c3), inquiring and paying 2, sales
134.50, conversion 2/3. A: 3, 3, 2, 2, 114.50, 2/3. B: 1, 0, 1, 0, 20.00, none.
Yesterday: c4 only: served 1, inquiring 1, paying 0, conversion 0.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from kefu.analytics.sales import Order, SalesFigures, Service, parse_amount, sales_day

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 1, 5)


def at(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    return datetime(2026, 1, 5, hour, minute, tzinfo=TZ) + timedelta(days=days)


SERVICES = [
    Service(1, 1, at(10)),
    Service(2, 2, at(9)),
    Service(3, 1, at(13)),
    Service(3, 2, at(14)),
    Service(4, 2, at(23, days=-1)),
    Service(5, 1, at(20)),
]
ORDERS = [
    Order(1, Decimal("99.50"), at(10, 30), at(11)),
    Order(1, Decimal("5.00"), at(0, 10, days=1), at(0, 30, days=1)),
    Order(2, Decimal("88.00"), at(9, days=-10), at(8)),
    Order(2, Decimal("20.00"), at(11, 50), at(12)),
    Order(3, Decimal("9.00"), at(12, days=-22), at(12, days=-22)),
    Order(3, Decimal("15.00"), at(23, 20), at(23, 30)),
    Order(4, Decimal("50.00"), at(8), at(8, 5)),
]


def test_data_7_hand_computed_day_for_the_shop() -> None:
    today = sales_day(SERVICES, ORDERS, day=DAY, tz=TZ)
    assert today.shop == SalesFigures(4, 3, 3, 2, Decimal("134.50"))
    assert today.shop.conversion_rate == 2 / 3


def test_data_7_each_consumer_is_credited_to_the_agent_who_served_first() -> None:
    today = sales_day(SERVICES, ORDERS, day=DAY, tz=TZ)
    assert today.by_agent == {
        1: SalesFigures(3, 3, 2, 2, Decimal("114.50")),
        2: SalesFigures(1, 0, 1, 0, Decimal("20.00")),
    }
    assert today.by_agent[2].conversion_rate is None  # nobody inquired


def test_data_7_yesterday_counts_only_yesterdays_payments() -> None:
    yesterday = sales_day(SERVICES, ORDERS, day=DAY - timedelta(days=1), tz=TZ)
    assert yesterday.shop == SalesFigures(1, 1, 0, 0, Decimal(0))
    assert yesterday.shop.conversion_rate == 0.0
    assert yesterday.by_agent == {2: SalesFigures(1, 1, 0, 0, Decimal(0))}


def test_data_7_an_order_exactly_21_days_before_makes_no_inquiry() -> None:
    served = [Service(9, 1, at(10))]
    inside = [Order(9, Decimal(1), at(10, days=-21), None)]
    outside = [Order(9, Decimal(1), at(9, 59, days=-21), None)]
    assert sales_day(served, inside, day=DAY, tz=TZ).shop.inquiring == 0
    assert sales_day(served, outside, day=DAY, tz=TZ).shop.inquiring == 1


def test_data_7_the_day_is_the_shops_local_day() -> None:
    # 23:30 UTC on the 4th is 07:30 on the 5th in Shanghai.
    served = [Service(9, 1, datetime(2026, 1, 4, 23, 30, tzinfo=ZoneInfo("UTC")))]
    assert sales_day(served, [], day=DAY, tz=TZ).shop.served == 1
    assert sales_day(served, [], day=DAY, tz=ZoneInfo("UTC")).shop.served == 0


def test_data_7_amounts_that_are_not_numbers_count_as_nothing() -> None:
    assert parse_amount(" 19.80 ") == Decimal("19.80")
    assert parse_amount("abc") == Decimal(0)
    assert parse_amount("NaN") == Decimal(0)


@given(
    st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(0, 47)), max_size=20),
    st.lists(st.tuples(st.integers(1, 6), st.integers(0, 900), st.integers(-600, 47)), max_size=20),
)
def test_data_7_agents_add_up_to_the_shop_and_the_rate_stays_a_share(
    services: list[tuple[int, int, int]], orders: list[tuple[int, int, int]]
) -> None:
    start = at(0, days=-1)
    day = sales_day(
        [Service(c, a, start + timedelta(hours=h)) for c, a, h in services],
        [
            Order(c, Decimal(cents) / 100, start + timedelta(hours=h), start + timedelta(hours=h))
            for c, cents, h in orders
        ],
        day=DAY,
        tz=TZ,
    )
    shop = day.shop
    assert shop.served == sum(f.served for f in day.by_agent.values())
    assert shop.sales == sum((f.sales for f in day.by_agent.values()), Decimal(0))
    assert shop.inquiring_paying <= min(shop.inquiring, shop.paying) <= shop.served
    if shop.conversion_rate is not None:
        assert 0.0 <= shop.conversion_rate <= 1.0
