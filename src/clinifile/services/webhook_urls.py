"""Where a webhook may go: an http(s) URL whose every resolved address is public.

Checked when an endpoint is registered or changed, and again before each delivery (a DNS
answer may change); the delivery then connects to an address this check passed, never to a
second lookup's. Loopback, link-local (169.254.0.0/16, the cloud metadata address),
private, unique-local, shared (100.64.0.0/10), multicast, reserved and unspecified
(0.0.0.0, ::) addresses are refused, IPv4-mapped IPv6 judged as its IPv4 address, unless
the operator sets CLINIFILE_WEBHOOK_ALLOW_PRIVATE=true.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from clinifile.errors import UnsafeWebhookUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
ALLOW_PRIVATE = "CLINIFILE_WEBHOOK_ALLOW_PRIVATE=true"


@dataclass(frozen=True)
class Target:
    """A checked URL: its host and port, and the addresses it resolved to (all allowed)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def _kind(address: IPAddress) -> str | None:
    """What makes an address non-public, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _kind(address.ipv4_mapped)
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (169.254.0.0/16 holds the cloud metadata service)"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def parse(url: str) -> SplitResult:
    """The URL's parts if it is a well-formed absolute http(s) URL; UnsafeWebhookUrl
    naming what is wrong otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeWebhookUrl("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeWebhookUrl(f"is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeWebhookUrl("must be an http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeWebhookUrl("has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("must not carry a user name or password (put a token in the path)")
    if port == 0:
        raise UnsafeWebhookUrl("has port 0")
    return parts


def resolve(url: str, *, allow_private: bool) -> Target:
    """The URL checked and resolved; UnsafeWebhookUrl when it is malformed, does not
    resolve, or any address it resolves to is not public (and allow_private is off)."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeWebhookUrl(f"host {host!r} does not resolve ({error})") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not allow_private:
        for address in addresses:
            kind = _kind(address)
            if kind is not None:
                raise UnsafeWebhookUrl(
                    f"host {host!r} resolves to {address}, {kind}; webhooks go to public "
                    f"addresses only (an operator may allow others with {ALLOW_PRIVATE})"
                )
    if not addresses:
        raise UnsafeWebhookUrl(f"host {host!r} resolves to no address")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, addresses=tuple(addresses))
