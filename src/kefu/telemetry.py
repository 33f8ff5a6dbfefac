"""This process's Prometheus metrics, served at `/metrics` (docs/deploy.md lists them).

Counters and histograms are updated where the work happens; the gauges that describe state
(open sockets, queue length per shop) are read when the metrics are scraped. One registry per
process, not prometheus_client's global one, so that importing kefu never touches it.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from datetime import timedelta

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    exposition,
    generate_latest,
)

CONTENT_TYPE = exposition.CONTENT_TYPE_LATEST
REGISTRY = CollectorRegistry()

CONNECTIONS = Gauge(
    "kefu_connections", "Open WebSockets on this process.", ["kind"], registry=REGISTRY
)
MESSAGES = Counter(
    "kefu_messages", "Messages stored by this process's writer.", ["sender"], registry=REGISTRY
)
QUEUE_LENGTH = Gauge(
    "kefu_queue_length", "Consumers waiting for an agent, per shop.", ["shop_id"], registry=REGISTRY
)
ASSIGNMENT_WAIT = Histogram(
    "kefu_assignment_wait_seconds",
    "From the human request to the assignment (the queue time of DATA-1).",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
WRITER_BATCH_SIZE = Histogram(
    "kefu_writer_batch_size",
    "Messages committed together by the message writer.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)
WRITER_BATCH_SECONDS = Histogram(
    "kefu_writer_batch_seconds",
    "Time the message writer took to plan and commit one batch.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
DATABASE_ERRORS = Counter(
    "kefu_database_errors",
    "Database outages met (connection, timeout, busy, full).",
    ["cause"],
    registry=REGISTRY,
)


def assignment_waits(waits: list[timedelta]) -> None:
    for wait in waits:
        ASSIGNMENT_WAIT.observe(max(wait.total_seconds(), 0.0))


def writer_batch(size: int, seconds: float) -> None:
    WRITER_BATCH_SIZE.observe(size)
    WRITER_BATCH_SECONDS.observe(seconds)


def messages_stored(senders: Iterable[str]) -> None:
    """A batch's stored messages, counted once per kind of sender (a label lookup costs more
    than the count)."""
    for sender, n in collections.Counter(senders).items():
        MESSAGES.labels(sender=sender).inc(n)


def render(queue_lengths: Mapping[int, int]) -> bytes:
    """The text exposition, with the queue gauge set to `queue_lengths` (shops not named have
    nobody waiting and are left out)."""
    QUEUE_LENGTH.clear()
    for shop_id, length in queue_lengths.items():
        QUEUE_LENGTH.labels(shop_id=str(shop_id)).set(length)
    return generate_latest(REGISTRY)
