"""Payment processing off the webhook queue, and the alert outbox schedule."""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from chalice.app import Blueprint, CloudWatchEvent, Rate, SQSEvent

from cashline.services.alerts import deliver_now, run_alert_outbox
from cashline.services.webhooks import process_message
from chalicelib.payment_runtime import alert_runtime_for, api_alert_runtime, intake_runtime
from chalicelib.runtime import handler_clock
from chalicelib.schedule_ticks import sweep_tick

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
        _, alerts = process_message(record.body, runtime, now=now, delivery_attempt=attempt)
        deliver_now(alerts, api_alert_runtime(), now=now)

    response = process_partial_response(
        event=event.to_dict(),
        record_handler=apply,
        # Report every failed message, also when all of a batch failed, instead of raising: the
        # event source then retries exactly those (ReportBatchItemFailures).
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=cast(LambdaContext, event.context),
    )
    return dict(response)


@payment_handlers.schedule(
    Rate(1, unit=Rate.MINUTES),
    name="alert_deliveries",
    description="Deliver alerts not delivered at once, and the outbound webhook retries that fell due",
)
def alert_deliveries(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "delivered", run_alert_outbox, runtime=alert_runtime_for)
