"""Cashline's domain events on EventBridge ("invoice.paid", "payout.failed", ...).

EventBridge delivers at least once, so every event carries its own `event_id` in the detail and
consumers dedupe on it (the envelope's `id` is assigned by EventBridge on each PutEvents, so a retried
publish would get a new one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3

from cashline.adapters.aws import _CLIENT_CONFIG
from cashline.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

__all__ = ["SOURCE", "DomainEvent", "EventPublisher", "PublishError"]

SOURCE = "cashline"
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit
MAX_REQUEST_BYTES = 256 * 1024  # PutEvents' limit for the entries of one call, summed
MAX_RETRIES = 3
# The fields we add to every detail; a detail of its own must not carry them (it would hide ours).
_ENVELOPE_KEYS = frozenset({"tenant_id", "event_id", "occurred_at"})


class PublishError(RuntimeError):
    def __init__(self, failed: dict[str, str]):
        self.failed = failed  # event_id -> "ErrorCode: ErrorMessage" of the last attempt
        listed = ", ".join(f"{event_id} ({reason})" for event_id, reason in failed.items())
        super().__init__(f"EventBridge refused {len(failed)} event(s) after {MAX_RETRIES} retries: {listed}")


@dataclass(frozen=True, slots=True)
class DomainEvent:
    detail_type: str
    tenant_id: str
    detail: dict[str, Any] = field(hash=False)
    event_id: str
    occurred_at: datetime

    def __post_init__(self) -> None:
        # A naive time would be read differently by each consumer; an aware one has one meaning.
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at of event {self.event_id} must be timezone-aware")
        clashing = _ENVELOPE_KEYS & self.detail.keys()
        if clashing:
            raise ValueError(f"detail of event {self.event_id} must not contain {sorted(clashing)}")

    def detail_json(self) -> str:
        document = {
            **self.detail,
            "tenant_id": self.tenant_id,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
        }
        return json.dumps(document, default=_json_default, separators=(",", ":"))


def _json_default(value: object) -> str:
    # Money stays exact (a string, never a float); dates as ISO like occurred_at.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime too: it is a date
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} into an event detail")


def _entry_size(entry: PutEventsRequestEntryTypeDef) -> int:
    # AWS's published formula: 14 bytes for Time plus the UTF-8 size of the text fields.
    texts = (entry["Source"], entry["DetailType"], entry["Detail"])
    return 14 + sum(len(text.encode()) for text in texts)


class EventPublisher:
    def __init__(
        self,
        bus_name: str,
        *,
        region: str,
        endpoint: str | None,
        sleep: Callable[[float], None] = time.sleep,
        retry_backoff_s: float = 0.1,
    ):
        self.bus_name = bus_name
        self._region = region
        self._endpoint = endpoint
        self._sleep = sleep
        self._retry_backoff_s = retry_backoff_s
        self._client: EventBridgeClient | None = None

    @property
    def client(self) -> EventBridgeClient:
        # Created on first use: building a boto3 client costs tens of milliseconds of cold start,
        # wasted for the many requests that publish nothing.
        if self._client is None:
            self._client = boto3.client(
                "events", region_name=self._region, endpoint_url=self._endpoint, config=_CLIENT_CONFIG
            )
        return self._client

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Publishes every event or raises PublishError naming those EventBridge kept refusing.

        Events that were accepted stay published even when others fail: PutEvents is not atomic.
        """
        entries = [(event.event_id, self._entry(event)) for event in events]
        failed: dict[str, str] = {}
        for batch in _batches(entries):
            failed.update(self._put_with_retries(batch))
        if failed:
            raise PublishError(failed)

    def _entry(self, event: DomainEvent) -> PutEventsRequestEntryTypeDef:
        entry: PutEventsRequestEntryTypeDef = {
            "Source": SOURCE,
            "DetailType": event.detail_type,
            "Detail": event.detail_json(),
            "Time": event.occurred_at,
            "EventBusName": self.bus_name,
        }
        if _entry_size(entry) > MAX_REQUEST_BYTES:
            # EventBridge would refuse the whole call; say which event is to blame instead.
            raise ValueError(f"event {event.event_id} is larger than EventBridge's 256 KB limit")
        return entry

    def _put_with_retries(self, batch: list[tuple[str, PutEventsRequestEntryTypeDef]]) -> dict[str, str]:
        """Returns event_id -> reason for the entries still refused after the last retry."""
        pending = batch
        reasons: dict[str, str] = {}
        for attempt in range(MAX_RETRIES + 1):
            if attempt:
                self._sleep(self._retry_backoff_s * 2 ** (attempt - 1))
            answer = self.client.put_events(Entries=[entry for _, entry in pending])
            if not answer.get("FailedEntryCount"):
                return {}
            # Results come back in the order of the request's entries; only the failed ones go again,
            # the others are already on the bus and resending them would duplicate them.
            still_failing = []
            reasons = {}
            for (event_id, entry), result in zip(pending, answer["Entries"], strict=True):
                if "ErrorCode" in result:
                    still_failing.append((event_id, entry))
                    reasons[event_id] = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
            logger.warning(
                "EventBridge refused events",
                extra={"attempt": attempt + 1, "bus": self.bus_name, "refused": reasons},
            )
            if not still_failing:  # a count without failed entries: nothing left to resend
                return {}
            pending = still_failing
        return reasons


def _batches(
    entries: list[tuple[str, PutEventsRequestEntryTypeDef]],
) -> Iterator[list[tuple[str, PutEventsRequestEntryTypeDef]]]:
    """At most 10 entries and 256 KB per call, in the original order."""
    batch: list[tuple[str, PutEventsRequestEntryTypeDef]] = []
    size = 0
    for item in entries:
        item_size = _entry_size(item[1])
        if batch and (len(batch) == MAX_ENTRIES_PER_CALL or size + item_size > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch
