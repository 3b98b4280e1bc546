"""The hourly housekeeping sweep: expires API keys whose time has come. Exactly once per tick."""

from __future__ import annotations

from datetime import datetime

from cashline.dal.access_records import ApiKeyRecord
from cashline.dal.access_repository import API_KEY_EXPIRY_JOB, ApiKeyRepository
from cashline.dal.table import CashlineItem
from cashline.domain.access import KeyStatus
from cashline.services.sweeps import SweepResult, sweep

SCHEDULE_NAME = "housekeeping"

api_keys = ApiKeyRepository()


def run_housekeeping(*, tick_at: datetime, worker: str) -> SweepResult:
    def expire(item: CashlineItem) -> bool:
        if not isinstance(item, ApiKeyRecord):
            return False
        return api_keys.set_status_of(item, KeyStatus.EXPIRED, tick_at).status is KeyStatus.EXPIRED

    return sweep(
        schedule=SCHEDULE_NAME,
        job=API_KEY_EXPIRY_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=expire,
    )
