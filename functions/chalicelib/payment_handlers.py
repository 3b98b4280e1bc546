"""Payment processing off the webhook queue, and the alert outbox schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate, SQSEvent

from chalicelib.payment_runtime import alert_runtime_for, api_alert_runtime, intake_runtime
from chalicelib.runtime import deferred, handler_clock
from chalicelib.schedule_ticks import sweep_tick
from chalicelib.sqs_batches import each_message

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from cashline.services import alerts, webhooks
else:  # imported by the first message or tick (chalicelib.runtime.deferred)
    alerts = deferred("cashline.services.alerts")
    webhooks = deferred("cashline.services.webhooks")

payment_handlers = Blueprint(__name__)

WEBHOOK_EVENTS_QUEUE = "cashline-webhook-events"


@payment_handlers.on_sqs_message(queue=WEBHOOK_EVENTS_QUEUE, batch_size=10, name="webhook_event_received")
def webhook_event_received(event: SQSEvent) -> dict[str, Any]:
    """One normalized processor event per message, applied exactly once; failed ones return to the
    queue (and to its dead-letter queue after five tries)."""
    runtime = intake_runtime()

    def apply(record: SQSRecord) -> None:
        now = handler_clock()
        attempt = int(record.raw_event.get("attributes", {}).get("ApproximateReceiveCount") or 1)
        _, delivered = webhooks.process_message(record.body, runtime, now=now, delivery_attempt=attempt)
        alerts.deliver_now(delivered, api_alert_runtime(), now=now)

    # Every failed message goes back to the queue, also when the whole batch failed.
    return each_message(event, apply, raise_when_all_fail=False)


@payment_handlers.schedule(
    Rate(1, unit=Rate.MINUTES),
    name="alert_deliveries",
    description="Deliver alerts not delivered at once, and the outbound webhook retries that fell due",
)
def alert_deliveries(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "delivered", alerts.run_alert_outbox, runtime=alert_runtime_for)
