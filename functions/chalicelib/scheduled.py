"""Scheduled handlers of housekeeping and invoices (chalicelib.schedule_ticks: what they share)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.runtime import deferred
from chalicelib.schedule_ticks import sweep_tick

if TYPE_CHECKING:
    from cashline.services import housekeeping as housekeeping_service
    from cashline.services import invoices
else:  # imported by the first tick (chalicelib.runtime.deferred): the API function never pays them
    housekeeping_service = deferred("cashline.services.housekeeping")
    invoices = deferred("cashline.services.invoices")

schedules = Blueprint(__name__)


@schedules.schedule(Rate(1, unit=Rate.HOURS), name="housekeeping", description="Expire API keys that are due")
def housekeeping(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "keys_expired", housekeeping_service.run_housekeeping)


@schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="invoice_overdue_check",
    description="Mark invoices overdue the day after their due date, in the tenant's time zone",
)
def invoice_overdue_check(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "invoices_overdue", invoices.run_overdue_check)
