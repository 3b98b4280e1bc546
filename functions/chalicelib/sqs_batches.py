"""What every queue handler does around its service: each SQS message is handled on its own, and only
the failed ones return to the queue (Powertools batch processing; the event source reports batch
item failures, `ReportBatchItemFailures`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from chalice.app import SQSEvent

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


def each_message(
    event: SQSEvent, handle: Callable[[SQSRecord], None], *, raise_when_all_fail: bool = True
) -> dict[str, Any]:
    """Run `handle` on every message of the batch; answer which ones failed.

    `raise_when_all_fail=False` reports every failed message, also when all of a batch failed,
    instead of raising: the event source then retries exactly those.
    """
    # defer: Powertools' batch utility imports its pydantic parser models with it (about half the
    # stack's floor again in CPU); a queue function pays that on its first batch, not at import.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    response = process_partial_response(
        event=event.to_dict(),
        record_handler=handle,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=raise_when_all_fail),
        context=cast("LambdaContext", event.context),
    )
    return dict(response)
