"""Bank files that arrive by themselves, against DynamoDB Local and moto's S3 and SQS: a file dropped
under `bank-inbox/<tenant>/` reaches `cashline-bank-statements` through the bucket's own notification
(as the template declares it), the queue handler imports it and moves it to `bank-statements/`, or to
`bank-inbox-rejected/` with a note of the error. Exactly once: the same notification twice, the same
file dropped twice, two deliveries at once and a delivery cut short after the import all import once.
And `POST /v1/bank-statements` keeps the raw file at `bank-statements/<tenant>/<import id>`."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError
from chalice.app import Chalice

from bench.dynamodb_meter import metered
from cashline.adapters.documents import DocumentStore
from cashline.dal.bank_repository import TransactionFilter, bank
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES
from cashline.ids import new_id
from cashline.services.bank import imports, inbox
from localcloud.cloud import LocalCloud
from localcloud.handlers import deliver_queue_batch
from localcloud.runner import QueuePump
from tests.unit.test_bank_camt import balance, camt, entry, report
from tests.utils import FROZEN_NOW, Api, TestTenant, make_tenant

QUEUE = "cashline-bank-statements"
WAIT_BOUND_SECONDS = 60  # a bound for moto's notification to reach the queue, not a speed target
pytestmark = pytest.mark.usefixtures("frozen_now")

# Notifications taken off the queue but meant for another test's key wait here.
_received: dict[str, dict[str, Any]] = {}


def statement_file(statement_id: str = "STMT-1", amount: str = "250.00") -> bytes:
    header = (
        f"<Id>{statement_id}</Id><ElctrncSeqNb>42</ElctrncSeqNb><CreDtTm>2026-12-02T06:00:00Z</CreDtTm>"
        "<FrToDt><FrDtTm>2026-12-01T00:00:00+01:00</FrDtTm><ToDtTm>2026-12-01T23:59:59+01:00</ToDtTm></FrToDt>"
    )
    balances = balance("OPBD", "1000.00") + balance("CLBD", f"{1000 + float(amount):.2f}")
    return camt(report(entry(amount), balances=balances, header=header))


def s3(cloud: LocalCloud) -> Any:
    return cloud.client("s3")


def bucket() -> str:
    return os.environ["CASHLINE_DOCUMENTS_BUCKET"]


def drop(cloud: LocalCloud, key: str, body: bytes) -> None:
    s3(cloud).put_object(Bucket=bucket(), Key=key, Body=body)


def keys(cloud: LocalCloud, prefix: str) -> list[str]:
    listed = s3(cloud).list_objects_v2(Bucket=bucket(), Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def read(cloud: LocalCloud, key: str) -> bytes:
    return bytes(s3(cloud).get_object(Bucket=bucket(), Key=key)["Body"].read())


def notification_for(cloud: LocalCloud, key: str) -> dict[str, Any]:
    """The message S3 sent for `key` (taken off the queue as the event source would)."""
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    deadline = time.monotonic() + WAIT_BOUND_SECONDS
    while key not in _received:
        assert time.monotonic() < deadline, f"no notification for {key}"
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            for record in json.loads(message["Body"]).get("Records", []):
                _received[unquote_plus(record["s3"]["object"]["key"])] = message  # S3 URL-encodes it
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return _received.pop(key)


def deliver(app: Chalice, *messages: dict[str, Any]) -> list[str]:
    return deliver_queue_batch(app, QUEUE, list(messages), at=FROZEN_NOW)


def statements_of(tenant: TestTenant) -> list[Any]:
    return list(
        bank.list_statements(tenant.tenant_id, bank_account_id=None, limit=50, starting_after=None).items
    )


def note_of(cloud: LocalCloud, rejected_key: str) -> dict[str, Any]:
    note: dict[str, Any] = json.loads(read(cloud, rejected_key + inbox.ERROR_NOTE_SUFFIX))
    return note


# --- imported ----------------------------------------------------------------------------------


def test_a_dropped_statement_is_imported_and_filed_with_its_import(
    local_cloud: LocalCloud, chalice_app: Chalice, tenant: TestTenant
) -> None:
    # Given a camt.053 the bank's gateway drops into the tenant's inbox
    body = statement_file()
    key = f"bank-inbox/{tenant.tenant_id}/2026-12-01/statement.xml"
    drop(local_cloud, key, body)

    # When S3's notification reaches the queue handler
    assert deliver(chalice_app, notification_for(local_cloud, key)) == []

    # Then the statement is imported once, by the inbox, and the file kept beside its import
    [statement] = statements_of(tenant)
    assert (statement.transaction_count, statement.credits_total, statement.balanced) == (1, 25_000, True)
    assert bank.get_import(tenant.tenant_id, statement.import_id).statement_ids == (statement.statement_id,)
    kept = imports.raw_file_key(tenant.tenant_id, statement.import_id)
    assert keys(local_cloud, f"bank-statements/{tenant.tenant_id}/") == [kept]
    assert read(local_cloud, kept) == body
    assert keys(local_cloud, f"bank-inbox/{tenant.tenant_id}/") == []
    [line] = bank.list_transactions(
        tenant.tenant_id,
        TransactionFilter(statement_id=statement.statement_id),
        limit=10,
        starting_after=None,
    ).items
    assert line.history[0].actor == inbox.ACTOR


def test_the_same_notification_twice_imports_once(
    local_cloud: LocalCloud, chalice_app: Chalice, tenant: TestTenant
) -> None:
    # Given a dropped file and its notification, delivered and then delivered again (SQS is at least once)
    key = f"bank-inbox/{tenant.tenant_id}/statement.xml"
    drop(local_cloud, key, statement_file())
    message = notification_for(local_cloud, key)
    assert deliver(chalice_app, message) == []

    # When it arrives a second time, after the file was filed
    assert deliver(chalice_app, message) == []

    # Then it is acknowledged and nothing is imported again
    assert inbox.receive_file(store(), key, now=FROZEN_NOW) == "gone"
    assert len(statements_of(tenant)) == 1
    assert len(keys(local_cloud, f"bank-statements/{tenant.tenant_id}/")) == 1


def test_a_notification_for_a_filed_file_costs_no_table_call(
    local_cloud: LocalCloud, tenant: TestTenant
) -> None:
    # Given a file imported and filed, with the DynamoDB calls of its import counted
    key = f"bank-inbox/{tenant.tenant_id}/statement.xml"
    drop(local_cloud, key, statement_file())
    with metered() as first:
        assert inbox.receive_file(store(), key, now=FROZEN_NOW) == "imported"
    dropped_again = f"bank-inbox/{tenant.tenant_id}/again.xml"
    drop(local_cloud, dropped_again, statement_file())

    # When its notification comes again, and when the same bytes are dropped again
    with metered() as redelivered:
        assert inbox.receive_file(store(), key, now=FROZEN_NOW) == "gone"
    with metered() as duplicate:
        assert inbox.receive_file(store(), dropped_again, now=FROZEN_NOW) == "duplicate"

    # Then the redelivery stops at S3 (the object is gone) and the duplicate at GetItems
    print(f"inbox import of one line: {first.describe()}; duplicate file: {duplicate.describe()}")
    assert redelivered.total_calls == 0
    # tenant; the account's claim and record, the statement's claim, record and import (the 409);
    # the statement and its import again to tell "imported from these bytes" from "being imported"
    assert set(duplicate.calls) == {"GetItem"} and duplicate.total_calls <= 8, duplicate.describe()
    assert len(statements_of(tenant)) == 1


def test_the_same_file_dropped_twice_imports_once(
    local_cloud: LocalCloud, chalice_app: Chalice, tenant: TestTenant
) -> None:
    # Given the same statement file dropped twice under two names (a gateway that sent it again)
    body = statement_file()
    first, second = (f"bank-inbox/{tenant.tenant_id}/{name}" for name in ("a.xml", "b.xml"))
    drop(local_cloud, first, body)
    drop(local_cloud, second, body)

    # When both notifications are handled
    assert deliver(chalice_app, notification_for(local_cloud, first)) == []
    assert deliver(chalice_app, notification_for(local_cloud, second)) == []

    # Then one import, and the second copy (the very same bytes) joins the first one's kept file
    [statement] = statements_of(tenant)
    assert keys(local_cloud, f"bank-statements/{tenant.tenant_id}/") == [
        imports.raw_file_key(tenant.tenant_id, statement.import_id)
    ]
    assert keys(local_cloud, f"bank-inbox/{tenant.tenant_id}/") == []
    assert keys(local_cloud, f"bank-inbox-rejected/{tenant.tenant_id}/") == []


def test_a_delivery_cut_short_after_the_import_files_the_file_on_the_next_one(
    local_cloud: LocalCloud, tenant: TestTenant
) -> None:
    # Given a file whose import committed, but the delivery stopped before moving it out of the inbox
    body = statement_file()
    key = f"bank-inbox/{tenant.tenant_id}/statement.xml"
    drop(local_cloud, key, body)
    done = imports.import_file(
        tenant.tenant_id, body, bank_account_id=None, actor=inbox.ACTOR, now=FROZEN_NOW
    )

    # When the message comes back
    outcome = inbox.receive_file(store(), key, now=FROZEN_NOW)

    # Then nothing is imported twice and the file is filed with the import it made
    assert outcome == "duplicate"
    assert [s.import_id for s in statements_of(tenant)] == [done.import_id]
    assert read(local_cloud, imports.raw_file_key(tenant.tenant_id, done.import_id)) == body
    assert keys(local_cloud, f"bank-inbox/{tenant.tenant_id}/") == []


def test_two_deliveries_at_once_import_once(local_cloud: LocalCloud, tenant: TestTenant) -> None:
    # Given one dropped file whose notification two workers receive at the same moment
    key = f"bank-inbox/{tenant.tenant_id}/statement.xml"
    drop(local_cloud, key, statement_file())

    # When both handle it (a delivery that finds the statement being imported fails, to come back)
    def receive(_: int) -> str:
        try:
            return inbox.receive_file(store(), key, now=FROZEN_NOW)
        except inbox.ImportInProgressError:
            return "retry"

    outcomes = sorted(ThreadPoolExecutor(2).map(receive, range(2)))
    retried = [inbox.receive_file(store(), key, now=FROZEN_NOW) for o in outcomes if o == "retry"]

    # Then the statement is imported exactly once and its file filed once
    assert outcomes[0] == "imported" or outcomes[1] == "imported", outcomes
    assert set(outcomes) - {"imported"} <= {"duplicate", "gone", "retry"}, outcomes
    assert set(retried) <= {"gone"}, retried
    [statement] = statements_of(tenant)
    assert keys(local_cloud, f"bank-statements/{tenant.tenant_id}/") == [
        imports.raw_file_key(tenant.tenant_id, statement.import_id)
    ]
    assert keys(local_cloud, f"bank-inbox/{tenant.tenant_id}/") == []
    assert keys(local_cloud, f"bank-inbox-rejected/{tenant.tenant_id}/") == []


def store() -> DocumentStore:
    return DocumentStore(
        bucket(), region=os.environ["AWS_REGION"], endpoint=os.environ["CASHLINE_AWS_ENDPOINT"]
    )


# --- rejected ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error_type", "field", "words"),
    [
        (b"<Document><Stmt>", "unprocessable", "body", "cannot be read"),
        (b"Datum;Betrag\n01.12.2026;12,00\n", "unprocessable", "bank_account_id", "csv_mapping"),
        (b"", "invalid_request", "body", "empty"),
    ],
    ids=["unreadable", "csv-without-an-account", "empty"],
)
def test_a_file_that_cannot_be_imported_is_rejected_with_a_note(
    local_cloud: LocalCloud,
    chalice_app: Chalice,
    tenant: TestTenant,
    body: bytes,
    error_type: str,
    field: str,
    words: str,
) -> None:
    # Given a file the import refuses
    key = f"bank-inbox/{tenant.tenant_id}/export.dat"
    drop(local_cloud, key, body)

    # When it arrives
    assert deliver(chalice_app, notification_for(local_cloud, key)) == []  # acknowledged, not retried

    # Then it is moved aside with a note naming the error and its field, and nothing is imported
    rejected = f"bank-inbox-rejected/{tenant.tenant_id}/export.dat"
    assert read(local_cloud, rejected) == body
    note = note_of(local_cloud, rejected)
    assert (note["key"], note["error"]["type"], note["error"]["field"]) == (key, error_type, field)
    assert words in note["error"]["message"]
    assert note["rejected_at"] == FROZEN_NOW.isoformat()
    assert keys(local_cloud, f"bank-inbox/{tenant.tenant_id}/") == []
    assert statements_of(tenant) == []


def test_a_statement_imported_before_from_other_bytes_is_rejected_with_the_conflict(
    local_cloud: LocalCloud, tenant: TestTenant
) -> None:
    # Given a statement imported through the API, then dropped again as a different file (re-exported)
    first = imports.import_file(
        tenant.tenant_id, statement_file(), bank_account_id=None, actor="user", now=FROZEN_NOW
    )
    key = f"bank-inbox/{tenant.tenant_id}/again.xml"
    drop(local_cloud, key, statement_file() + b"\n")

    # When it arrives
    outcome = inbox.receive_file(store(), key, now=FROZEN_NOW)

    # Then it is refused as the 409 would have been, naming the statement it repeats
    assert outcome == "rejected"
    note = note_of(local_cloud, f"bank-inbox-rejected/{tenant.tenant_id}/again.xml")
    [statement] = first.statements
    assert note["error"]["type"] == "conflict"
    assert note["error"]["details"] == {"existing_id": statement.statement_id}
    assert len(statements_of(tenant)) == 1


@pytest.mark.parametrize("tenant_part", ["ten_01JD3Z5W4YV6Q3R0M8X2N5B7C9", "acme"])
def test_a_key_naming_no_tenant_of_ours_is_rejected(
    local_cloud: LocalCloud, chalice_app: Chalice, tenant_part: str
) -> None:
    # Given a file dropped under a tenant id that does not exist (or is no tenant id at all)
    key = f"bank-inbox/{tenant_part}/{new_id('bank_import')}.xml"
    drop(local_cloud, key, statement_file())

    # When it arrives
    assert deliver(chalice_app, notification_for(local_cloud, key)) == []

    # Then it is rejected, naming the tenant
    name = key.rsplit("/", 1)[1]
    note = note_of(local_cloud, f"bank-inbox-rejected/{tenant_part}/{name}")
    assert (note["error"]["type"], note["error"]["field"]) == ("not_found", "tenant_id")


def test_a_file_over_the_byte_budget_is_rejected_unread(
    local_cloud: LocalCloud, tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file larger than the budget (the budget lowered here, the limit being 10s of MB)
    assert inbox.MAX_STATEMENT_BYTES == MAX_DECOMPRESSED_BYTES
    monkeypatch.setattr(inbox, "MAX_STATEMENT_BYTES", 100)
    key = f"bank-inbox/{tenant.tenant_id}/big.xml"
    drop(local_cloud, key, statement_file())
    reads: list[str] = []
    monkeypatch.setattr(DocumentStore, "read", lambda self, k: reads.append(k) or b"")

    # When it arrives
    outcome = inbox.receive_file(store(), key, now=FROZEN_NOW)

    # Then it is rejected on its size, without reading it
    assert (outcome, reads) == ("rejected", [])
    note = note_of(local_cloud, f"bank-inbox-rejected/{tenant.tenant_id}/big.xml")
    assert (note["error"]["type"], note["error"]["field"]) == ("payload_too_large", "body")


def test_a_file_of_one_tenant_is_imported_for_that_tenant_only(
    local_cloud: LocalCloud, chalice_app: Chalice, tenant: TestTenant, api: Api
) -> None:
    # Given a file in one tenant's inbox, and another tenant
    other = make_tenant("Other GmbH")
    key = f"bank-inbox/{tenant.tenant_id}/statement.xml"
    drop(local_cloud, key, statement_file())
    assert deliver(chalice_app, notification_for(local_cloud, key)) == []

    # Then the other tenant sees nothing of it, and asking for it by id is a 404
    [statement] = statements_of(tenant)
    assert statements_of(other) == []
    response = api.get(f"/v1/bank-statements/{statement.statement_id}", key=other.read_only)
    assert response.status_code == 404


# --- the API keeps its files too ---------------------------------------------------------------


def test_an_imported_file_posted_to_the_api_is_kept(
    local_cloud: LocalCloud, api: Api, tenant: TestTenant
) -> None:
    # When a statement is imported through the API
    body = statement_file()
    response = api.post(
        "/v1/bank-statements",
        key=tenant.finance,
        raw_body=body,
        headers={"Content-Type": "application/xml"},
    )

    # Then the raw file is kept beside its import
    assert response.status_code == 201, response.body
    assert read(local_cloud, f"bank-statements/{tenant.tenant_id}/{response.json()['id']}") == body


def test_a_file_that_cannot_be_kept_does_not_fail_its_import(
    local_cloud: LocalCloud, api: Api, tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given S3 refusing the put of the kept copy
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")

    monkeypatch.setattr(DocumentStore, "put", refuse)

    # When a statement is imported through the API
    response = api.post(
        "/v1/bank-statements",
        key=tenant.finance,
        raw_body=statement_file(),
        headers={"Content-Type": "application/xml"},
    )

    # Then the import stands (the failure is logged) and nothing was kept
    assert response.status_code == 201, response.body
    assert len(statements_of(tenant)) == 1
    assert keys(local_cloud, f"bank-statements/{tenant.tenant_id}/") == []


# --- the local cloud ---------------------------------------------------------------------------


def test_the_local_cloud_delivers_a_dropped_file_as_make_run_does(
    local_cloud: LocalCloud, chalice_app: Chalice, tenant: TestTenant
) -> None:
    # Given the local runner's queue pump, as `make run` starts it
    stop = threading.Event()
    pump = QueuePump(chalice_app, local_cloud, stop)
    pump.start()
    try:
        # When a file is dropped into the inbox
        key = f"bank-inbox/{tenant.tenant_id}/statement.xml"
        drop(local_cloud, key, statement_file())

        # Then the bucket's notification reaches the handler and the file is imported and filed
        deadline = time.monotonic() + WAIT_BOUND_SECONDS
        while keys(local_cloud, f"bank-inbox/{tenant.tenant_id}/"):
            assert time.monotonic() < deadline, "the dropped file was never taken"
            time.sleep(0.2)
    finally:
        stop.set()
        pump.join(timeout=WAIT_BOUND_SECONDS)
    [statement] = statements_of(tenant)
    assert keys(local_cloud, f"bank-statements/{tenant.tenant_id}/") == [
        imports.raw_file_key(tenant.tenant_id, statement.import_id)
    ]
