"""The clock is passed in, never read inside domain code, so sweeps are testable at any date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_utc(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (EventBridge's ``time``, a CLI flag) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.astimezone(UTC)


def fixed_clock(at: datetime) -> Clock:
    return lambda: at
