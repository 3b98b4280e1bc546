"""Scheduled handlers of financing: payouts, debits, reminders. A module of their own so the other
scheduled functions do not pay the processor SDKs' import at cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from cashline.config import url_text
from chalicelib.runtime import deferred
from chalicelib.schedule_ticks import sweep_tick

if TYPE_CHECKING:  # the settings models and the services are imported on the first tick
    from cashline.adapters.mailer import Mailer
    from cashline.config import SchedulerSettings
    from cashline.services import debit_reminders as reminders
    from cashline.services import debits
else:
    reminders = deferred("cashline.services.debit_reminders")
    debits = deferred("cashline.services.debits")

financing_schedules = Blueprint(__name__)


@financing_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="financing_payouts",
    description="Pay suppliers of financed bills on their payout date",
)
def financing_payouts(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "payouts", debits.run_payouts)


@financing_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="installment_debits",
    description="Start (or retry, or follow up) the installment debits that are due",
)
def installment_debits(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "debits", debits.run_debits, runtime=debits.DebitRuntime)


@financing_schedules.schedule(
    Rate(1, unit=Rate.HOURS),
    name="debit_reminders",
    description="E-mail each tenant a few days before its debits, one e-mail per debit day",
)
def debit_reminders(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "reminders", reminders.run_reminders, mailer=_mailer)


def _mailer(settings: SchedulerSettings) -> Mailer:
    return debits.mailer_for(settings, settings, url_text(settings.aws_endpoint))
