"""Outbound webhooks: a tenant registers a URL and Cashline POSTs its events there.

Bodies are signed with the same scheme as Stripe's, so tenants can reuse what they know:

    Cashline-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

where v1 is the hex HMAC-SHA256, keyed with the endpoint's secret, of ``f"{t}."`` followed by the raw
body. While a secret is being rotated the header carries one v1 per secret. A receiver recomputes the
HMAC over the raw bytes it received (before any JSON parsing), compares in constant time with every v1
entry, and refuses timestamps too far from its clock so a captured request cannot be replayed later.
`verify` does exactly that. Deliveries are at-least-once: receivers dedupe on ``Cashline-Event-Id``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.models import PreparedRequest
from urllib3.exceptions import NewConnectionError

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs  # the stubs' names for what urllib3 takes

__all__ = [
    "EVENT_ID_HEADER",
    "RETRY_SCHEDULE",
    "SIGNATURE_HEADER",
    "USER_AGENT",
    "Delivery",
    "Destination",
    "PinnedAdapter",
    "check_destination",
    "deliver",
    "next_attempt_delay",
    "sign",
    "signature_header",
    "verify",
]

SIGNATURE_HEADER = "Cashline-Signature"
EVENT_ID_HEADER = "Cashline-Event-Id"
USER_AGENT = "Cashline-Webhooks/1"

# Retries after the first attempt, roughly exponential: quick ones ride out a deploy or a blip, the
# long tail (about 23 hours in all) covers a receiver that is down for a day.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)


# --- signing -----------------------------------------------------------------------------------------


def _v1(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Cashline-Signature`` header value for one secret: ``t=<timestamp>,v1=<hex>``."""
    return f"t={timestamp},v1={_v1(secret, body, timestamp)}"


def signature_header(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """One v1 entry per secret, for the rotation window when a receiver may hold either secret."""
    if not secrets:
        raise ValueError("at least one signing secret is needed")
    return ",".join([f"t={timestamp}", *(f"v1={_v1(secret, body, timestamp)}" for secret in secrets)])


def _parse_header(header: str) -> tuple[int, list[str]] | None:
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
        # Other schemes (v0, a future v2) are ignored, as Stripe's receivers do.
    if len(timestamps) != 1 or not signatures or not timestamps[0].isdigit():
        return None
    return int(timestamps[0]), signatures


def verify(
    secret_or_secrets: str | Sequence[str],
    body: bytes,
    header: str,
    *,
    now: int,
    tolerance_s: int = 300,
) -> bool:
    """What a receiver does with a delivery: True when some v1 entry matches some secret (pass the
    new and the old secret while rotating) and the timestamp is within `tolerance_s` of `now`."""
    parsed = _parse_header(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    # Both directions: too old is a replay, too far ahead means a clock that cannot be trusted.
    if abs(now - timestamp) > tolerance_s:
        return False
    secrets = [secret_or_secrets] if isinstance(secret_or_secrets, str) else list(secret_or_secrets)
    expected = [_v1(secret, body, timestamp) for secret in secrets]
    # Every pair is compared, without stopping early, so timing says nothing about which one matched.
    matches = [hmac.compare_digest(want, got) for want in expected for got in signatures]
    return any(matches)


# --- destination checks (SSRF) -----------------------------------------------------------------------

# Networks whose addresses carry an IPv4 address inside; each embedded address is checked as if it were
# the destination, because a relay or translator on the way delivers to it.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the low 32 bits
# RFC 8215 local-use NAT64: never globally reachable, and its layout is the operator's choice, so it is
# refused whole (Python 3.11's is_global does not know it).
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d (RFC 4291 2.5.5.1)
# The last label decides, as browsers and inet_aton do: "2130706433", "0177.0.0.1" and "0x7f.1" all
# name 127.0.0.1 when handed to a resolver, so a numeric host must be a canonical dotted quad.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
# Deliveries try at most this many of the checked addresses (IPv4 first), one after another.
_MAX_ADDRESSES = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook URL that passed `check_destination`, with the addresses that were checked.

    `deliver` connects to these addresses and to nothing else, so a DNS answer that changes after the
    check (rebinding) is never used. `addresses` is empty only where the local stage allows private
    destinations: then the name is resolved when connecting, as any client would.
    """

    url: str
    scheme: str
    host: str  # as sent in Host, in TLS SNI and checked against the certificate (ASCII, IDNA)
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.scheme == "https" else 80
        return host if self.port == default_port else f"{host}:{self.port}"


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _range_reason(ip: IPAddress) -> str | None:
    checks = (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_private, "private"),
        # is_global also catches shared (100.64.0.0/10) and documentation ranges that is_private misses.
        (not ip.is_global, "not globally routable"),
    )
    for bad, name in checks:
        if bad:
            return f"is a {name} address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses a packet to `ip` may end up at, named by the mechanism that unwraps them."""
    if ip.ipv4_mapped is not None:
        return [("IPv4-mapped", ip.ipv4_mapped)]
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    if ip in _NAT64:
        return [("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are unspecified and loopback, not IPv4
        return [("IPv4-compatible", ipaddress.IPv4Address(int(ip)))]
    return []


def _forbidden_reason(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "is not an IP address"
    if isinstance(ip, ipaddress.IPv4Address):
        return _range_reason(ip)
    if ip.scope_id:
        return "carries an IPv6 zone id"
    if ip in _NAT64_LOCAL:
        return "is a local-use NAT64 address (64:ff9b:1::/48), not globally routable"
    embedded = _embedded_ipv4(ip)
    for form, inner in embedded:
        reason = _range_reason(inner)
        if reason is not None:
            return f"embeds {inner} ({form}), which {reason}"
    if embedded and embedded[0][0] in {"IPv4-mapped", "NAT64"}:
        # These reach exactly the embedded address, checked above (and Python counts 64:ff9b::/96
        # as reserved, though IANA lists it as globally reachable).
        return None
    return _range_reason(ip)


def _literal_address(host: str) -> str | None:
    """The address a host written as an IP literal names, or None for a DNS name."""
    if ":" in host:  # only a bracketed IPv6 literal has a colon in urlsplit's hostname
        if "%" in host:
            raise ValueError(f"webhook host {host} carries an IPv6 zone id")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"webhook host [{host}] is not an IPv6 address") from None
    last_label = host.rstrip(".").rpartition(".")[2]
    if not _NUMERIC_LABEL.fullmatch(last_label):
        return None
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        raise ValueError(
            f"webhook host {host} is not a canonical dotted IPv4 address (a resolver would read it as "
            "some other address); write it as a.b.c.d"
        ) from None


def _split(url: str) -> tuple[str, str, int]:
    """Scheme, host (ASCII) and port of `url`; refuses what cannot be delivered to safely."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"webhook URL is malformed: {error}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in {"https", "http"}:
        raise ValueError(f"webhook URL must use https, not {scheme or 'no scheme'}: {url}")
    # A tenant's receiver must not be handed credentials in the URL: they would travel with every
    # delivery (Basic auth) and show up wherever the URL is shown or logged.
    if parts.username is not None or parts.password is not None:
        raise ValueError("webhook URL must not carry a user name or password; use the signature")
    if not host:
        raise ValueError(f"webhook URL has no host: {url}")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ValueError(f"webhook host {host} is not a valid host name") from None
    return scheme, ascii_host, port if port is not None else (443 if scheme == "https" else 80)


def check_destination(
    url: str,
    *,
    allow_private: bool,
    resolve: Callable[[str], list[str]] = _resolve,
) -> Destination:
    """Raises ValueError unless Cashline may POST to `url`; returns where to connect.

    Tenants choose these URLs, so without this check they could make Cashline call its own insides:
    the Lambda runtime API on 127.0.0.1, metadata services on 169.254.169.254, anything in a VPC.
    Every address the name resolves to must be globally routable, after unwrapping IPv4 addresses
    carried inside IPv6 ones (mapped, compatible, 6to4, Teredo, NAT64). `allow_private` is for the
    local cloud and tests only. Run the check when the URL is registered and again before each
    delivery, and deliver to the returned Destination: it connects to the addresses checked here, so
    a second DNS answer (rebinding) is never used; `deliver` also refuses redirects.
    """
    scheme, host, port = _split(url)
    if allow_private:
        return Destination(url=url, scheme=scheme, host=host, port=port, addresses=())
    if scheme != "https":
        raise ValueError(f"webhook URL must use https, not {scheme}: {url}")
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]  # a literal IP needs no lookup
    else:
        try:
            addresses = resolve(host)
        except OSError as error:
            raise ValueError(f"webhook host {host} does not resolve: {error}") from None
    if not addresses:
        raise ValueError(f"webhook host {host} does not resolve to any address")
    for address in addresses:
        reason = _forbidden_reason(address)
        if reason is not None:
            raise ValueError(f"webhook host {host} resolves to {address}, which {reason}")
    # IPv4 first: a Lambda function outside a VPC has no IPv6 route out.
    ordered = sorted(addresses, key=lambda a: ":" in a)
    return Destination(url=url, scheme=scheme, host=host, port=port, addresses=tuple(ordered))


# --- delivery ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class PinnedAdapter(HTTPAdapter):
    """Connects to the IP literal in the request's URL, but speaks TLS to `server_hostname`: SNI
    carries the name and the certificate is verified against the name, as if no address were pinned."""

    def __init__(self, server_hostname: str | None) -> None:
        self.server_hostname = server_hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if self.server_hostname is not None and host_params["scheme"] == "https":
            # urllib3 takes both (the stubs do not list them); both are part of its pool key, so a
            # pool is never shared between two names.
            tls = cast(dict[str, Any], pool_kwargs)
            tls["server_hostname"] = self.server_hostname
            tls["assert_hostname"] = self.server_hostname
        return host_params, pool_kwargs


def _pinned_url(destination: Destination, address: str | None) -> str:
    if address is None:
        return destination.url
    parts = urlsplit(destination.url)
    netloc = f"[{address}]" if ":" in address else address
    return urlunsplit((destination.scheme, f"{netloc}:{destination.port}", parts.path, parts.query, ""))


def _not_connected(error: requests.ConnectionError) -> bool:
    """True when no connection was made, so nothing was sent and the next address may be tried."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    connected: bool = True


def _post(
    http: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout_s: float
) -> _Outcome:
    try:
        # Redirects are not followed: the target was checked, the place it redirects to was not.
        # stream=True: the answer's body is never needed, so a huge one is never downloaded.
        with http.post(
            url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
    except requests.ConnectionError as error:
        if isinstance(error, requests.ConnectTimeout):
            return _Outcome(False, None, f"timed out after {timeout_s:g}s", connected=False)
        return _Outcome(False, None, f"connection failed: {error}", connected=not _not_connected(error))
    except requests.Timeout:
        return _Outcome(False, None, f"timed out after {timeout_s:g}s")
    except (requests.RequestException, ValueError) as error:
        # Invalid URLs and header values end up here; the caller records them like any failure.
        return _Outcome(False, None, f"request failed: {type(error).__name__}: {error}")
    if 200 <= status < 300:
        return _Outcome(True, status, None)
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return _Outcome(False, status, f"HTTP {status}: redirect to {location or '?'} not followed")
    return _Outcome(False, status, f"HTTP {status}")


def deliver(
    destination: Destination,
    body: bytes,
    secret: str | Sequence[str],
    *,
    now: int,
    event_id: str,
    timeout_s: float = 5,
    transport: BaseAdapter | None = None,
    ca_bundle: str | None = None,
) -> Delivery:
    """POSTs one signed event to a checked destination. Never raises: the outcome, good or bad, is in
    the returned Delivery, so the caller can record the attempt and schedule the next one with
    `next_attempt_delay`.

    The connection goes to the addresses `check_destination` checked (the next one only when the
    previous refused to connect, so nothing is sent twice), with the URL's host name in Host, in SNI
    and as the name the certificate must carry. `secret` may be several secrets while rotating; the
    header then carries one v1 per secret. `transport` replaces the network in tests; `ca_bundle`
    trusts a test CA instead of the system's.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": destination.host_header,
        SIGNATURE_HEADER: signature_header(secrets, body, now),
        EVENT_ID_HEADER: event_id,
    }
    literal = destination.addresses == (destination.host,)
    adapter = transport or PinnedAdapter(None if literal else destination.host)
    started = time.monotonic()
    outcome = _Outcome(False, None, "no address to deliver to")
    with requests.Session() as http:
        # No proxies or .netrc from the environment: a tenant's host must never receive credentials
        # meant for somewhere else, and a proxy would resolve the name again.
        http.trust_env = False
        http.mount("https://", adapter)
        http.mount("http://", adapter)
        if ca_bundle is not None:
            http.verify = ca_bundle
        targets: Sequence[str | None] = destination.addresses[:_MAX_ADDRESSES] or (None,)
        for address in targets:
            outcome = _post(http, _pinned_url(destination, address), body, headers, timeout_s)
            if outcome.connected:
                break
    duration_ms = int((time.monotonic() - started) * 1000)
    return Delivery(
        ok=outcome.ok, status_code=outcome.status_code, error=outcome.error, duration_ms=duration_ms
    )


def next_attempt_delay(attempts_made: int) -> timedelta | None:
    """How long to wait before the next attempt, given how many were made; None means give up."""
    if attempts_made < 1:
        raise ValueError("attempts_made counts the first attempt, so it is at least 1")
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts_made - 1]
