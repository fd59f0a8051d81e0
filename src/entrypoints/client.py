"""The client's address: the one answer every per-client decision uses (SPEC §3, §12.3).

Per-IP rate limits (``limits.py``) key on it, and the YooKassa webhook allow-list checks it.
With ``PROMPTCORE_TRUSTED_PROXIES=0`` it is the socket's peer and ``X-Forwarded-For`` is
ignored, so a client cannot pick its own address. With ``n`` > 0, ``create_app`` wraps the app in
werkzeug's ``ProxyFix(x_for=n)``, which takes the n-th ``X-Forwarded-For`` entry from the right:
the address the outermost trusted proxy saw. Entries a client adds itself sit to the left of it
and are never used; a header with fewer than n entries leaves the socket's address.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["client_address", "trust_proxies"]

UNKNOWN = "unknown"


def trust_proxies(wsgi_app: "WSGIApplication", hops: int) -> "WSGIApplication":
    """Believe ``hops`` reverse proxies for the client address (only X-Forwarded-For)."""
    return ProxyFix(wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0) if hops > 0 else wsgi_app


def client_address() -> str:
    """The requesting client's IP address in one canonical spelling (IPv4-mapped IPv6 as IPv4,
    IPv6 compressed, lower case), so one address is one key; ``"unknown"`` if it is not an IP."""
    raw = (request.remote_addr or "").strip()
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)
