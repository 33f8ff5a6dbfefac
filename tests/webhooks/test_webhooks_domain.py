"""API-2's pure rules: URL and address checks, signing (checked by the documented verifier),
rotation's secrets and the retry schedule."""

from __future__ import annotations

import ipaddress
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webhook_receiver import documented_verifier

from kefu import errors
from kefu.webhooks.domain import (
    BACKOFF,
    MAX_ATTEMPTS,
    MAX_URL_CHARS,
    ROTATION_OVERLAP,
    check_addresses,
    check_events,
    check_url,
    is_allowed_address,
    make_secret,
    parse_networks,
    retry_after,
    sign,
    signature_header,
    signing_secrets,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW_S = int(T0.timestamp())


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "192.0.2.1",
    ],
)
def test_api_2_non_public_addresses_are_refused(address: str) -> None:
    assert not is_allowed_address(ip(address), ())
    with pytest.raises(errors.RuleViolation) as refused:
        check_addresses("hook.example", [ip(address)], ())
    assert refused.value.code == "webhook.address_refused"


def test_api_2_public_addresses_pass_and_the_allow_list_admits_named_networks() -> None:
    assert is_allowed_address(ip("93.184.216.34"), ())
    assert is_allowed_address(ip("2606:4700::1111"), ())
    allow = parse_networks(" 127.0.0.1/32, 10.0.0.0/8 ,::1/128")
    assert is_allowed_address(ip("127.0.0.1"), allow)
    assert is_allowed_address(ip("10.9.9.9"), allow)
    assert is_allowed_address(ip("::1"), allow)
    assert not is_allowed_address(ip("127.0.0.2"), allow)
    assert not is_allowed_address(ip("192.168.0.1"), allow)


def test_api_2_one_refused_address_refuses_the_name_and_none_is_unresolvable() -> None:
    with pytest.raises(errors.RuleViolation) as mixed:
        check_addresses("rebind.example", [ip("93.184.216.34"), ip("127.0.0.1")], ())
    assert mixed.value.params["address"] == "127.0.0.1"
    with pytest.raises(errors.RuleViolation) as nothing:
        check_addresses("gone.example", [], ())
    assert nothing.value.code == "webhook.unresolvable"
    assert check_addresses("ok.example", [ip("1.1.1.1"), ip("1.1.1.1")], ()) == [ip("1.1.1.1")]


@given(st.ip_addresses())
def test_api_2_an_allowed_address_is_global_or_named(address: ipaddress._BaseAddress) -> None:
    assert isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
    if is_allowed_address(address, ()):
        assert address.is_global and not address.is_private and not address.is_loopback


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hook.example/x", "scheme"),
        ("http:///nohost", "scheme"),
        ("https://user:pw@hook.example/", "credentials"),
        ("https://hook.example/#frag", "fragment"),
        ("https://hook.example/a b", "characters"),
        ("https://hook.example:99999/", "syntax"),
        ("https://hook.example/" + "a" * MAX_URL_CHARS, "length"),
    ],
)
def test_api_2_unusable_urls_are_bad_input(url: str, reason: str) -> None:
    with pytest.raises(errors.BadInput) as refused:
        check_url(url)
    assert (refused.value.code, refused.value.params["reason"]) == ("webhook.bad_url", reason)


def test_api_2_urls_split_for_connecting_to_an_address() -> None:
    target = check_url("https://Hook.Example:8443/in?x=1")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hook.example",
        8443,
        "/in?x=1",
    )
    assert check_url("http://[::1]").address == ip("::1")
    assert check_url("http://127.0.0.1").port == 80


def test_api_2_events_are_checked_and_ordered() -> None:
    assert [e.value for e in check_events(["rating.created", "message.created"])] == [
        "message.created",
        "rating.created",
    ]
    assert "alert.raised" in {e.value for e in check_events(["alert.raised"])}
    for bad in ([], ["message.deleted"]):
        with pytest.raises(errors.BadInput):
            check_events(bad)


def test_api_2_the_documented_verifier_accepts_kefus_signature_only() -> None:
    verify = documented_verifier()
    secret = make_secret(b"k" * 24)
    body = b'{"id":"evt_1","type":"message.created"}'
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(NOW_S),
        "webhook-signature": sign(secret, event_id="evt_1", timestamp=NOW_S, body=body),
    }
    assert verify([secret], headers, body, now=NOW_S)
    assert not verify([make_secret(b"x" * 24)], headers, body, now=NOW_S)
    assert not verify([secret], headers, body + b" ", now=NOW_S)
    assert not verify([secret], {**headers, "webhook-id": "evt_2"}, body, now=NOW_S)
    assert not verify([secret], headers, body, now=NOW_S + 301)  # a replay, too late


def test_api_2_rotation_signs_with_both_secrets_during_the_overlap() -> None:
    old, new = make_secret(b"o" * 24), make_secret(b"n" * 24)
    until = T0 + ROTATION_OVERLAP
    assert signing_secrets(new, old, until, T0) == [new, old]
    assert signing_secrets(new, old, until, until) == [new]
    assert signing_secrets(new, None, None, T0) == [new]
    verify = documented_verifier()
    body = b"{}"
    header = signature_header([new, old], event_id="evt_9", timestamp=NOW_S, body=body)
    headers = {"webhook-id": "evt_9", "webhook-timestamp": str(NOW_S), "webhook-signature": header}
    assert len(header.split()) == 2
    assert verify([old], headers, body, now=NOW_S)
    assert verify([new], headers, body, now=NOW_S)


def test_api_2_backoff_schedule_then_give_up() -> None:
    waits = [retry_after(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert waits[:-1] == list(BACKOFF)
    assert waits[-1] is None
    assert MAX_ATTEMPTS == 9
    assert sum(BACKOFF, timedelta()) < timedelta(hours=12)
    assert all(a < b for a, b in itertools.pairwise(BACKOFF))
