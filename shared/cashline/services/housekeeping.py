"""The hourly housekeeping sweep: expires API keys whose time has come. Exactly once per tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cashline.dal.access_records import ApiKeyRecord
from cashline.dal.access_repository import API_KEY_EXPIRY_JOB, ApiKeyRepository
from cashline.dal.due import query_due
from cashline.dal.schedule_records import ScheduleRepository
from cashline.domain.access import KeyStatus
from cashline.errors import ConflictError
from cashline.observability import logger

SCHEDULE_NAME = "housekeeping"

schedules = ScheduleRepository()
api_keys = ApiKeyRepository()


@dataclass(frozen=True, slots=True)
class SweepResult:
    claimed: bool
    keys_expired: int = 0
    items_read: int = 0


def run_housekeeping(*, tick_at: datetime, now: datetime, lookback: timedelta, worker: str) -> SweepResult:
    """Claim the tick (a second delivery of the same tick does nothing), then expire due keys.

    Reads start at the last swept instant (or `lookback` before the tick on a first run), so a
    missed hour is caught up and nothing that is not due is read.
    """
    if not schedules.claim_tick(SCHEDULE_NAME, tick_at, worker, now):
        logger.info("tick already handled", schedule=SCHEDULE_NAME, tick_at=tick_at.isoformat())
        return SweepResult(claimed=False)
    since = schedules.swept_until(SCHEDULE_NAME) or tick_at - lookback
    expired = read = 0
    for item in query_due(API_KEY_EXPIRY_JOB, since=since, now=tick_at):
        read += 1
        if not isinstance(item, ApiKeyRecord):
            continue
        try:
            key = api_keys.set_status_of(item, KeyStatus.EXPIRED, now)
        except ConflictError:
            continue  # revoked or changed meanwhile: no longer this sweep's to expire
        expired += key.status is KeyStatus.EXPIRED
    schedules.advance_cursor(SCHEDULE_NAME, tick_at, now)
    logger.info("housekeeping done", tick_at=tick_at.isoformat(), keys_expired=expired, items_read=read)
    return SweepResult(claimed=True, keys_expired=expired, items_read=read)
