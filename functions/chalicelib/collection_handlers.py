"""Collection campaigns' scheduled and queued work: due reminder steps, call-task reminders, and the
delivery reports SES sends for reminders (bounces fall back to the step's other channel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, Rate, SQSEvent

from chalicelib.collection_runtime import api_collection_runtime, scheduler_collection_runtime
from chalicelib.runtime import api_ready, deferred, handler_clock
from chalicelib.schedule_ticks import sweep_tick
from chalicelib.sqs_batches import each_message

if TYPE_CHECKING:  # the settings models and the services are imported on the first event
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from cashline.adapters import messaging
    from cashline.config import SchedulerSettings
    from cashline.services.collections import feedback, sweep, tasks
    from cashline.services.collections.context import CollectionRuntime
else:
    messaging = deferred("cashline.adapters.messaging")
    feedback = deferred("cashline.services.collections.feedback")
    sweep = deferred("cashline.services.collections.sweep")
    tasks = deferred("cashline.services.collections.tasks")

collection_handlers = Blueprint(__name__)

DELIVERY_FEEDBACK_QUEUE = "cashline-delivery-feedback"


@collection_handlers.schedule(
    Rate(15, unit=Rate.MINUTES),
    name="collection_steps",
    description="Send the collection reminders that are due (in each debtor's business hours)",
)
def collection_steps(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "sent", sweep.run_steps, runtime=_runtime)


@collection_handlers.schedule(
    Rate(1, unit=Rate.HOURS),
    name="task_reminders",
    description="E-mail each call task's assignee on the task's day",
)
def task_reminders(event: CloudWatchEvent) -> dict[str, Any]:
    return sweep_tick(event, "reminded", tasks.run_task_reminders, runtime=_runtime)


def _runtime(_: SchedulerSettings) -> CollectionRuntime:
    return scheduler_collection_runtime()


@collection_handlers.on_sqs_message(queue=DELIVERY_FEEDBACK_QUEUE, batch_size=10, name="delivery_feedback")
def delivery_feedback(event: SQSEvent) -> dict[str, Any]:
    """SES bounce, complaint and delivery events (SES -> SNS -> SQS) for reminders."""
    api_ready()
    runtime = api_collection_runtime()

    def apply(record: SQSRecord) -> None:
        for report in messaging.parse_ses_notification(record.body):
            feedback.record_feedback(report, runtime, now=handler_clock())

    # Every failed report goes back to the queue, also when the whole batch failed.
    return each_message(event, apply, raise_when_all_fail=False)
