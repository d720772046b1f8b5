"""The client's address, for rate limits: the socket peer, or behind trusted proxies the
right-most ``X-Forwarded-For`` entry that is not one of them.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
request came from a proxy listed in ``LEDGER_TRUSTED_PROXIES``, and then only up to the
first hop (from the right) that is not itself a trusted proxy: anything left of that hop
was written by the client. With no trusted proxies (the default) the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from flask import request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(text: str) -> tuple[Network, ...]:
    """Comma-separated IP addresses or CIDR networks; ValueError on a malformed entry."""
    networks = []
    for item in text.split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"LEDGER_TRUSTED_PROXIES: {item!r} is not an IP or CIDR") from exc
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in proxies)


def client_address_from(
    remote_addr: str, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """The client's address given the socket peer and the ``X-Forwarded-For`` header lines."""
    if not proxies or not _trusted(remote_addr, proxies):
        return remote_addr
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    client = remote_addr
    for hop in reversed(hops):
        if _ip(hop) is None:
            break  # garbage in the chain: trust nothing further left of it
        client = hop
        if not _trusted(hop, proxies):
            break
    return client


def client_address(proxies: Sequence[Network]) -> str:
    """This request's client address (see the module docstring)."""
    return client_address_from(
        request.remote_addr or "", request.headers.getlist("X-Forwarded-For"), proxies
    )
