"""PayPal's side of webhook signatures, locally: a signing key and certificate made at start, and
the headers PayPal would send (transmission id, time, CRC32 of the body, RSA-SHA256). The API reads
the certificate from a file instead of PayPal's certificate URL (CASHLINE_PAYPAL_CERT_FILE)."""

from __future__ import annotations

import base64
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-local"


class PayPalSigner:
    def __init__(self, directory: Path):
        self.directory = directory
        self.certificate_file = directory / "paypal-signing-cert.pem"
        self._key: rsa.RSAPrivateKey | None = None

    def ensure(self) -> PayPalSigner:
        """A fresh key and certificate each time the local cloud starts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.com")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # Valid at any instant a test or a `tick --at` may run the app at, not only around today.
            .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
            .sign(key, hashes.SHA256())
        )
        self.certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self._key = key
        return self

    def headers(self, body: bytes, webhook_id: str, *, at: datetime | None = None) -> dict[str, str]:
        if self._key is None:
            self.ensure()
        assert self._key is not None
        transmission_id = str(uuid.uuid4())
        sent = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"{transmission_id}|{sent}|{webhook_id}|{zlib.crc32(body)}".encode()
        signature = self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": sent,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": CERT_URL,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }
