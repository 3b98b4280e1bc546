"""The monthly statements of account: the first of each month, for last month's active counterparties."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Cron

from cashline.clock import parse_utc
from cashline.services.documents import store_for
from cashline.services.statements import run_monthly
from chalicelib.collection_runtime import scheduler_collection_runtime
from chalicelib.runtime import scheduler_ready

statement_schedules = Blueprint(__name__)


@statement_schedules.schedule(
    Cron(0, 6, 1, "*", "?", "*"),
    name="monthly_statements",
    description="Write (and e-mail, when set) last month's statement for every counterparty with activity",
)
def monthly_statements(event: CloudWatchEvent) -> dict[str, Any]:
    settings = scheduler_ready()
    runtime = scheduler_collection_runtime()
    result: Any = run_monthly(
        tick_at=parse_utc(event.time),
        lookback_days=settings.sweep_lookback_days,
        worker=event.event_id,
        store=store_for(settings),
        email=runtime.email,
    )
    return {"claimed": result.claimed, "statements": result.items_changed, "items_read": result.items_read}
