"""Bank files that arrive by themselves: the bank (or an SFTP/EBICS gateway) drops a file into the
documents bucket under `bank-inbox/<tenant id>/<any name>`; S3 notifies the bank statements queue
and the BankStatementArrived function hands each file to `imports.import_file`.

What happens to a file (docs/api.md "Statements that arrive by themselves"):
- imported: moved to `bank-statements/<tenant>/<import id>`, where `POST /v1/bank-statements` keeps
  its files too;
- the very file imported already (a redelivered notification after the move was cut short, or the
  same bytes dropped again): the statement claim refuses it (409) and nothing is written; the object
  joins the import's kept copy at `bank-statements/<tenant>/<import id>`;
- refused (unknown tenant, over the byte budget, unreadable, a statement imported before from other
  bytes, a CSV: it needs an account's mapping): moved to `bank-inbox-rejected/<tenant>/<name>`, with
  `<name>.error.json` beside it naming the error and its field;
- a statement being imported right now by another delivery, or a store or table that failed: the
  message fails and comes back (SQS retries, then the dead-letter queue); the object stays put.
A notification for an object that is no longer there (moved by an earlier delivery) is acknowledged.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from cashline.adapters.documents import DocumentStore
from cashline.dal.bank_repository import bank
from cashline.errors import (
    CashlineError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
)
from cashline.ids import is_id_of
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.bank.imports import MAX_STATEMENT_BYTES, import_file, raw_file_key
from cashline.services.tenancy import tenants

INBOX_PREFIX = "bank-inbox/"
REJECTED_PREFIX = "bank-inbox-rejected/"
ERROR_NOTE_SUFFIX = ".error.json"
ACTOR = "bank-inbox"

Outcome = Literal["imported", "duplicate", "rejected", "gone", "ignored"]


class ImportInProgressError(DependencyUnavailableError):
    """Another delivery is importing this statement right now: try the message again later."""


def receive_notification(store: DocumentStore, notification: str, *, now: datetime) -> list[Outcome]:
    """Receive every inbox file an S3 `ObjectCreated` notification (one queue message's body) names;
    S3's "s3:TestEvent" names none, and keys outside the inbox are ignored."""
    return [
        receive_file(store, unquote_plus(entry["s3"]["object"]["key"]), now=now)
        for entry in json.loads(notification).get("Records", [])
        if str(entry.get("eventName", "")).startswith("ObjectCreated")
    ]


def receive_file(store: DocumentStore, key: str, *, now: datetime) -> Outcome:
    """Import one dropped file and move it out of the inbox; safe to run twice for the same object."""
    tenant_id, _, name = key.removeprefix(INBOX_PREFIX).partition("/")
    if not key.startswith(INBOX_PREFIX) or not tenant_id or not name or name.endswith("/"):
        logger.warning("bank inbox object with an unexpected key", key=key)
        return "ignored"
    size = store.size(key)
    if size is None:
        return "gone"  # an earlier delivery moved it
    try:
        _known_tenant(tenant_id)
        if size > MAX_STATEMENT_BYTES:
            # Refused unread: the budget is checked on the object's size before any byte is fetched.
            raise PayloadTooLargeError(
                f"the bank file is {size} bytes, more than {MAX_STATEMENT_BYTES}", field="body"
            )
        body = store.read(key)
        result = import_file(tenant_id, body, bank_account_id=None, actor=ACTOR, now=now)
    except ConflictError as exc:
        return _conflict(store, key, tenant_id, name, exc, now=now)
    except DependencyUnavailableError:
        raise  # the message comes back
    except CashlineError as exc:
        _reject(store, key, tenant_id, name, exc, now=now)
        return "rejected"
    _move(store, key, raw_file_key(tenant_id, result.import_id))
    logger.info("bank file imported from the inbox", key=key, import_id=result.import_id)
    metrics.add_metric(name="BankInboxFilesImported", unit=MetricUnit.Count, value=1)
    return "imported"


def _move(store: DocumentStore, source: str, target: str) -> None:
    """Move the object; a delivery running at the same time may have filed it first (the copy finds
    no source), which is the same outcome."""
    try:
        store.move(source, target)
    except ClientError:
        if store.size(source) is None and store.size(target) is not None:
            return
        raise


def _known_tenant(tenant_id: str) -> None:
    """A key naming no tenant of ours is refused before anything is read (404 `tenant_id`)."""
    if not is_id_of("tenant", tenant_id):
        raise NotFoundError("the key names no tenant: bank-inbox/<tenant id>/<file>", field="tenant_id")
    try:
        tenants.get(tenant_id)
    except NotFoundError as exc:
        raise NotFoundError(f"tenant {tenant_id} not found", field="tenant_id") from exc


def _conflict(
    store: DocumentStore, key: str, tenant_id: str, name: str, exc: ConflictError, *, now: datetime
) -> Outcome:
    """A statement of the file is claimed already. Complete and from these very bytes: this file was
    imported (the object joins its kept copy). Complete from other bytes: refused with the 409.
    Not complete yet: another delivery is importing it, so this message is tried again later."""
    holder = exc.details.get("existing_id")
    if not isinstance(holder, str):
        # A write that lost a race with another import of these lines: the next delivery decides.
        raise ImportInProgressError(f"the import met another one: {exc.message}") from exc
    statement = bank.get_statement(tenant_id, holder)
    try:
        done = bank.get_import(tenant_id, statement.import_id)
    except NotFoundError as missing:
        raise ImportInProgressError(f"statement {holder} is being imported; the file waits") from missing
    if done.sha256 == store.sha256(key):
        _move(store, key, raw_file_key(tenant_id, done.import_id))
        logger.info("bank file in the inbox was imported already", key=key, import_id=done.import_id)
        return "duplicate"
    _reject(store, key, tenant_id, name, exc, now=now)
    return "rejected"


def _reject(
    store: DocumentStore, key: str, tenant_id: str, name: str, exc: CashlineError, *, now: datetime
) -> None:
    """The note first, then the move: a delivery cut short in between writes the same note again."""
    target = f"{REJECTED_PREFIX}{tenant_id}/{name}"
    note = {
        "key": key,
        "rejected_at": now.isoformat(),
        "error": {
            "type": exc.error_type,
            "message": exc.message,
            "field": exc.field,
            "details": exc.details,
        },
    }
    store.put(
        target + ERROR_NOTE_SUFFIX, json.dumps(note, default=str).encode(), content_type="application/json"
    )
    _move(store, key, target)
    logger.warning("bank file in the inbox refused", key=key, error=exc.message, field=exc.field)
    metrics.add_metric(name="BankInboxFilesRejected", unit=MetricUnit.Count, value=1)
