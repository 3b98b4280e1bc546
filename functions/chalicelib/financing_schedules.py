"""Scheduled handlers of financing: payouts, debits, reminders. A module of their own so the other
scheduled functions do not pay the processor SDKs' import at cold start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from cashline.clock import parse_utc
from cashline.config import SchedulerSettings, url_text
from cashline.services.debits import DebitRuntime, mailer_for, run_debits, run_payouts, run_reminders
from chalicelib.runtime import scheduler_ready

financing_schedules = Blueprint(__name__)


def _lookback(settings: SchedulerSettings) -> timedelta:
    return timedelta(days=settings.sweep_lookback_days)


@financing_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="financing_payouts",
    description="Pay suppliers of financed bills on their payout date",
)
def financing_payouts(event: CloudWatchEvent) -> dict[str, Any]:
    settings = scheduler_ready()
    result = run_payouts(tick_at=parse_utc(event.time), lookback=_lookback(settings), worker=event.event_id)
    return {"claimed": result.claimed, "payouts": result.items_changed, "items_read": result.items_read}


@financing_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="installment_debits",
    description="Start (or retry, or follow up) the installment debits that are due",
)
def installment_debits(event: CloudWatchEvent) -> dict[str, Any]:
    settings = scheduler_ready()
    result = run_debits(
        tick_at=parse_utc(event.time),
        lookback=_lookback(settings),
        worker=event.event_id,
        runtime=DebitRuntime(settings),
    )
    return {"claimed": result.claimed, "debits": result.items_changed, "items_read": result.items_read}


@financing_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="debit_reminders",
    description="E-mail each tenant a few days before its debits, one e-mail per debit day",
)
def debit_reminders(event: CloudWatchEvent) -> dict[str, Any]:
    settings = scheduler_ready()
    endpoint = url_text(settings.aws_endpoint)
    result = run_reminders(
        tick_at=parse_utc(event.time),
        lookback=_lookback(settings),
        worker=event.event_id,
        mailer=mailer_for(settings, settings, endpoint),
    )
    return {"claimed": result.claimed, "reminders": result.items_changed, "items_read": result.items_read}
