"""Keys of the sharded `due` index, and the sweep's read of what is due.

Partition: `DUE#<job>#<YYYY-MM-DD>#<shard>`: one day of one job, spread over DUE_SHARDS
partitions by a stable hash of the entity, so a busy day (every invoice due on the 1st) is not one
hot partition. Sort key: `<UTC instant>#<tenant>#<entity>`, so `due_sk <= now` selects what is due.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from cashline.dal.table import CashlineItem

DUE_SHARDS = 8


def _shard(entity_id: str) -> int:
    return int(hashlib.sha256(entity_id.encode()).hexdigest()[:8], 16) % DUE_SHARDS


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_partition(job: str, day: date, shard: int) -> str:
    return f"DUE#{job}#{day.isoformat()}#{shard}"


def due_keys(job: str, at: datetime, tenant_id: str, entity_id: str) -> tuple[str, str]:
    day = at.astimezone(UTC).date()
    return due_partition(job, day, _shard(entity_id)), f"{_instant(at)}#{tenant_id}#{entity_id}"


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def query_due(job: str, *, since: datetime, now: datetime) -> Iterator[CashlineItem]:
    """Items of `job` due at or before `now`, looking back to the day of `since`.

    Cost: one Query per (day, shard), returning only due items: done work has left the index.
    """
    cutoff = _instant(now) + "~"  # '~' sorts after every '#<tenant>...' suffix of the same second
    for day in days_between(since.astimezone(UTC).date(), now.astimezone(UTC).date()):
        for shard in range(DUE_SHARDS):
            yield from CashlineItem.due.query(due_partition(job, day, shard), CashlineItem.due_sk <= cutoff)
