"""Where a webhook delivery may go: a public address, reached the way it was checked.

A delivery goes only to a public address (no loopback, private, shared, link-local, unique-local,
multicast or reserved one; an IPv4 address inside an IPv6 one judged as itself): checked when the
URL is set, and again at each delivery, against the addresses its host resolves to then (DNS
rebinding). `make run` alone lets `http` to a loopback address through, by its setting.
"""

import ipaddress
import re
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

from app.domain.errors import UnsafeWebhookUrlError

MAX_URL_LENGTH = 2048
# What a URL may be written with (RFC 3986): an internationalized host in its punycode form.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# A host name: dot-separated labels of letters, digits and inner hyphens.
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


class Destination(NamedTuple):
    """Where a delivery goes: the URL's parts, and the addresses its host may be reached at."""

    scheme: str
    host: str
    port: int
    target: str
    addresses: tuple[str, ...]


class Resolver(Protocol):
    """What a host name resolves to (DNS)."""

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`; `UnsafeWebhookUrlError` if it resolves to none."""
        ...


def check_address(address: str, allow_loopback: bool = False) -> None:
    """Raise `UnsafeWebhookUrlError` unless a delivery may go to `address`."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    # An IPv4 address inside an IPv6 one (mapped, 6to4, NAT64) is judged as itself.
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        else:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
    if ip.is_loopback:
        if allow_loopback:
            return
        raise UnsafeWebhookUrlError("the host must not be a loopback address")
    if ip.is_link_local:
        raise UnsafeWebhookUrlError(
            "the host must not be a link-local address (169.254.0.0/16, fe80::/10)"
        )
    if ip.is_multicast:
        raise UnsafeWebhookUrlError("the host must not be a multicast address")
    if not ip.is_global:
        raise UnsafeWebhookUrlError(
            "the host must be a public address: not private, unique-local, shared or reserved"
        )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_url(url: str, resolver: Resolver, allow_loopback_http: bool = False) -> Destination:
    """Where a delivery to `url` may go, or `UnsafeWebhookUrlError` naming the rule it breaks.

    Only `https`; with `allow_loopback_http` (make run), `http` to a loopback address too. Every
    address the host resolves to must be public.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrlError(f"the URL must be at most {MAX_URL_LENGTH} characters")
    if not _URL_CHARACTERS.fullmatch(url):
        raise UnsafeWebhookUrlError(
            "the URL must be written in the characters of RFC 3986 (a host in punycode, the "
            "rest percent-encoded)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookUrlError("the URL must be an absolute http(s) URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeWebhookUrlError("the URL must be an absolute https URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrlError("the URL must not carry credentials")
    if parts.fragment:
        raise UnsafeWebhookUrlError("the URL must not have a fragment")
    if parts.scheme == "http" and not allow_loopback_http:
        raise UnsafeWebhookUrlError("the URL must use https")
    host = parts.hostname
    if not _is_address(host) and (len(host) > 253 or not _HOST_NAME.fullmatch(host)):
        raise UnsafeWebhookUrlError("the host must be a domain name or an IP address")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolver.resolve(host, port)
    loopback_allowed = allow_loopback_http and parts.scheme == "http"
    for address in addresses:
        check_address(address, allow_loopback=loopback_allowed)
    if parts.scheme == "http" and not all(
        ipaddress.ip_address(address).is_loopback for address in addresses
    ):
        raise UnsafeWebhookUrlError("the URL must use https")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, host, port, target, tuple(addresses))
