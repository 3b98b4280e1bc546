"""The scheduled charging of `charge_automatically` subscription invoices (first charges, retries,
polls of pending debits). A module of its own so the other scheduled functions do not pay the
processor SDKs' import at cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate

from chalicelib.runtime import deferred
from chalicelib.schedule_ticks import sweep_tick

if TYPE_CHECKING:  # the settings models and the service are imported on the first tick
    from cashline.services.billing import charging
else:
    charging = deferred("cashline.services.billing.charging")

charge_schedules = Blueprint(__name__)


@charge_schedules.schedule(
    Rate(15, unit=Rate.MINUTES),
    name="invoice_charges",
    description="Charge subscription invoices to saved payment methods; retry failed charges",
)
def invoice_charges(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "charges", charging.run_invoice_charges, runtime=charging.ChargeRuntime)
