"""Identifiers: a type prefix and a time-ordered random part (ULID layout, Crockford base32).

Time order matters: records keyed by id sort by creation in DynamoDB, so "list newest/oldest"
needs no extra index, and the random 80 bits keep ids unguessable across tenants.
"""

from __future__ import annotations

import re
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_PATTERN = re.compile(r"^[a-z]{2,5}_[0-9A-HJKMNP-TV-Z]{26}$")

PREFIXES = {
    "tenant": "ten",
    "api_key": "key",
    "counterparty": "cp",
    "invoice": "inv",
    "payment": "pay",
    "plan": "fin",
    "installment": "ins",
    "campaign": "cmp",
    "document": "doc",
    "event": "evt",
    "connection": "pcn",
    "alert": "alr",
    "promise": "prm",
    "letter": "ltr",
    "task": "tsk",
    "bank_account": "ba",
    "bank_import": "bsi",
    "bank_statement": "bst",
    "bank_transaction": "btx",
    "bank_discrepancy": "bdc",
    "product": "prd",
    "price": "prc",
    "subscription": "sub",
    "subscription_item": "si",
    "usage_record": "usg",
    "scheduled_change": "ssc",
    "charge_attempt": "chg",
}


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, remainder = divmod(value, 32)
        chars.append(_CROCKFORD[remainder])
    return "".join(reversed(chars))


def new_id(kind: str, *, now_ms: int | None = None) -> str:
    """A new id for an entity kind, e.g. ``new_id("tenant") -> "ten_01J..."``."""
    prefix = PREFIXES[kind]
    timestamp_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}_{_encode(timestamp_ms, 10)}{_encode(secrets.randbits(80), 16)}"


def is_id_of(kind: str, value: str) -> bool:
    """True when ``value`` is well formed and carries the prefix of ``kind``."""
    return bool(_ID_PATTERN.match(value)) and value.startswith(PREFIXES[kind] + "_")
