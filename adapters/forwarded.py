"""Which address a request comes from, when load balancers stand in front of the API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import ip_address

from adapters.settings import Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_address(peer: str, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str:
    """The socket peer, unless it is a trusted proxy: then the right-most ``X-Forwarded-For``
    entry that is not itself a trusted proxy (entries further left are the client's own say,
    so anyone could forge them)."""
    if not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
