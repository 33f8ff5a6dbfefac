"""Webhook rules (API-2), pure: the event types, the URL and address checks that keep
deliveries off private networks, Standard Webhooks signing, and the retry schedule. No I/O:
resolving names and sending requests belong to service.py and worker.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from kefu import errors

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS = 2048
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 24
# A rotated secret still signs (beside the new one) for this long, so receivers can switch.
ROTATION_OVERLAP = timedelta(hours=24)
# The waits after each failed attempt: 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h. After
# the ninth failed attempt (about 11 hours after the event) the delivery is marked failed.
BACKOFF: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


class WebhookEvent(StrEnum):
    """What an endpoint subscribes to (API-2); the `type` of each delivery's body."""

    CONVERSATION_CREATED = "conversation.created"
    MESSAGE_CREATED = "message.created"
    RATING_CREATED = "rating.created"
    ALERT_RAISED = "alert.raised"
    OFFLINE_MESSAGE_CREATED = "offline_message.created"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Target:
    """A checked endpoint URL, split for connecting to a checked address."""

    scheme: str
    host: str  # a name or an address literal, without IPv6 brackets
    port: int
    path: str  # path and query, at least "/"

    @property
    def address(self) -> IpAddress | None:
        """The host when it is an address literal."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def check_url(url: str) -> Target:
    """API-2: an http(s) URL with a host, no credentials or fragment, at most MAX_URL_CHARS."""
    if len(url) > MAX_URL_CHARS or not url.isascii() or any(c.isspace() for c in url):
        raise _bad_url("length" if len(url) > MAX_URL_CHARS else "characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad_url("syntax") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad_url("scheme")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise _bad_url("credentials" if parts.fragment == "" else "fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def _bad_url(reason: str) -> errors.BadInput:
    return errors.BadInput(
        "Not a usable webhook URL.",
        code="webhook.bad_url",
        field="url",
        reason=reason,
        max_chars=MAX_URL_CHARS,
    )


def parse_networks(spec: str) -> tuple[IpNetwork, ...]:
    """The operator's allow-list (KEFU_WEBHOOK_ALLOW_NETS): CIDRs separated by commas."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in spec.split(",") if item.strip()
    )


def is_allowed_address(address: IpAddress, allow: Sequence[IpNetwork]) -> bool:
    """API-2: only public addresses, unless the operator's allow-list names the address.
    Private, loopback, link-local, shared, reserved, multicast and unspecified addresses are
    not public; an IPv4-mapped IPv6 address is judged as its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allow):
        return True
    return address.is_global and not address.is_multicast


def check_addresses(
    host: str, addresses: Iterable[IpAddress], allow: Sequence[IpNetwork]
) -> list[IpAddress]:
    """API-2: every address the host resolves to must be allowed (one refused refuses all, so
    that a name cannot mix a public address with a private one); the addresses, in order."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise errors.RuleViolation(
            "The webhook's host does not resolve.", code="webhook.unresolvable", host=host
        )
    refused = [a for a in found if not is_allowed_address(a, allow)]
    if refused:
        raise errors.RuleViolation(
            "The webhook's host is on a private network.",
            code="webhook.address_refused",
            host=host,
            address=str(refused[0]),
        )
    return found


def check_events(events: Iterable[str]) -> tuple[WebhookEvent, ...]:
    """API-2: at least one known event, each once, in the canonical order."""
    chosen = set(events)
    known = {e.value for e in WebhookEvent}
    if not chosen or not chosen <= known:
        raise errors.BadInput(
            "Pick at least one known event.",
            code="webhook.bad_events",
            field="events",
            unknown=sorted(chosen - known),
        )
    return tuple(e for e in WebhookEvent if e.value in chosen)


def make_secret(raw: bytes) -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` and the key in base64."""
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, *, event_id: str, timestamp: int, body: bytes) -> str:
    """API-2: `v1,` and the base64 HMAC-SHA256 over `{id}.{timestamp}.{body}` (Standard
    Webhooks); `timestamp` is in whole seconds since the epoch."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], *, event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per current secret (two while a rotated
    secret overlaps), separated by spaces."""
    return " ".join(sign(s, event_id=event_id, timestamp=timestamp, body=body) for s in secrets_)


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets a delivery at `now` is signed with: the current one, and the rotated one
    while its overlap lasts."""
    if previous is not None and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]


def retry_after(attempts: int) -> timedelta | None:
    """API-2: the wait after the `attempts`-th failed attempt, or None: give up (failed)."""
    if attempts < 1 or attempts > len(BACKOFF):
        return None
    return BACKOFF[attempts - 1]


def is_success(status_code: int) -> bool:
    """Any 2xx answer delivers; redirects are not followed and count as failures."""
    return 200 <= status_code < 300
