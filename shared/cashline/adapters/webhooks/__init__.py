"""Provider webhooks: each module verifies a delivery's signature with the provider's own scheme and
translates its events into `PaymentEvent`s (schemas/payment_events.py). Nothing here touches storage."""

from __future__ import annotations


class SignatureError(Exception):
    """The delivery is not from the provider: missing, malformed, expired or wrong signature.

    The message says which, for the log line; the HTTP answer never echoes it in detail."""


class MalformedEventError(Exception):
    """The signature is right but the body is not an event the adapter can read."""
