"""Scheduled handlers. Each takes "now" from the EventBridge event's `time`, never the wall clock,
so `cashline tick --at ...` and replays run exactly as the real tick did."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from cashline.clock import parse_utc
from cashline.services.housekeeping import run_housekeeping
from cashline.services.invoices import run_overdue_check
from chalicelib.runtime import scheduler_ready

schedules = Blueprint(__name__)


@schedules.schedule(Rate(1, unit=Rate.HOURS), name="housekeeping", description="Expire API keys that are due")
def housekeeping(event: CloudWatchEvent) -> dict[str, Any]:
    settings = scheduler_ready()
    tick_at = parse_utc(event.time)
    result = run_housekeeping(
        tick_at=tick_at, lookback=timedelta(days=settings.sweep_lookback_days), worker=event.event_id
    )
    return {"claimed": result.claimed, "keys_expired": result.items_changed, "items_read": result.items_read}


@schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="invoice_overdue_check",
    description="Mark invoices overdue the day after their due date, in the tenant's time zone",
)
def invoice_overdue_check(event: CloudWatchEvent) -> dict[str, Any]:
    settings = scheduler_ready()
    tick_at = parse_utc(event.time)
    result = run_overdue_check(
        tick_at=tick_at, lookback=timedelta(days=settings.sweep_lookback_days), worker=event.event_id
    )
    return {
        "claimed": result.claimed,
        "invoices_overdue": result.items_changed,
        "items_read": result.items_read,
    }
