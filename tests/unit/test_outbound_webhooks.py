"""Outbound webhooks: signing (Stripe's scheme), SSRF checks, delivery outcomes, retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import io
import ipaddress
import itertools
from collections.abc import Callable, Mapping
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest, Response
from urllib3.exceptions import MaxRetryError, NewConnectionError

from cashline.adapters.outbound_webhooks import (
    EVENT_ID_HEADER,
    RETRY_SCHEDULE,
    SIGNATURE_HEADER,
    Delivery,
    PinnedAdapter,
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


PUBLIC = resolver({"hooks.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"]})
URL = "https://hooks.example.com/cashline?x=1"


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
    with pytest.raises(ValueError, match=r"resolves to .* which is a"):
        check_destination(f"https://{host}/hook", allow_private=False, resolve=no_lookup)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "fd12::1"])
def test_hostnames_resolving_to_internal_addresses_are_refused(address: str) -> None:
    resolve = resolver({"sneaky.example.com": ["93.184.215.14", address]})
    with pytest.raises(ValueError, match=f"sneaky.example.com resolves to {address}"):
        check_destination("https://sneaky.example.com/hook", allow_private=False, resolve=resolve)


def no_lookup(host: str) -> list[str]:
    raise AssertionError(f"{host} needs no DNS lookup")


# IPv6 forms that carry an internal IPv4 address: a relay, translator or the host's own stack unwraps
# them, so the embedded address is what would be reached.
EMBEDDING = [
    ("2002:7f00:1::", "127.0.0.1", "6to4"),
    ("2002:a9fe:a9fe::", "169.254.169.254", "6to4"),
    ("2002:a00:1::1", "10.0.0.1", "6to4"),
    # Teredo: public server 65.54.227.120, client 127.0.0.1 stored inverted (0x80fffffe)
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1", "Teredo client"),
    ("2001:0:a9fe:a9fe::1", "169.254.169.254", "Teredo server"),
    ("64:ff9b::7f00:1", "127.0.0.1", "NAT64"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64"),
    ("::ffff:169.254.169.254", "169.254.169.254", "IPv4-mapped"),
    ("::ffff:127.0.0.1", "127.0.0.1", "IPv4-mapped"),
    ("::127.0.0.1", "127.0.0.1", "IPv4-compatible"),
    ("::a9fe:a9fe", "169.254.169.254", "IPv4-compatible"),
]


@pytest.mark.parametrize(("address", "inner", "form"), EMBEDDING)
def test_ipv6_literals_embedding_an_internal_ipv4_address_are_refused(
    address: str, inner: str, form: str
) -> None:
    with pytest.raises(ValueError, match=rf"embeds {inner} \({form}\), which is a"):
        check_destination(f"https://[{address}]/hook", allow_private=False, resolve=no_lookup)


@pytest.mark.parametrize(("address", "inner", "form"), EMBEDDING)
def test_names_resolving_to_an_embedding_address_are_refused(address: str, inner: str, form: str) -> None:
    resolve = resolver({"tunnel.example.com": ["93.184.215.14", address]})
    with pytest.raises(ValueError, match=rf"tunnel.example.com resolves to .*embeds {inner}"):
        check_destination("https://tunnel.example.com/hook", allow_private=False, resolve=resolve)


@pytest.mark.parametrize("address", ["64:ff9b:1::a9fe:a9fe", "64:ff9b:1:5db8:d70e::", "64:ff9b:1::5db8:d70e"])
def test_local_use_nat64_is_refused_whole(address: str) -> None:
    with pytest.raises(ValueError, match="local-use NAT64"):
        check_destination(f"https://[{address}]/hook", allow_private=False, resolve=no_lookup)


@pytest.mark.parametrize(
    "address",
    [
        "2002:5db8:d70e::1",  # 6to4 around 93.184.215.14
        "64:ff9b::5db8:d70e",  # NAT64 of 93.184.215.14
        "::ffff:93.184.215.14",  # IPv4-mapped public address
    ],
)
def test_embedding_forms_around_a_public_address_are_accepted(address: str) -> None:
    checked = check_destination(f"https://[{address}]/hook", allow_private=False, resolve=no_lookup)
    assert checked.addresses == (str(ipaddress.ip_address(address)),)


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hexadecimal
        "0x7f000001",
        "127.1",  # short form
        "017700000001",
        "127.0.0.1.",  # trailing dot
        "10.0.0.1.",
        "1.2.3.4.5",
    ],
)
def test_numeric_hosts_other_than_a_dotted_quad_are_refused_without_a_lookup(host: str) -> None:
    with pytest.raises(ValueError, match="not a canonical dotted IPv4 address"):
        check_destination(f"https://{host}/hook", allow_private=False, resolve=no_lookup)


def test_a_name_with_digits_is_still_a_name() -> None:
    resolve = resolver({"hooks1.example.com": ["93.184.215.14"], "1.example.com": ["93.184.215.14"]})
    check_destination("https://hooks1.example.com/hook", allow_private=False, resolve=resolve)
    check_destination("https://1.example.com/hook", allow_private=False, resolve=resolve)


@pytest.mark.parametrize("host", ["[fe80::1%25eth0]", "[fe80::1%eth0]", "[2606:2800:21f:cb07::1%25eth0]"])
def test_ipv6_zone_ids_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="zone id"):
        check_destination(f"https://{host}/hook", allow_private=False, resolve=no_lookup)


@pytest.mark.parametrize("answer", ["fe80::1%eth0", "2606:2800:21f:cb07::1%2"])
def test_resolved_addresses_with_a_zone_id_are_refused(answer: str) -> None:
    resolve = resolver({"zoned.example.com": [answer]})
    with pytest.raises(ValueError, match="resolves to"):
        check_destination("https://zoned.example.com/hook", allow_private=False, resolve=resolve)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@hooks.example.com/hook",
        "https://user@hooks.example.com/hook",
        "https://:secret@hooks.example.com/hook",
        "https://@hooks.example.com/hook",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_credentials_in_the_url_are_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(ValueError, match="user name or password"):
        check_destination(url, allow_private=allow_private, resolve=PUBLIC)


def test_the_checked_addresses_are_returned_ipv4_first() -> None:
    checked = check_destination(URL, allow_private=False, resolve=PUBLIC)
    assert checked.host == "hooks.example.com" and checked.port == 443 and checked.scheme == "https"
    assert checked.addresses == ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(ValueError, match="does not resolve"):
        check_destination("https://nowhere.example.com/", allow_private=False, resolve=PUBLIC)
    with pytest.raises(ValueError, match="does not resolve to any address"):
        check_destination(
            "https://empty.example.com/", allow_private=False, resolve=resolver({"empty.example.com": []})
        )


def test_allow_private_lets_local_http_through_without_a_lookup() -> None:
    check_destination("http://127.0.0.1:8080/hook", allow_private=True, resolve=no_lookup)
    check_destination("http://receiver:9000/hook", allow_private=True, resolve=no_lookup)
    with pytest.raises(ValueError, match="must use https"):
        check_destination("ftp://127.0.0.1/", allow_private=True, resolve=no_lookup)


# --- deliver -----------------------------------------------------------------------------------------


class FakeReceiver(BaseAdapter):
    """Stands in for the network inside deliver's own requests.Session, so requests' redirect and
    header handling are what get tested. `refuse` lists addresses that refuse the connection."""

    def __init__(self, answer: Callable[[PreparedRequest], Response], refuse: frozenset[str] = frozenset()):
        super().__init__()
        self.answer = answer
        self.refuse = refuse
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
        if urlsplit(str(request.url)).hostname in self.refuse:
            refused = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
            raise requests.ConnectionError(MaxRetryError(None, request.url or "", refused))  # type: ignore[arg-type]
        return self.answer(request)

    def close(self) -> None:
        pass

    @property
    def hosts(self) -> list[str | None]:
        return [urlsplit(str(r.url)).hostname for r in self.requests]


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


CHECKED = check_destination(URL, allow_private=False, resolve=PUBLIC)


def test_2xx_is_ok_and_the_request_is_signed_and_labelled() -> None:
    receiver = FakeReceiver(respond(204))
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", timeout_s=3, transport=receiver)

    assert result.ok and result.status_code == 204 and result.error is None
    assert result.duration_ms >= 0
    [sent] = receiver.requests
    # The checked IPv4 address is dialled; the name travels in Host (and in SNI, see PinnedAdapter).
    assert sent.method == "POST" and sent.url == "https://93.184.215.14:443/cashline?x=1"
    assert sent.body == BODY
    assert sent.headers["Host"] == "hooks.example.com"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"] == "Cashline-Webhooks/1"
    assert sent.headers[EVENT_ID_HEADER] == "evt_1"
    assert sent.headers[SIGNATURE_HEADER] == f"t={NOW},v1={KNOWN_V1}"
    assert verify(SECRET, BODY, sent.headers[SIGNATURE_HEADER], now=NOW)
    assert receiver.timeouts == [3]


def test_a_non_default_port_is_kept_in_the_url_and_the_host_header() -> None:
    receiver = FakeReceiver(respond(200))
    checked = check_destination("https://hooks.example.com:8443/h", allow_private=False, resolve=PUBLIC)
    deliver(checked, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    [sent] = receiver.requests
    assert sent.url == "https://93.184.215.14:8443/h"
    assert sent.headers["Host"] == "hooks.example.com:8443"


def test_dns_rebinding_never_reaches_the_address_answered_after_the_check() -> None:
    # Given a name that answers a public address to the check and 127.0.0.1 to anyone asking later
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["127.0.0.1"]])
    lookups: list[str] = []

    def rebinding(host: str) -> list[str]:
        lookups.append(host)
        return next(answers)

    receiver = FakeReceiver(respond(200))
    # When the destination is checked and then delivered to
    destination = check_destination("https://rebind.example.com/hook", allow_private=False, resolve=rebinding)
    result = deliver(destination, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    # Then the name was resolved once, and only the checked address was dialled
    assert result.ok
    assert lookups == ["rebind.example.com"]
    assert receiver.hosts == ["93.184.215.14"]
    assert receiver.requests[0].headers["Host"] == "rebind.example.com"
    # And a check after the rebinding refuses it
    with pytest.raises(ValueError, match=r"127\.0\.0\.1, which is a loopback"):
        check_destination("https://rebind.example.com/hook", allow_private=False, resolve=rebinding)


def test_the_next_checked_address_is_tried_only_when_the_first_refuses_to_connect() -> None:
    receiver = FakeReceiver(respond(200), refuse=frozenset({"93.184.215.14"}))
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert result.ok
    assert receiver.hosts == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert receiver.requests[1].url == "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/cashline?x=1"


def test_a_failure_after_connecting_is_not_retried_on_another_address() -> None:
    receiver = FakeReceiver(fail_with(requests.ReadTimeout("read timed out")))
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", timeout_s=5, transport=receiver)
    assert len(receiver.requests) == 1  # the event may have arrived: it is not sent twice
    assert not result.ok and result.status_code is None
    assert result.error == "timed out after 5s"


def test_the_pinned_adapter_speaks_tls_to_the_name_not_the_address() -> None:
    request = requests.Request("POST", "https://93.184.215.14:443/hook").prepare()
    host_params, pool_kwargs = PinnedAdapter("hooks.example.com").build_connection_pool_key_attributes(
        request, True
    )
    assert host_params == {"scheme": "https", "host": "93.184.215.14", "port": 443}
    assert pool_kwargs["cert_reqs"] == "CERT_REQUIRED"
    assert dict(pool_kwargs).get("server_hostname") == "hooks.example.com"  # SNI
    assert dict(pool_kwargs).get("assert_hostname") == "hooks.example.com"  # the certificate's name


def test_an_ip_literal_destination_is_dialled_as_written_without_sni() -> None:
    receiver = FakeReceiver(respond(200))
    checked = check_destination("https://93.184.215.14/hook", allow_private=False, resolve=PUBLIC)
    assert checked.addresses == ("93.184.215.14",)
    deliver(checked, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert receiver.requests[0].headers["Host"] == "93.184.215.14"


def test_the_local_stage_connects_by_name() -> None:
    receiver = FakeReceiver(respond(200))
    local = check_destination("http://receiver:9000/hook", allow_private=True)
    assert local.addresses == ()
    deliver(local, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert receiver.requests[0].url == "http://receiver:9000/hook"
    assert receiver.requests[0].headers["Host"] == "receiver:9000"


def test_several_secrets_give_one_v1_each() -> None:
    receiver = FakeReceiver(respond(200))
    deliver(CHECKED, BODY, ["whsec_new", SECRET], now=NOW, event_id="evt_1", transport=receiver)
    header = receiver.requests[0].headers[SIGNATURE_HEADER]
    assert header.count("v1=") == 2 and f"v1={KNOWN_V1}" in header


def test_server_error_is_not_ok() -> None:
    receiver = FakeReceiver(respond(500))
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert result == Delivery(ok=False, status_code=500, error="HTTP 500", duration_ms=result.duration_ms)


def test_connection_error_is_not_ok_and_does_not_raise() -> None:
    receiver = FakeReceiver(fail_with(requests.ConnectionError("connection reset")))
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert not result.ok and result.status_code is None
    assert result.error is not None and "connection reset" in result.error
    assert len(receiver.requests) == 1  # reset after connecting: not sent again elsewhere


def test_every_address_refusing_is_a_failed_delivery() -> None:
    receiver = FakeReceiver(
        respond(200), refuse=frozenset({"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"})
    )
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert not result.ok and result.error is not None and "refused" in result.error
    assert len(receiver.requests) == 2


def test_redirect_is_not_followed() -> None:
    receiver = FakeReceiver(respond(302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    result = deliver(CHECKED, BODY, SECRET, now=NOW, event_id="evt_1", transport=receiver)
    assert len(receiver.requests) == 1  # nothing was sent to the Location
    assert not result.ok and result.status_code == 302
    assert result.error is not None and "169.254.169.254" in result.error and "not followed" in result.error


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
