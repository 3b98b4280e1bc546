"""Opaque cursors over DynamoDB's LastEvaluatedKey.

A cursor is checked against the partition being listed, so a cursor from another tenant (or a
forged one) is a 400 naming `starting_after`, never a way into someone else's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cashline.errors import ValidationError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, partition_attr: str, partition_value: str) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(
            "starting_after is not a cursor this API issued", field="starting_after"
        ) from exc
    if not isinstance(decoded, dict) or decoded.get(partition_attr) != {"S": partition_value}:
        raise ValidationError("starting_after is not a cursor for this list", field="starting_after")
    return decoded
