"""Subscription billing's schedule: one function, three claimed sweeps in the order they depend on
each other. Scheduled changes first (a downgrade or cancellation due today is applied before its
period's invoice is made), then the issuing of the periods that began, then the finalising of the
drafts whose review time has passed (with auto_finalise_hours 0 the issuing finalises at once; this
sweep finishes what a crash left as a draft). Each sweep claims the tick under its own schedule name,
so a repeated tick runs none of them twice and one failing does not stop the others' claims."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from cashline.clock import parse_utc
from chalicelib.runtime import deferred, scheduler_ready

if TYPE_CHECKING:  # imported by the first tick: the API function never pays them
    from cashline.services.billing import finalising, issuing, scheduled_changes
else:
    scheduled_changes = deferred("cashline.services.billing.scheduled_changes")
    issuing = deferred("cashline.services.billing.issuing")
    finalising = deferred("cashline.services.billing.finalising")

billing_schedules = Blueprint(__name__)


@billing_schedules.schedule(
    Rate(15, unit=Rate.MINUTES),
    name="subscription_billing",
    description="Apply scheduled subscription changes, issue the periods that began, finalise drafts",
)
def subscription_billing(event: CloudWatchEvent) -> dict[str, Any]:
    scheduler_ready()
    tick_at, worker = parse_utc(event.time), event.event_id
    changes = scheduled_changes.run_subscription_changes(tick_at=tick_at, worker=worker)
    issued = issuing.run_subscription_invoices(tick_at=tick_at, worker=worker)
    finalised = finalising.run_invoice_finalise(tick_at=tick_at, worker=worker)
    return {
        "claimed": changes.claimed or issued.claimed or finalised.claimed,
        "changes_applied": changes.items_changed,
        "subscriptions_invoiced": issued.items_changed,
        "invoices_finalised": finalised.items_changed,
        "items_read": changes.items_read + issued.items_read + finalised.items_read,
    }
