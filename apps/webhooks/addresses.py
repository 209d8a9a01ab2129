"""Where a webhook may be sent: never to loopback, private or link-local addresses (SSRF),
unless WEBHOOK_ALLOW_PRIVATE is on. Checked on the URL when an endpoint is saved, and on the
address it resolves to when each delivery is sent (a name can be re-pointed in between)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from apps.events.errors import InvalidValue

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def is_refused(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def resolve(host: str, port: int) -> list[Address]:
    """The addresses `host` resolves to, allowed ones only (AddressRefused when any is not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"{host} does not resolve") from error
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        refused = [str(a) for a in addresses if is_refused(a)]
        if refused:
            raise AddressRefused(f"{host} resolves to a private address ({refused[0]})")
    return addresses


def check_url(url: str) -> str:
    """`url` when webhooks may be sent there, else InvalidValue naming `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue("Enter an http or https URL.", field="url")
    if parts.username or parts.password:
        raise InvalidValue("The URL may not carry credentials.", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidValue("The URL's port is not a number from 0 to 65535.", field="url") from None
    try:
        resolve(parts.hostname, port)
    except AddressRefused as refused:
        raise InvalidValue(f"{refused}: not allowed for webhooks.", field="url") from None
    return url
