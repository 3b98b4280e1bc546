"""The shape every scheduled sweep shares: claim the tick, read everything due at the tick's instant
from the `due` index (however long ago it fell due), handle each item, record how far it swept."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cashline.dal.due import query_due
from cashline.dal.schedule_records import ScheduleRepository
from cashline.dal.table import CashlineItem
from cashline.errors import ConflictError
from cashline.observability import MetricUnit, logger, metrics

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
    worker: str,
    handle: Callable[[CashlineItem], bool],
    time_budget_s: float | None = None,
) -> SweepResult:
    """Run `handle` once per due item; it returns whether it changed something.

    A second delivery of the same tick does nothing. Every tick reads all that is due at its
    instant, whatever the ticks before it did: an item backdated, imported late or written between
    two ticks is found by the next one, and a tick at an earlier instant than the last one (a replay,
    `cashline tick --at` in the past) makes no later tick skip anything. Done work leaves the index,
    so this reads only what is still to do. An item changed concurrently by someone else (a
    ConflictError) is skipped: it is no longer due as read, and stays in the index if still due.

    With a `time_budget_s`, a sweep that runs out of time (a Lambda has a deadline) stops: the next
    tick reads the same partitions again and finds what is left.
    """
    if not schedules.claim_tick(schedule, tick_at, worker, tick_at):
        logger.info("tick already handled", schedule=schedule, tick_at=tick_at.isoformat())
        return SweepResult(claimed=False)
    read = changed = failed = 0
    started = time.monotonic()
    for item in query_due(job, now=tick_at):
        if time_budget_s is not None and time.monotonic() - started > time_budget_s:
            logger.warning("sweep out of time; the next tick goes on", schedule=schedule, items_read=read)
            return SweepResult(claimed=True, items_read=read, items_changed=changed)
        read += 1
        try:
            changed += handle(item)
        except ConflictError:
            logger.info("due item changed meanwhile; skipped", schedule=schedule, pk=item.pk)
        except Exception:
            # Every tick reads everything due, so one item that cannot be handled (a bug, data no
            # renderer can take) would otherwise stop the sweep for every tenant at every tick. It
            # stays due and is tried again next tick; the log and the metric make it visible.
            logger.exception("due item failed; the sweep goes on", schedule=schedule, pk=item.pk)
            metrics.add_metric(name="SweepItemFailed", unit=MetricUnit.Count, value=1)
            failed += 1
    # Only a record of progress for people and tests (`swept_until`): no read starts from it.
    schedules.advance_cursor(schedule, tick_at, tick_at)
    logger.info(
        "sweep done",
        schedule=schedule,
        tick_at=tick_at.isoformat(),
        items_read=read,
        changed=changed,
        failed=failed,
    )
    return SweepResult(claimed=True, items_read=read, items_changed=changed)
