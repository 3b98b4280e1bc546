"""Reconciliation's schedules: bank_match matches the bank lines an import left on the `due` index (a
file's lines beyond those the import matches at once); payout_bank_check flags processor payouts no
bank line showed within the tenant's `not_in_bank_days`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.runtime import deferred
from chalicelib.schedule_ticks import sweep_tick

if TYPE_CHECKING:
    from cashline.services.bank import bank_check_sweep, matching
else:  # imported by the first tick (chalicelib.runtime.deferred): the API function never pays them
    matching = deferred("cashline.services.bank.matching")
    bank_check_sweep = deferred("cashline.services.bank.bank_check_sweep")

bank_schedules = Blueprint(__name__)


@bank_schedules.schedule(
    Rate(5, unit=Rate.MINUTES),
    name="bank_match",
    description="Match imported bank lines still waiting (a statement's lines beyond the first 200)",
)
def bank_match(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "matched", matching.run_bank_match)


# Hourly: checks fall due at 00:00 UTC and a tenant west of UTC is postponed until its own day begins.
@bank_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="payout_bank_check",
    description="Flag processor payouts no bank line showed within the tenant's not_in_bank_days",
)
def payout_bank_check(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "flagged", bank_check_sweep.run_bank_check)
