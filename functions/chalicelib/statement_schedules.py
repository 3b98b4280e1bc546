"""The monthly statements of account: the first of each month, for last month's active counterparties."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Cron

from cashline.adapters.messaging import EmailChannel
from cashline.config import SchedulerSettings
from cashline.services.documents import store_for
from cashline.services.statements import run_monthly
from chalicelib.collection_runtime import scheduler_collection_runtime
from chalicelib.schedule_ticks import sweep_tick

statement_schedules = Blueprint(__name__)


@statement_schedules.schedule(
    Cron(0, 6, 1, "*", "?", "*"),
    name="monthly_statements",
    description="Write (and e-mail, when set) last month's statement for every counterparty with activity",
)
def monthly_statements(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "statements", run_monthly, store=store_for, email=_email_channel)


def _email_channel(_: SchedulerSettings) -> EmailChannel:
    return scheduler_collection_runtime().email
