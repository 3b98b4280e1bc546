"""Queue handlers: each message is handled on its own, and only failed ones return to the queue
(chalicelib/sqs_batches.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.runtime import api_ready, deferred, handler_clock
from chalicelib.sqs_batches import each_message

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from cashline.services import documents
else:  # imported by the first batch (chalicelib.runtime.deferred)
    documents = deferred("cashline.services.documents")

queues = Blueprint(__name__)

DOCUMENT_UPLOADS_QUEUE = "cashline-document-uploads"


@queues.on_sqs_message(queue=DOCUMENT_UPLOADS_QUEUE, batch_size=10, name="document_uploaded")
def document_uploaded(event: SQSEvent) -> dict[str, Any]:
    """S3 `ObjectCreated` notifications for `uploads/`: check each upload's real type and size."""
    store = documents.store_for(api_ready())

    def check(record: SQSRecord) -> None:
        documents.check_notified_uploads(store, record.body, now=handler_clock())

    return each_message(event, check)
