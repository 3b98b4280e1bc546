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
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import requests

__all__ = [
    "EVENT_ID_HEADER",
    "RETRY_SCHEDULE",
    "SIGNATURE_HEADER",
    "USER_AGENT",
    "Delivery",
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


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _forbidden_reason(address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "is not an IP address"
    # ::ffff:10.0.0.1 reaches 10.0.0.1; Python 3.11 does not look through the mapping by itself.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
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


def check_destination(
    url: str,
    *,
    allow_private: bool,
    resolve: Callable[[str], list[str]] = _resolve,
) -> None:
    """Raises ValueError unless Cashline may POST to `url`.

    Tenants choose these URLs, so without this check they could make Cashline call its own insides:
    the Lambda runtime API on 127.0.0.1, metadata services on 169.254.169.254, anything in a VPC.
    `allow_private` is for the local cloud and tests only. Run the check when the URL is registered
    and again before each delivery, because DNS answers change (rebinding); `deliver` also refuses
    redirects for the same reason.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - evaluated only to reject a malformed port early
    except ValueError as error:
        raise ValueError(f"webhook URL is malformed: {error}") from None
    scheme = parts.scheme.lower()
    allowed_schemes = {"https", "http"} if allow_private else {"https"}
    if scheme not in allowed_schemes:
        raise ValueError(f"webhook URL must use https, not {scheme or 'no scheme'}: {url}")
    host = parts.hostname
    if not host:
        raise ValueError(f"webhook URL has no host: {url}")
    if allow_private:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]  # a literal IP needs no lookup
    except ValueError:
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


# --- delivery ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def deliver(
    url: str,
    body: bytes,
    secret: str | Sequence[str],
    *,
    now: int,
    event_id: str,
    timeout_s: float = 5,
    session: requests.Session | None = None,
) -> Delivery:
    """POSTs one signed event. Never raises: the outcome, good or bad, is in the returned Delivery, so
    the caller can record the attempt and schedule the next one with `next_attempt_delay`.

    `secret` may be several secrets while rotating; the header then carries one v1 per secret.
    Call `check_destination` first: this function does not look at where `url` points.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secrets, body, now),
        EVENT_ID_HEADER: event_id,
    }
    own_session = session is None
    http = requests.Session() if session is None else session
    if own_session:
        # No proxies or .netrc from the environment: a tenant's host must never receive credentials
        # meant for somewhere else.
        http.trust_env = False
    started = time.monotonic()

    def done(ok: bool, status_code: int | None, error: str | None) -> Delivery:
        duration_ms = int((time.monotonic() - started) * 1000)
        return Delivery(ok=ok, status_code=status_code, error=error, duration_ms=duration_ms)

    try:
        # Redirects are not followed: the target was checked, the place it redirects to was not.
        # stream=True: the answer's body is never needed, so a huge one is never downloaded.
        with http.post(
            url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
        if 200 <= status < 300:
            return done(True, status, None)
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            return done(False, status, f"HTTP {status}: redirect to {location or '?'} not followed")
        return done(False, status, f"HTTP {status}")
    except requests.Timeout:
        return done(False, None, f"timed out after {timeout_s:g}s")
    except requests.ConnectionError as error:
        return done(False, None, f"connection failed: {error}")
    except (requests.RequestException, ValueError) as error:
        # Invalid URLs and header values end up here; the caller records them like any failure.
        return done(False, None, f"request failed: {type(error).__name__}: {error}")
    finally:
        if own_session:
            http.close()


def next_attempt_delay(attempts_made: int) -> timedelta | None:
    """How long to wait before the next attempt, given how many were made; None means give up."""
    if attempts_made < 1:
        raise ValueError("attempts_made counts the first attempt, so it is at least 1")
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts_made - 1]
