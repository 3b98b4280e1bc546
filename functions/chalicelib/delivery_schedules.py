"""Issued invoices go out: every 5 minutes, each finalised invoice whose delivery is due is rendered,
stored under invoices/ in the documents bucket and e-mailed to the customer (services/billing/delivery.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.collection_runtime import scheduler_collection_runtime
from chalicelib.runtime import deferred
from chalicelib.schedule_ticks import sweep_tick

if TYPE_CHECKING:  # the settings models and the services are imported on the first tick
    from cashline.config import SchedulerSettings
    from cashline.services.billing import delivery
else:
    delivery = deferred("cashline.services.billing.delivery")

delivery_schedules = Blueprint(__name__)


@delivery_schedules.schedule(
    Rate(5, unit=Rate.MINUTES),
    name="invoice_delivery",
    description="Render, store and e-mail the finalised invoices whose delivery is due",
)
def invoice_delivery(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "sent", delivery.run_invoice_delivery, runtime=_runtime)


def _runtime(_: SchedulerSettings) -> delivery.DeliveryRuntime:
    # The same SES channel and documents bucket the collection steps use, built once per instance.
    shared = scheduler_collection_runtime()
    return delivery.DeliveryRuntime(email=shared.email, documents=shared.documents)
