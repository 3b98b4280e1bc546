"""Queue handlers of bank reconciliation: bank files dropped into the documents bucket's inbox
(`bank-inbox/<tenant id>/...`) are imported as they arrive (services/bank/inbox.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.runtime import api_ready, deferred, handler_clock
from chalicelib.sqs_batches import each_message

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from cashline.services import documents
    from cashline.services.bank import inbox
else:  # imported by the first batch (chalicelib.runtime.deferred)
    documents = deferred("cashline.services.documents")
    inbox = deferred("cashline.services.bank.inbox")

bank_handlers = Blueprint(__name__)

BANK_STATEMENTS_QUEUE = "cashline-bank-statements"


@bank_handlers.on_sqs_message(queue=BANK_STATEMENTS_QUEUE, batch_size=1, name="bank_statement_arrived")
def bank_statement_arrived(event: SQSEvent) -> dict[str, Any]:
    """S3 `ObjectCreated` notifications for `bank-inbox/`: import each file, then move it to
    `bank-statements/` (imported) or `bank-inbox-rejected/` (refused, with a note of why)."""
    store = documents.store_for(api_ready())

    def receive(record: SQSRecord) -> None:
        inbox.receive_notification(store, record.body, now=handler_clock())

    return each_message(event, receive)
