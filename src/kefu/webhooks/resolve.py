"""Name resolution for webhook targets (API-2): the addresses a host resolves to, each checked
against the operator's allow-list (domain.check_addresses). Used at save and again before
every delivery attempt, which then connects to a checked address and to nothing else."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from kefu.webhooks.domain import IpAddress, Target, check_addresses, parse_networks

RESOLVE_WITHIN_S = 5.0


async def resolve(target: Target) -> list[IpAddress]:
    """The host's addresses in the resolver's order; none when it does not resolve."""
    if (literal := target.address) is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM),
            RESOLVE_WITHIN_S,
        )
    except (OSError, TimeoutError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def checked_addresses(target: Target, allow_nets: str) -> list[IpAddress]:
    """API-2: the target's addresses, all allowed, or `webhook.address_refused` /
    `webhook.unresolvable`."""
    return check_addresses(target.host, await resolve(target), parse_networks(allow_nets))
