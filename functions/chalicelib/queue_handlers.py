"""Queue handlers: each message is handled on its own, and only failed ones return to the queue
(Powertools batch processing; the event source reports batch item failures)."""

from __future__ import annotations

import json
from typing import Any, cast

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from chalice.app import Blueprint, SQSEvent

from cashline.services.documents import check_upload, store_for
from chalicelib.runtime import api_ready, handler_clock

queues = Blueprint(__name__)

DOCUMENT_UPLOADS_QUEUE = "cashline-document-uploads"


@queues.on_sqs_message(queue=DOCUMENT_UPLOADS_QUEUE, batch_size=10, name="document_uploaded")
def document_uploaded(event: SQSEvent) -> dict[str, Any]:
    """S3 `ObjectCreated` notifications for `uploads/`: check each upload's real type and size."""
    store = store_for(api_ready())

    def check(record: SQSRecord) -> None:
        notification = json.loads(record.body)
        for entry in notification.get("Records", []):  # S3 also sends an "s3:TestEvent" without records
            if str(entry.get("eventName", "")).startswith("ObjectCreated"):
                check_upload(store, entry["s3"]["object"]["key"], now=handler_clock())

    response = process_partial_response(
        event=event.to_dict(),
        record_handler=check,
        processor=BatchProcessor(event_type=EventType.SQS),
        context=cast(LambdaContext, event.context),
    )
    return dict(response)
