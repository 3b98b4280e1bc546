"""The monthly statements of account: the first of each month, for last month's active counterparties."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Cron

from chalicelib.collection_runtime import scheduler_collection_runtime
from chalicelib.runtime import deferred
from chalicelib.schedule_ticks import sweep_tick

if TYPE_CHECKING:  # the settings models and the services are imported on the first tick
    from cashline.adapters.messaging import EmailChannel
    from cashline.config import SchedulerSettings
    from cashline.services import documents, statements
else:
    documents = deferred("cashline.services.documents")
    statements = deferred("cashline.services.statements")

statement_schedules = Blueprint(__name__)


@statement_schedules.schedule(
    Cron(0, 6, 1, "*", "?", "*"),
    name="monthly_statements",
    description="Write (and e-mail, when set) last month's statement for every counterparty with activity",
)
def monthly_statements(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(
        event, "statements", statements.run_monthly, store=documents.store_for, email=_email_channel
    )


def _email_channel(_: SchedulerSettings) -> EmailChannel:
    return scheduler_collection_runtime().email
