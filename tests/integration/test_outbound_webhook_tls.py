"""Outbound webhooks over real TLS: delivery dials the checked address, yet SNI, the certificate check
and the Host header all use the URL's name (issue 11, finding 6: DNS rebinding).

A local TLS server on 127.0.0.1 plays the tenant's receiver; its certificate, from a throwaway CA,
names hooks.example.com only. Nothing resolves hooks.example.com here, so a delivery that succeeds
connected to the pinned address and nowhere else.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cashline.adapters.outbound_webhooks import SIGNATURE_HEADER, Destination, deliver, verify

# Certificates need a validity window; a fixed one keeps the test off the wall clock's date.
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2099, 1, 1, tzinfo=UTC)
SECRET = "whsec_tls_test"
NOW = 1_700_000_000


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_ca_and_leaf(directory: Path, dns_name: str) -> tuple[Path, Path, Path]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Cashline test CA"))
        .issuer_name(_name("Cashline test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


@dataclass
class Receiver:
    port: int
    ca_bundle: str
    server_names: list[str | None] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    ca_path, cert_path, key_path = _write_ca_and_leaf(tmp_path_factory.mktemp("tls"), "hooks.example.com")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    seen = Receiver(port=0, ca_bundle=str(ca_path))

    def remember_sni(_sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        seen.server_names.append(server_name)

    context.sni_callback = remember_sni

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


def _pinned(host: str, port: int) -> Destination:
    # As check_destination would return it had the name resolved to a public address; the address
    # here is loopback because the stand-in receiver runs on this machine.
    return Destination(
        url=f"https://{host}:{port}/hook?tenant=t1",
        scheme="https",
        host=host,
        port=port,
        addresses=("127.0.0.1",),
    )


def test_delivery_dials_the_checked_address_with_the_name_in_sni_host_and_certificate(
    receiver: Receiver,
) -> None:
    receiver.requests.clear()
    receiver.server_names.clear()
    body = b'{"alert":"large_payment"}'

    result = deliver(
        _pinned("hooks.example.com", receiver.port),
        body,
        SECRET,
        now=NOW,
        event_id="evt_tls",
        ca_bundle=receiver.ca_bundle,
    )

    assert result.ok and result.status_code == 204, result.error
    assert receiver.server_names == ["hooks.example.com"]
    [(path, headers, received)] = receiver.requests
    assert path == "/hook?tenant=t1"
    assert headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert received == body
    assert verify(SECRET, body, headers[SIGNATURE_HEADER], now=NOW)


def test_a_certificate_for_another_name_is_refused_and_nothing_is_sent(receiver: Receiver) -> None:
    receiver.requests.clear()

    result = deliver(
        _pinned("other.example.com", receiver.port),
        b"{}",
        SECRET,
        now=NOW,
        event_id="evt_tls_2",
        ca_bundle=receiver.ca_bundle,
    )

    assert not result.ok and result.status_code is None
    assert result.error is not None and "certificate" in result.error.lower()
    assert receiver.requests == []


def test_an_untrusted_certificate_is_refused(receiver: Receiver) -> None:
    # The system's CAs (no test CA): the stand-in's certificate must not be accepted.
    result = deliver(
        _pinned("hooks.example.com", receiver.port), b"{}", SECRET, now=NOW, event_id="evt_tls_3"
    )
    assert not result.ok and result.error is not None and "certificate" in result.error.lower()
