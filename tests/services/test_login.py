"""ACCT-4: a login checks the password (argon2, ~200 ms) holding no write lock, so other
writes of the shop go on meanwhile (SQLite has one writer for the whole database); attempts
meet the throttle however many run at once; and an unknown username costs the same check as a
known one, so the time of the answer does not tell which usernames exist."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import Parameters, PasswordHasher, extract_parameters
from sqlalchemy import update

from kefu import errors
from kefu.broker.memory import MemoryBroker
from kefu.clock import FakeClock
from kefu.domain.login import ADDRESS_DELAY, ADDRESS_IN_FLIGHT
from kefu.services import accounts
from kefu.services.context import Context
from kefu.settings import Settings
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import FAST_HASHER, PASSWORD, SECRET_KEY, AgentSpec, eventually, make_shop


class GatedHasher(PasswordHasher):
    """Checks passwords like the tests' fast hasher, once the test lets it (`release`)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.entered = threading.Event()
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.entered.set()
        self.release.wait(timeout=10)
        return FAST_HASHER.verify(hash, password)


class CountingHasher(PasswordHasher):
    """The tests' fast hasher, noting the cost parameters of every hash it checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.checked: list[Parameters] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.checked.append(extract_parameters(hash if isinstance(hash, str) else hash.decode()))
        return super().verify(hash, password)


async def _context(url: str) -> Context:
    ctx = Context(
        db=Database(url),
        clock=FakeClock(),
        broker=MemoryBroker(),
        settings=Settings(database_url=url, secret_key=SECRET_KEY),
    )
    await ctx.db.create_all()
    return ctx


@pytest.fixture
async def sqlite_ctx(tmp_path: Path) -> AsyncIterator[Context]:
    ctx = await _context(f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}")
    try:
        yield ctx
    finally:
        await ctx.db.dispose()


@pytest.fixture
async def ctx(db_url: str) -> AsyncIterator[Context]:
    """On SQLite and on PostgreSQL."""
    context = await _context(db_url)
    try:
        yield context
    finally:
        await context.db.dispose()


async def test_acct_4_other_writes_commit_while_a_login_checks_the_password(
    sqlite_ctx: Context,
) -> None:
    ctx = sqlite_ctx
    shop = await make_shop(ctx.db, agents=[AgentSpec("a")], clock=ctx.clock)
    hasher = ctx.hasher = GatedHasher()
    login = asyncio.create_task(
        accounts.login(ctx, shop_id=shop.shop_id, username="a", password=PASSWORD, take_over=False)
    )
    try:
        assert await asyncio.to_thread(hasher.entered.wait, 5)
        async with asyncio.timeout(2), ctx.db.uow() as tx:
            await tx.conn.execute(
                update(t.accounts)
                .where(t.accounts.c.id == shop.accounts["owner"])
                .values(display_name="Boss")
            )
            await tx.commit()
        assert not login.done()  # the password check was still in progress
    finally:
        hasher.release.set()
    result = await login
    assert result.account.id == shop.accounts["a"]


async def test_acct_4_attempts_made_during_a_check_still_meet_the_throttle(ctx: Context) -> None:
    shop = await make_shop(ctx.db, agents=[AgentSpec("a")], clock=ctx.clock)
    hasher = ctx.hasher = GatedHasher()
    attempts = [
        asyncio.create_task(
            accounts.login(
                ctx, shop_id=shop.shop_id, username="a", password="wrong", take_over=False
            )
        )
        for _ in range(8)
    ]
    try:
        await eventually(lambda: sum(a.done() for a in attempts) == 3)
    finally:
        hasher.release.set()
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    assert (
        sorted(type(o).__name__ for o in outcomes) == ["InvalidCredentials"] * 5 + ["Throttled"] * 3
    )


async def test_acct_4_an_unknown_username_costs_the_same_password_check(ctx: Context) -> None:
    shop = await make_shop(ctx.db, agents=[AgentSpec("a")], clock=ctx.clock)
    hasher = ctx.hasher = CountingHasher()
    own = extract_parameters(hasher.hash("any password"))
    for username in ("nobody", "a", "nobody-else"):
        with pytest.raises(errors.InvalidCredentials):
            await accounts.login(
                ctx, shop_id=shop.shop_id, username=username, password="wrong", take_over=False
            )
    # One check each, against a hash of the same cost, whether the username exists or not.
    assert hasher.checked == [own, own, own]
    # And in a shop that does not exist.
    with pytest.raises(errors.InvalidCredentials):
        await accounts.login(
            ctx, shop_id=shop.shop_id + 99, username="a", password="wrong", take_over=False
        )
    assert hasher.checked == [own] * 4


async def test_acct_4_an_office_signing_in_at_once_is_not_slowed_by_its_own_logins(
    ctx: Context,
) -> None:
    """Logins from one address whose passwords are being checked do not count against the
    address up to ADDRESS_IN_FLIGHT: 40 agents behind one office address all get in."""
    names = [f"agent{i}" for i in range(40)]
    shop = await make_shop(ctx.db, agents=[AgentSpec(n) for n in names], clock=ctx.clock)
    hasher = ctx.hasher = GatedHasher()
    logins = [
        asyncio.create_task(
            accounts.login(
                ctx,
                shop_id=shop.shop_id,
                username=n,
                password=PASSWORD,
                take_over=False,
                ip="203.0.113.7",
            )
        )
        for n in names
    ]
    try:
        await eventually(lambda: hasher.entered.is_set())
        await asyncio.sleep(0.5)  # every attempt has started and waits for its check
        assert not any(login.done() for login in logins)
    finally:
        hasher.release.set()
    results = await asyncio.gather(*logins)
    assert sorted(r.account.username for r in results) == sorted(names)


async def test_acct_4_a_burst_of_guesses_from_one_address_meets_the_delay_beyond_the_allowance(
    ctx: Context,
) -> None:
    """Guesses into many accounts at once: the first ADDRESS_IN_FLIGHT go unchecked by the
    address's count, then each counts at once, so the 21st beyond (ADDRESS_DELAY.free) waits."""
    shop = await make_shop(ctx.db, agents=[AgentSpec("a")], clock=ctx.clock)
    hasher = ctx.hasher = GatedHasher()
    burst = ADDRESS_IN_FLIGHT + ADDRESS_DELAY.free + 10
    attempts = [
        asyncio.create_task(
            accounts.login(
                ctx,
                shop_id=shop.shop_id,
                username=f"guess{i}",
                password="wrong",
                take_over=False,
                ip="198.51.100.9",
            )
        )
        for i in range(burst)
    ]
    try:
        await eventually(lambda: sum(a.done() for a in attempts) == 10)
    finally:
        hasher.release.set()
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    names = sorted(type(o).__name__ for o in outcomes)
    assert names == ["InvalidCredentials"] * (burst - 10) + ["Throttled"] * 10
    # Now settled, they all count: the next guess waits, whoever it is for.
    with pytest.raises(errors.Throttled):
        await accounts.login(
            ctx,
            shop_id=shop.shop_id,
            username="a",
            password="wrong",
            take_over=False,
            ip="198.51.100.9",
        )
