"""Scheduled handlers of housekeeping and invoices (chalicelib.schedule_ticks: what they share)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from cashline.services.housekeeping import run_housekeeping
from cashline.services.invoices import run_overdue_check
from chalicelib.schedule_ticks import sweep_tick

schedules = Blueprint(__name__)


@schedules.schedule(Rate(1, unit=Rate.HOURS), name="housekeeping", description="Expire API keys that are due")
def housekeeping(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "keys_expired", run_housekeeping)


@schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="invoice_overdue_check",
    description="Mark invoices overdue the day after their due date, in the tenant's time zone",
)
def invoice_overdue_check(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "invoices_overdue", run_overdue_check)
