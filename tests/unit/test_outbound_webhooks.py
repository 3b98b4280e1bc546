"""Outbound webhooks: signing (Stripe's scheme), SSRF checks, delivery outcomes, retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
from collections.abc import Callable, Mapping
from datetime import timedelta

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest, Response

from cashline.adapters.outbound_webhooks import (
    EVENT_ID_HEADER,
    RETRY_SCHEDULE,
    SIGNATURE_HEADER,
    Delivery,
    check_destination,
    deliver,
    next_attempt_delay,
    sign,
    signature_header,
    verify,
)

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"invoice.paid"}'
NOW = 1_700_000_000
# Computed outside Python: printf '1700000000.<BODY>' | openssl dgst -sha256 -hmac whsec_test_secret
KNOWN_V1 = "46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595"


# --- signing -----------------------------------------------------------------------------------------


def test_sign_matches_a_vector_computed_independently() -> None:
    by_hand = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert by_hand == KNOWN_V1
    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={KNOWN_V1}"


def test_verify_accepts_a_fresh_signature() -> None:
    header = sign(SECRET, BODY, NOW)
    assert verify(SECRET, BODY, header, now=NOW)
    assert verify(SECRET, BODY, header, now=NOW + 299)


def test_verify_accepts_any_of_several_v1_entries_and_ignores_other_schemes() -> None:
    header = f"t={NOW},v1={'0' * 64},v0=legacy,v1={KNOWN_V1}"
    assert verify(SECRET, BODY, header, now=NOW)


def test_rotation_header_carries_one_v1_per_secret_and_either_secret_verifies() -> None:
    header = signature_header(["whsec_new", SECRET], BODY, NOW)
    assert header.count("v1=") == 2
    assert verify("whsec_new", BODY, header, now=NOW)
    assert verify(SECRET, BODY, header, now=NOW)
    assert not verify("whsec_unrelated", BODY, header, now=NOW)


def test_receiver_holding_old_and_new_secret_accepts_either_signature() -> None:
    secrets = ["whsec_new", SECRET]
    assert verify(secrets, BODY, sign(SECRET, BODY, NOW), now=NOW)
    assert verify(secrets, BODY, sign("whsec_new", BODY, NOW), now=NOW)
    assert not verify(["whsec_new"], BODY, sign(SECRET, BODY, NOW), now=NOW)


def test_verify_rejects_a_tampered_body_or_timestamp() -> None:
    header = sign(SECRET, BODY, NOW)
    assert not verify(SECRET, BODY.replace(b"evt_1", b"evt_2"), header, now=NOW)
    moved = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert not verify(SECRET, BODY, moved, now=NOW)


def test_verify_rejects_old_and_far_future_timestamps() -> None:
    header = sign(SECRET, BODY, NOW)
    assert not verify(SECRET, BODY, header, now=NOW + 301)
    assert not verify(SECRET, BODY, header, now=NOW - 301)
    assert verify(SECRET, BODY, header, now=NOW + 600, tolerance_s=600)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", f"v1={KNOWN_V1}", f"t={NOW}", f"t=abc,v1={KNOWN_V1}", f"t={NOW},t={NOW},v1={KNOWN_V1}"],
)
def test_verify_rejects_malformed_headers(header: str) -> None:
    assert not verify(SECRET, BODY, header, now=NOW)


# --- check_destination -------------------------------------------------------------------------------


def resolver(table: Mapping[str, list[str]]) -> Callable[[str], list[str]]:
    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


PUBLIC = resolver({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})


def test_public_https_destination_is_accepted() -> None:
    check_destination("https://hooks.example.com/cashline?x=1", allow_private=False, resolve=PUBLIC)
    check_destination("https://93.184.215.14:8443/hook", allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/hook", "ftp://hooks.example.com/", "hooks.example.com/hook"]
)
def test_anything_but_https_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="must use https"):
        check_destination(url, allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize("url", ["https:///hook", "https://:443/hook"])
def test_url_without_host_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="no host"):
        check_destination(url, allow_private=False, resolve=PUBLIC)


def test_malformed_port_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="malformed"):
        check_destination("https://hooks.example.com:99999/", allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback: the Lambda runtime API lives there
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # link-local: instance metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",  # IPv4-mapped private address
    ],
)
def test_ip_literals_of_internal_ranges_are_refused(address: str) -> None:
    host = f"[{address}]" if ":" in address else address

    def no_lookup(host: str) -> list[str]:
        raise AssertionError("an IP literal needs no DNS lookup")

    with pytest.raises(ValueError, match=r"resolves to .* which is a"):
        check_destination(f"https://{host}/hook", allow_private=False, resolve=no_lookup)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "fd12::1"])
def test_hostnames_resolving_to_internal_addresses_are_refused(address: str) -> None:
    resolve = resolver({"sneaky.example.com": ["93.184.215.14", address]})
    with pytest.raises(ValueError, match=f"sneaky.example.com resolves to {address}"):
        check_destination("https://sneaky.example.com/hook", allow_private=False, resolve=resolve)


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(ValueError, match="does not resolve"):
        check_destination("https://nowhere.example.com/", allow_private=False, resolve=PUBLIC)
    with pytest.raises(ValueError, match="does not resolve to any address"):
        check_destination(
            "https://empty.example.com/", allow_private=False, resolve=resolver({"empty.example.com": []})
        )


def test_allow_private_lets_local_http_through_without_a_lookup() -> None:
    def no_lookup(host: str) -> list[str]:
        raise AssertionError("allow_private needs no DNS lookup")

    check_destination("http://127.0.0.1:8080/hook", allow_private=True, resolve=no_lookup)
    check_destination("http://receiver:9000/hook", allow_private=True, resolve=no_lookup)
    with pytest.raises(ValueError, match="must use https"):
        check_destination("ftp://127.0.0.1/", allow_private=True, resolve=no_lookup)


# --- deliver -----------------------------------------------------------------------------------------


class FakeReceiver(BaseAdapter):
    """Stands in for the network inside a real requests.Session, so requests' own redirect and
    header handling are what get tested."""

    def __init__(self, answer: Callable[[PreparedRequest], Response]):
        super().__init__()
        self.answer = answer
        self.requests: list[PreparedRequest] = []
        self.timeouts: list[object] = []

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        self.requests.append(request)
        self.timeouts.append(timeout)
        return self.answer(request)

    def close(self) -> None:
        pass


def respond(status: int, headers: Mapping[str, str] | None = None) -> Callable[[PreparedRequest], Response]:
    def answer(request: PreparedRequest) -> Response:
        response = Response()
        response.status_code = status
        response.headers.update(headers or {})
        response.request = request
        response.url = request.url or ""
        response.raw = io.BytesIO(b"")  # what Response.close() releases
        return response

    return answer


def fail_with(error: Exception) -> Callable[[PreparedRequest], Response]:
    def answer(request: PreparedRequest) -> Response:
        raise error

    return answer


def session_with(receiver: FakeReceiver) -> requests.Session:
    session = requests.Session()
    session.mount("https://", receiver)
    session.mount("http://", receiver)
    return session


URL = "https://hooks.example.com/cashline"


def test_2xx_is_ok_and_the_request_is_signed_and_labelled() -> None:
    receiver = FakeReceiver(respond(204))
    result = deliver(
        URL, BODY, SECRET, now=NOW, event_id="evt_1", timeout_s=3, session=session_with(receiver)
    )

    assert result.ok and result.status_code == 204 and result.error is None
    assert result.duration_ms >= 0
    [sent] = receiver.requests
    assert sent.method == "POST" and sent.url == URL and sent.body == BODY
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"] == "Cashline-Webhooks/1"
    assert sent.headers[EVENT_ID_HEADER] == "evt_1"
    assert sent.headers[SIGNATURE_HEADER] == f"t={NOW},v1={KNOWN_V1}"
    assert verify(SECRET, BODY, sent.headers[SIGNATURE_HEADER], now=NOW)
    assert receiver.timeouts == [3]


def test_several_secrets_give_one_v1_each() -> None:
    receiver = FakeReceiver(respond(200))
    deliver(URL, BODY, ["whsec_new", SECRET], now=NOW, event_id="evt_1", session=session_with(receiver))
    header = receiver.requests[0].headers[SIGNATURE_HEADER]
    assert header.count("v1=") == 2 and f"v1={KNOWN_V1}" in header


def test_server_error_is_not_ok() -> None:
    receiver = FakeReceiver(respond(500))
    result = deliver(URL, BODY, SECRET, now=NOW, event_id="evt_1", session=session_with(receiver))
    assert result == Delivery(ok=False, status_code=500, error="HTTP 500", duration_ms=result.duration_ms)


def test_timeout_is_not_ok_and_does_not_raise() -> None:
    receiver = FakeReceiver(fail_with(requests.ReadTimeout("read timed out")))
    result = deliver(
        URL, BODY, SECRET, now=NOW, event_id="evt_1", timeout_s=5, session=session_with(receiver)
    )
    assert not result.ok and result.status_code is None
    assert result.error == "timed out after 5s"


def test_connection_error_is_not_ok_and_does_not_raise() -> None:
    receiver = FakeReceiver(fail_with(requests.ConnectionError("connection refused")))
    result = deliver(URL, BODY, SECRET, now=NOW, event_id="evt_1", session=session_with(receiver))
    assert not result.ok and result.status_code is None
    assert result.error is not None and "connection refused" in result.error


def test_redirect_is_not_followed() -> None:
    receiver = FakeReceiver(respond(302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    result = deliver(URL, BODY, SECRET, now=NOW, event_id="evt_1", session=session_with(receiver))
    assert len(receiver.requests) == 1  # nothing was sent to the Location
    assert not result.ok and result.status_code == 302
    assert result.error is not None and "169.254.169.254" in result.error and "not followed" in result.error


def test_invalid_url_is_reported_not_raised() -> None:
    result = deliver("https://", BODY, SECRET, now=NOW, event_id="evt_1")
    assert not result.ok and result.status_code is None and result.error


# --- retry schedule ----------------------------------------------------------------------------------


def test_retry_schedule_backs_off_then_gives_up() -> None:
    expected = [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(hours=12),
    ]
    assert list(RETRY_SCHEDULE) == expected
    assert [next_attempt_delay(n) for n in range(1, 9)] == expected
    assert next_attempt_delay(9) is None
    assert next_attempt_delay(50) is None
    assert all(later > earlier for earlier, later in itertools.pairwise(expected))


def test_attempts_made_starts_at_one() -> None:
    with pytest.raises(ValueError):
        next_attempt_delay(0)
