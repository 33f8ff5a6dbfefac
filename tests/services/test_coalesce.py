"""ROUTE-2: a burst of drain requests for one shop costs one pass at a time, and every caller
returns only once a pass that started after its request is done."""

from __future__ import annotations

import asyncio

import pytest

from kefu import errors
from kefu.services.coalesce import Batcher, Coalescer, Cover


async def test_requests_during_a_pass_share_one_more_pass() -> None:
    drains: Coalescer[None] = Coalescer()
    started: list[int] = []
    gate = asyncio.Event()

    async def work(cover: Cover) -> None:
        started.append(len(started))
        await gate.wait()

    first = asyncio.create_task(drains.run(1, work))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert started == [0]  # idle: the pass starts at once
    later = [asyncio.create_task(drains.run(1, work)) for _ in range(5)]
    await asyncio.sleep(0)
    assert not first.done() and started == [0]
    gate.set()
    await asyncio.gather(first, *later)
    assert started == [0, 1]  # five requests made during the first pass: one more pass


async def test_shops_drain_apart_and_a_failed_pass_releases_its_callers() -> None:
    drains: Coalescer[None] = Coalescer()
    seen: list[int] = []

    async def fail(cover: Cover) -> None:
        seen.append(1)
        raise RuntimeError("database went away")

    async def work(cover: Cover) -> None:
        seen.append(2)

    await asyncio.wait_for(asyncio.gather(drains.run(1, fail), drains.run(2, work)), 1.0)
    await asyncio.wait_for(drains.run(1, work), 1.0)  # the shop is not stuck after a failure
    assert sorted(seen) == [1, 2, 2]


async def test_requests_made_before_the_pass_covers_them_share_it() -> None:
    drains: Coalescer[None] = Coalescer()
    passes = 0
    locked = asyncio.Event()

    async def work(cover: Cover) -> None:
        nonlocal passes
        passes += 1
        await locked.wait()  # waiting for the shop lock
        cover()  # reads start here: requests made so far are served by this pass

    first = asyncio.create_task(drains.run(1, work))
    await asyncio.sleep(0)
    during_wait = [asyncio.create_task(drains.run(1, work)) for _ in range(3)]
    await asyncio.sleep(0)
    locked.set()
    await asyncio.gather(first, *during_wait)
    assert passes == 1


async def test_a_follow_up_runs_beside_the_next_pass() -> None:
    drains: Coalescer[None] = Coalescer()
    announced = asyncio.Event()
    order: list[str] = []

    async def announce() -> None:
        await announced.wait()
        order.append("announced")

    async def work(cover: Cover) -> None:
        order.append("pass")
        drains.beside(announce())

    await asyncio.wait_for(drains.run(1, work), 1.0)  # returns before the announcement
    await asyncio.wait_for(drains.run(1, work), 1.0)
    announced.set()
    await asyncio.sleep(0.01)
    assert order == ["pass", "pass", "announced", "announced"]


async def test_settled_waits_for_the_follow_ups_running_and_survives_a_failed_one() -> None:
    drains: Coalescer[None] = Coalescer()
    done: list[str] = []

    async def announce(name: str) -> None:
        await asyncio.sleep(0.05)
        if name == "bad":
            raise RuntimeError("lost socket")
        done.append(name)

    drains.beside(announce("good"))
    drains.beside(announce("bad"))
    await asyncio.wait_for(drains.settled(), 1.0)
    assert done == ["good"]
    await asyncio.wait_for(drains.settled(), 1.0)  # nothing running: returns at once


async def test_a_shared_pass_reports_its_result_to_one_claiming_caller() -> None:
    drains: Coalescer[list[int]] = Coalescer()
    gate = asyncio.Event()

    async def work(cover: Cover) -> list[int]:
        await gate.wait()
        cover()
        return [7, 8]

    calls = [
        asyncio.create_task(drains.run(1, work)),
        asyncio.create_task(drains.run(1, work, claim=True)),
        asyncio.create_task(drains.run(1, work, claim=True)),
    ]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*calls) == [None, [7, 8], None]


async def test_route_2_batcher_takes_what_came_meanwhile_and_answers_each() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def work(items: list[int]) -> list[int | errors.KefuError]:
        batches.append(items)
        if len(batches) == 1:
            await release.wait()
        return [errors.Conflict() if i == 3 else i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher()
    first = asyncio.create_task(batcher.run(1, 1, work))
    await asyncio.sleep(0)
    later = [asyncio.create_task(batcher.run(1, i, work)) for i in (2, 3, 4)]
    other_key = asyncio.create_task(batcher.run(2, 5, work))
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert await later[0] == 20 and await later[2] == 40
    with pytest.raises(errors.Conflict):
        await later[1]
    assert await other_key == 50
    assert batches == [[1], [5], [2, 3, 4]]


async def test_route_2_batcher_failing_batch_fails_its_callers_only() -> None:
    async def work(items: list[int]) -> list[int | errors.KefuError]:
        if 1 in items:
            raise RuntimeError("boom")
        return items

    batcher: Batcher[int, int] = Batcher()
    with pytest.raises(RuntimeError):
        await batcher.run(1, 1, work)
    assert await batcher.run(1, 2, work) == 2
