"""Keys of the sharded `due` index, and the sweep's read of what is due.

Partition: `DUE#<job>#<shard>`: one job, spread over DUE_SHARDS partitions by a stable hash of the
entity, so a busy moment (every invoice due on the 1st) is not one hot partition. Sort key:
`<UTC instant>#<tenant>#<entity>`, so `due_sk <= now` selects what is due.

No day (and no sweep cursor) in the partition: a sweep reads every partition of its job up to
`now`, so an item is found whatever its due moment, however late it was written (backdated, imported
late, created between two ticks, or after a tick at a later instant). That stays cheap because the
index is sparse: done work leaves it, so `due_sk <= now` returns only what is still to do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from cashline.dal.errors import storage_errors
from cashline.dal.table import CashlineItem
from cashline.errors import ConflictError

# 16 partitions per job: a Query each per tick, and writes spread well beyond one partition's limits.
DUE_SHARDS = 16


def _shard(entity_id: str) -> int:
    return int(hashlib.sha256(entity_id.encode()).hexdigest()[:8], 16) % DUE_SHARDS


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_partition(job: str, shard: int) -> str:
    return f"DUE#{job}#{shard}"


def due_keys(job: str, at: datetime, tenant_id: str, entity_id: str) -> tuple[str, str]:
    return due_partition(job, _shard(entity_id)), f"{_instant(at)}#{tenant_id}#{entity_id}"


def query_due(job: str, *, now: datetime) -> Iterator[CashlineItem]:
    """Items of `job` due at or before `now`, however long ago they fell due.

    Cost: one Query per shard, returning only due items: done work has left the index.
    """
    cutoff = _instant(now) + "~"  # '~' sorts after every '#<tenant>...' suffix of the same second
    for shard in range(DUE_SHARDS):
        yield from CashlineItem.due.query(due_partition(job, shard), CashlineItem.due_sk <= cutoff)


def lease(
    record: CashlineItem,
    *,
    job: str,
    tenant_id: str,
    entity_id: str,
    until: datetime,
    now: datetime,
    also: Sequence[Action] = (),
) -> bool:
    """Take a due item for one worker until `until`: one conditional write, so of two sweeps (or one
    run twice) exactly one gets it. False when someone else took it or it changed since it was read.

    `record` carries the keys and, for a versioned record, the version that was read (PynamoDB
    conditions the update on it and adds one). The item stays on the `due` index at `until`: if this
    worker dies mid-way, a later sweep takes it again when the lease ends. `also`: the record's own
    changes made in the same write (an installment's PROCESSING status).
    """
    model = type(record)
    if model._version_attribute_name is None:
        # Without a version, two workers that read the same item would both pass `due_pk exists`.
        raise TypeError(f"{model.__name__} has no version attribute: it cannot be leased safely")
    lease_pk, lease_sk = due_keys(job, until, tenant_id, entity_id)
    actions: list[Action] = [
        model.due_pk.set(lease_pk),
        model.due_sk.set(lease_sk),
        model.updated_at.set(now),
        *also,
    ]
    try:
        with storage_errors("taken by another worker", job=job):
            record.update(actions=actions, condition=model.due_pk.exists())
    except ConflictError:
        return False
    return True


_LEGACY_PARTITION = re.compile(r"^DUE#(?P<job>[^#]+)#\d{4}-\d{2}-\d{2}#\d+$")


def rekey_legacy_due_items() -> int:
    """Once, after deploying this key layout over data written with the old one
    (`DUE#<job>#<day>#<shard>`): move every item still in the index to its job's partition, so the
    sweeps find it. A Scan, but of the sparse index only (work still to do). An item changed
    meanwhile keeps its new key (the update is conditional on the old one). Returns how many moved.
    """
    moved = 0
    for item in CashlineItem.due.scan():
        match = _LEGACY_PARTITION.match(item.due_pk or "")
        if match is None or item.due_sk is None:
            continue
        _, _, entity = item.due_sk.split("#", 2)
        model = type(item)
        try:
            item.update(
                actions=[model.due_pk.set(due_partition(match["job"], _shard(entity)))],
                condition=model.due_pk == item.due_pk,
            )
        except UpdateError:
            continue  # changed meanwhile: its writer gave it a current key
        moved += 1
    return moved
