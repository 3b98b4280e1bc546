"""The shape every scheduled sweep shares: claim the tick, read what fell due since the last sweep
from the `due` index, handle each item, advance the cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cashline.dal.due import query_due
from cashline.dal.schedule_records import ScheduleRepository
from cashline.dal.table import CashlineItem
from cashline.errors import ConflictError
from cashline.observability import logger

schedules = ScheduleRepository()


@dataclass(frozen=True, slots=True)
class SweepResult:
    claimed: bool
    items_read: int = 0
    items_changed: int = 0


def sweep(
    *,
    schedule: str,
    job: str,
    tick_at: datetime,
    lookback: timedelta,
    worker: str,
    handle: Callable[[CashlineItem], bool],
    time_budget_s: float | None = None,
) -> SweepResult:
    """Run `handle` once per due item; it returns whether it changed something.

    A second delivery of the same tick does nothing. A crashed or skipped tick leaves the cursor
    where it was, so the next tick reads from there: nothing due is ever left behind. An item
    changed concurrently by someone else (a ConflictError) is skipped: it is no longer due as read.

    With a `time_budget_s`, a sweep that runs out of time (a Lambda has a deadline) stops and leaves
    the cursor where it was: the next tick reads the same partitions again and finds what is left.
    """
    if not schedules.claim_tick(schedule, tick_at, worker, tick_at):
        logger.info("tick already handled", schedule=schedule, tick_at=tick_at.isoformat())
        return SweepResult(claimed=False)
    since = schedules.swept_until(schedule) or tick_at - lookback
    read = changed = 0
    started = time.monotonic()
    for item in query_due(job, since=since, now=tick_at):
        if time_budget_s is not None and time.monotonic() - started > time_budget_s:
            logger.warning("sweep out of time; the next tick goes on", schedule=schedule, items_read=read)
            return SweepResult(claimed=True, items_read=read, items_changed=changed)
        read += 1
        try:
            changed += handle(item)
        except ConflictError:
            logger.info("due item changed meanwhile; skipped", schedule=schedule, pk=item.pk)
    schedules.advance_cursor(schedule, tick_at, tick_at)
    logger.info(
        "sweep done", schedule=schedule, tick_at=tick_at.isoformat(), items_read=read, changed=changed
    )
    return SweepResult(claimed=True, items_read=read, items_changed=changed)
