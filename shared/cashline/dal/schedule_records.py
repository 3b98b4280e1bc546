"""Records that make scheduled work exactly-once: one claim per (schedule, tick), one cursor per sweep.

These are platform records, not a tenant's: their partition is the schedule's name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist

from cashline.dal.errors import storage_errors
from cashline.dal.table import CashlineItem
from cashline.errors import ConflictError

TICK_RETENTION = timedelta(days=30)


class TickClaimRecord(CashlineItem, discriminator="tick_claim"):
    schedule = UnicodeAttribute()
    tick_at = UTCDateTimeAttribute()
    claimed_by = UnicodeAttribute()


class SweepCursorRecord(CashlineItem, discriminator="sweep_cursor"):
    version = VersionAttribute()
    schedule = UnicodeAttribute()
    swept_until = UTCDateTimeAttribute()


def _partition(schedule: str) -> str:
    return f"SCHEDULE#{schedule}"


class ScheduleRepository:
    def claim_tick(self, schedule: str, tick_at: datetime, claimed_by: str, now: datetime) -> bool:
        """True for the first claim of this tick; False when the tick was already claimed."""
        record = TickClaimRecord(
            pk=_partition(schedule),
            sk=f"TICK#{tick_at.isoformat()}",
            schedule=schedule,
            tick_at=tick_at,
            claimed_by=claimed_by,
            created_at=now,
            updated_at=now,
            expires_at_epoch=now + TICK_RETENTION,
        )
        try:
            with storage_errors("tick already claimed"):
                record.save(condition=TickClaimRecord.pk.does_not_exist())
        except ConflictError:
            return False
        return True

    def swept_until(self, schedule: str) -> datetime | None:
        try:
            record = SweepCursorRecord.get(_partition(schedule), "CURSOR", consistent_read=True)
        except DoesNotExist:
            return None
        return record.swept_until

    def advance_cursor(self, schedule: str, until: datetime, now: datetime) -> None:
        """Move the cursor forward only: a late, older tick never moves it back."""
        try:
            record = SweepCursorRecord.get(_partition(schedule), "CURSOR", consistent_read=True)
        except DoesNotExist:
            record = SweepCursorRecord(
                pk=_partition(schedule), sk="CURSOR", schedule=schedule, swept_until=until, created_at=now
            )
        if record.swept_until > until:
            return
        record.swept_until = until
        record.updated_at = now
        try:
            with storage_errors("cursor moved at the same time"):
                record.save()
        except ConflictError:
            # Another sweep advanced it concurrently; its value is at least as good as ours.
            return
