"""Invoice documents: a presigned upload straight to S3, the check the upload queue runs on what
arrived (available or quarantined), short-lived downloads, and the audit trail of both.

The flow is the deployed one: the client POSTs the file to the (moto) S3 URL it was given, S3
notifies `cashline-document-uploads`, and `QueuePump` hands the message to the app's handler.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from chalice.app import Chalice
from pypdf import PdfWriter

from cashline.ids import new_id
from cashline.services import documents
from chalicelib.runtime import api_ready
from localcloud.cloud import LocalCloud
from localcloud.runner import QueuePump
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

# Waits are for a condition (the pump thread has checked the upload, the file has moved), bounded
# far beyond what a correct run needs on a loaded machine: a slow run waits longer, it never fails.
WAIT_BOUND_SECONDS = 120

# Requests and the upload checks (queued or called here) run at FROZEN_NOW, not the wall clock.
pytestmark = pytest.mark.usefixtures("frozen_now")
CHECKER = "system:document-check"


# --- files --------------------------------------------------------------------------------------


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(10, 10)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes() -> bytes:
    """A real 1x1 RGBA PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
    )


def executable_bytes() -> bytes:
    header = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
    )
    return (
        header
        + b"\x0e\x1f\xba\x0e\x00\xb4\t\xcd!This program cannot be run in DOS mode.\r\r\n$"
        + b"\x00" * 256
    )


CLEAN_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<note><to>Accounts</to><body>Remittance advice</body></note>\n'
)
ENTITY_XML = (
    b'<?xml version="1.0"?>\n<!DOCTYPE note [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n'
    b"<note>&b;</note>\n"
)
EXTERNAL_ENTITY_XML = b'<?xml version="1.0"?>\n<!DOCTYPE note [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<note>&xxe;</note>\n'


# --- helpers ------------------------------------------------------------------------------------


def bucket() -> str:
    return os.environ["CASHLINE_DOCUMENTS_BUCKET"]


def create_invoice(api: Api, tenant: TestTenant, number: str = "INV-1") -> str:
    response = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "counterparty": {"name": "Kunde GmbH"},
            "number": number,
            "issue_date": "2025-01-10",
            "due_date": "2025-02-10",
            "currency": "EUR",
            "amount_due": 119_00,
        },
    )
    assert response.status_code == 201, response.body
    invoice_id: str = response.json()["id"]
    return invoice_id


def start_upload(
    api: Api,
    tenant: TestTenant,
    invoice_id: str,
    content_type: str,
    *,
    filename: str = "x.pdf",
    max_bytes: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"content_type": content_type, "filename": filename}
    if max_bytes is not None:
        body["max_bytes"] = max_bytes
    response = api.post(f"/v1/invoices/{invoice_id}/documents", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    started: dict[str, Any] = response.json()
    return started


def send_file(started: dict[str, Any], filename: str, data: bytes) -> requests.Response:
    """What a browser does with the presigned POST: the fields first, then the file."""
    upload = started["upload"]
    return requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=10)


def get_document(api: Api, tenant: TestTenant, invoice_id: str, document_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}/documents/{document_id}", key=tenant.read_only)
    assert response.status_code == 200, response.body
    body: dict[str, Any] = response.json()
    return body


class UploadQueue:
    """One `QueuePump` for the module, started when a test needs uploads checked and stopped when
    a test must run the check itself (stopping waits out a long poll, so it is not done per test)."""

    def __init__(self, app: Chalice, cloud: LocalCloud):
        self._app, self._cloud = app, cloud
        self._stop = threading.Event()
        self._pump: QueuePump | None = None

    def running(self) -> None:
        if self._pump is None:
            self._stop = threading.Event()
            self._pump = QueuePump(self._app, self._cloud, self._stop)
            self._pump.start()

    def stopped(self) -> None:
        if self._pump is not None:
            self._stop.set()
            self._pump.join(timeout=WAIT_BOUND_SECONDS)
            assert not self._pump.is_alive()
            self._pump = None


@pytest.fixture(scope="module")
def upload_queue(chalice_app: Chalice, local_cloud: LocalCloud) -> Iterator[UploadQueue]:
    queue = UploadQueue(chalice_app, local_cloud)
    yield queue
    queue.stopped()


@pytest.fixture
def delivered(upload_queue: UploadQueue) -> UploadQueue:
    """The upload queue's notifications reach the app's handler while the test runs."""
    upload_queue.running()
    return upload_queue


@pytest.fixture
def undelivered(upload_queue: UploadQueue) -> UploadQueue:
    """Nothing delivers the upload queue: the test calls `check_upload` itself."""
    upload_queue.stopped()
    return upload_queue


def wait_until_checked(api: Api, tenant: TestTenant, invoice_id: str, document_id: str) -> dict[str, Any]:
    """Poll until the delivered notification settled the document (bounded)."""
    deadline = time.monotonic() + WAIT_BOUND_SECONDS
    while True:
        body = get_document(api, tenant, invoice_id, document_id)
        if body["status"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def keys_under(cloud: LocalCloud, prefix: str) -> list[str]:
    listed = cloud.client("s3").list_objects_v2(Bucket=bucket(), Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def uploads_once_moved(cloud: LocalCloud, prefix: str) -> list[str]:
    """The keys left under uploads/ once the check's move is done. The result is recorded first and
    the file moved second (copy, then delete), so a test may see the record before the delete: it
    waits for the delete, within a bound that only a broken move reaches."""
    deadline = time.monotonic() + WAIT_BOUND_SECONDS
    while (left := keys_under(cloud, "uploads/" + prefix)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def events_of(api: Api, tenant: TestTenant, invoice_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/invoices/{invoice_id}/events?limit=100", key=tenant.read_only)
    assert response.status_code == 200, response.body
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def document_events(api: Api, tenant: TestTenant, invoice_id: str, document_id: str) -> list[dict[str, Any]]:
    return [
        e for e in events_of(api, tenant, invoice_id) if e["changes"].get("document") == [None, document_id]
    ]


def store() -> Any:
    return documents.store_for(api_ready())


def upload_key(tenant: TestTenant, invoice_id: str, document_id: str) -> str:
    return f"uploads/{tenant.tenant_id}/{invoice_id}/{document_id}"


# --- the upload flow ----------------------------------------------------------------------------

GOOD_FILES = [
    pytest.param("application/pdf", "scan.pdf", pdf_bytes(), "pdf", id="pdf"),
    pytest.param("image/png", "photo.png", png_bytes(), "png", id="png"),
    pytest.param("image/jpeg", "photo.jpg", jpeg_bytes(), "jpeg", id="jpeg"),
    pytest.param("application/xml", "advice.xml", CLEAN_XML, "xml", id="xml"),
    pytest.param("text/xml", "advice.xml", CLEAN_XML, "xml", id="text-xml"),
]


@pytest.mark.parametrize(("content_type", "filename", "data", "detected"), GOOD_FILES)
def test_an_uploaded_file_of_the_declared_type_becomes_available(
    api: Api,
    tenant: TestTenant,
    local_cloud: LocalCloud,
    delivered: UploadQueue,
    content_type: str,
    filename: str,
    data: bytes,
    detected: str,
) -> None:
    # Given an upload started for an invoice
    invoice_id = create_invoice(api, tenant)
    started = start_upload(api, tenant, invoice_id, content_type, filename=filename)
    document_id = started["id"]
    assert started["status"] == "pending"
    assert started["role"] == "attachment"
    assert started["upload"]["method"] == "POST"
    assert started["upload"]["fields"]["key"] == upload_key(tenant, invoice_id, document_id)
    # ... which cannot be downloaded before it is checked
    assert get_document(api, tenant, invoice_id, document_id)["download_url"] is None

    # When the file is sent to S3 and the upload queue is delivered
    sent = send_file(started, filename, data)
    assert sent.status_code in {200, 201, 204}, sent.text
    body = wait_until_checked(api, tenant, invoice_id, document_id)

    # Then it is available, described by what its bytes are
    document = body
    assert document["status"] == "available", document
    assert document["detected_type"] == detected
    assert document["content_type"] == content_type
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["size_bytes"] == len(data)
    assert document["filename"] == filename
    assert document["problem"] is None
    assert body["expires_in_seconds"] == 300

    # ... its download URL gives the same bytes
    # The document is recorded available a moment before its move out of uploads/ completes.
    deadline = time.monotonic() + WAIT_BOUND_SECONDS
    while True:
        downloaded = requests.get(body["download_url"], timeout=10)
        if downloaded.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert downloaded.status_code == 200
    assert downloaded.content == data

    # ... it was moved out of uploads/ into documents/, never into quarantine/
    prefix = f"{tenant.tenant_id}/{invoice_id}/"
    assert uploads_once_moved(local_cloud, prefix) == []
    assert keys_under(local_cloud, "quarantine/" + prefix) == []
    [kept] = keys_under(local_cloud, "documents/" + prefix)
    assert kept.startswith(f"documents/{prefix}{document_id}")

    # ... and the invoice lists it
    invoice = api.get(f"/v1/invoices/{invoice_id}", key=tenant.read_only).json()
    assert [d["id"] for d in invoice["documents"]] == [document_id]
    assert invoice["documents"][0]["status"] == "available"


BAD_FILES = [
    pytest.param("application/pdf", "invoice.pdf", executable_bytes(), id="renamed-executable"),
    pytest.param("application/xml", "advice.xml", ENTITY_XML, id="xml-with-entities"),
    pytest.param("text/xml", "advice.xml", EXTERNAL_ENTITY_XML, id="xml-with-external-entity"),
    pytest.param("image/png", "photo.png", pdf_bytes(), id="pdf-declared-as-png"),
    pytest.param("image/jpeg", "photo.jpg", b"GIF89a" + b"\x00" * 64, id="gif-declared-as-jpeg"),
]


@pytest.mark.parametrize(("content_type", "filename", "data"), BAD_FILES)
def test_an_uploaded_file_that_is_not_what_was_declared_is_quarantined(
    api: Api,
    tenant: TestTenant,
    local_cloud: LocalCloud,
    delivered: UploadQueue,
    content_type: str,
    filename: str,
    data: bytes,
) -> None:
    invoice_id = create_invoice(api, tenant)
    started = start_upload(api, tenant, invoice_id, content_type, filename=filename)
    document_id = started["id"]

    assert send_file(started, filename, data).status_code in {200, 201, 204}
    body = wait_until_checked(api, tenant, invoice_id, document_id)

    document = body
    assert document["status"] == "quarantined", document
    assert document["problem"]
    assert document["size_bytes"] == len(data)
    assert body["download_url"] is None
    assert body["expires_in_seconds"] is None
    prefix = f"{tenant.tenant_id}/{invoice_id}/"
    assert keys_under(local_cloud, "documents/" + prefix) == []
    assert uploads_once_moved(local_cloud, prefix) == []
    assert keys_under(local_cloud, "quarantine/" + prefix) == [f"quarantine/{prefix}{document_id}"]
    # The quarantined object is the upload, unchanged
    held = local_cloud.client("s3").get_object(Bucket=bucket(), Key=f"quarantine/{prefix}{document_id}")
    assert held["Body"].read() == data


def test_a_file_over_the_agreed_size_never_becomes_available(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, delivered: UploadQueue
) -> None:
    # Given an upload agreed at 100 bytes at most
    invoice_id = create_invoice(api, tenant)
    started = start_upload(api, tenant, invoice_id, "application/pdf", max_bytes=100)
    document_id = started["id"]
    assert started["upload"]["max_bytes"] == 100
    data = b"%PDF-1.4\n" + b"%" * 491
    assert len(data) == 500

    # When 500 bytes are sent
    sent = send_file(started, "x.pdf", data)

    # Then either S3 refuses them, or the check quarantines them: never available
    if sent.status_code >= 400:
        body = get_document(api, tenant, invoice_id, document_id)
        assert body["status"] == "pending"
    else:
        body = wait_until_checked(api, tenant, invoice_id, document_id)
        assert body["status"] == "quarantined"
        assert "100" in body["problem"]
    assert body["download_url"] is None
    assert keys_under(local_cloud, f"documents/{tenant.tenant_id}/{invoice_id}/") == []


def test_the_audit_trail_shows_the_check_of_each_upload(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, delivered: UploadQueue
) -> None:
    # Given one good and one bad upload on an invoice
    invoice_id = create_invoice(api, tenant)
    good = start_upload(api, tenant, invoice_id, "application/pdf", filename="good.pdf")
    bad = start_upload(api, tenant, invoice_id, "application/pdf", filename="bad.pdf")
    assert send_file(good, "good.pdf", pdf_bytes()).status_code in {200, 201, 204}
    assert send_file(bad, "bad.pdf", executable_bytes()).status_code in {200, 201, 204}

    # When both are checked
    wait_until_checked(api, tenant, invoice_id, good["id"])
    quarantined = wait_until_checked(api, tenant, invoice_id, bad["id"])

    # Then each has one event by the document check, after the invoice's creation
    events = events_of(api, tenant, invoice_id)
    assert events[0]["action"] == "created"
    [added] = document_events(api, tenant, invoice_id, good["id"])
    [held] = document_events(api, tenant, invoice_id, bad["id"])
    assert (added["action"], added["actor"]) == ("document_added", CHECKER)
    assert (held["action"], held["actor"]) == ("document_quarantined", CHECKER)
    assert held["note"] == quarantined["problem"]
    assert len(events) == 3


# --- redelivered and concurrent notifications ---------------------------------------------------


def check_now(tenant: TestTenant, invoice_id: str, document_id: str) -> str:
    """Handle the upload's S3 notification here, as the queue handler would."""
    return documents.check_upload(store(), upload_key(tenant, invoice_id, document_id), now=FROZEN_NOW)


def test_a_redelivered_notification_changes_nothing(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, undelivered: UploadQueue
) -> None:
    # Given an upload already checked
    invoice_id = create_invoice(api, tenant)
    started = start_upload(api, tenant, invoice_id, "image/png", filename="p.png")
    document_id = started["id"]
    assert send_file(started, "p.png", png_bytes()).status_code in {200, 201, 204}
    assert check_now(tenant, invoice_id, document_id) == "available"
    checked = get_document(api, tenant, invoice_id, document_id)
    events_before = events_of(api, tenant, invoice_id)
    objects_before = keys_under(local_cloud, f"documents/{tenant.tenant_id}/{invoice_id}/")
    assert len(objects_before) == 1

    # When the same S3 notification is handled again
    result = check_now(tenant, invoice_id, document_id)

    # Then it is recognised as done, and nothing changes
    assert result == "already checked"
    again = get_document(api, tenant, invoice_id, document_id)
    # A download link is signed at the second it is asked for (by botocore's clock): a new one each time.
    assert again["download_url"] and checked["download_url"]
    assert again | {"download_url": None} == checked | {"download_url": None}
    assert events_of(api, tenant, invoice_id) == events_before
    assert keys_under(local_cloud, f"documents/{tenant.tenant_id}/{invoice_id}/") == objects_before


def test_a_redelivery_finishes_a_check_that_stopped_before_moving_the_file(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, undelivered: UploadQueue
) -> None:
    # Given a checked upload whose file is back under uploads/ (the first run recorded, then stopped)
    invoice_id = create_invoice(api, tenant)
    started = start_upload(api, tenant, invoice_id, "application/pdf")
    document_id = started["id"]
    data = pdf_bytes()
    assert send_file(started, "x.pdf", data).status_code in {200, 201, 204}
    assert check_now(tenant, invoice_id, document_id) == "available"
    checked = get_document(api, tenant, invoice_id, document_id)
    [kept] = keys_under(local_cloud, f"documents/{tenant.tenant_id}/{invoice_id}/")
    s3 = local_cloud.client("s3")
    s3.delete_object(Bucket=bucket(), Key=kept)
    s3.put_object(Bucket=bucket(), Key=upload_key(tenant, invoice_id, document_id), Body=data)
    events_before = events_of(api, tenant, invoice_id)

    # When the notification is handled again
    result = check_now(tenant, invoice_id, document_id)

    # Then the file is moved where the record says, and nothing else changes
    assert result == "already checked"
    assert keys_under(local_cloud, f"uploads/{tenant.tenant_id}/{invoice_id}/") == []
    assert keys_under(local_cloud, f"documents/{tenant.tenant_id}/{invoice_id}/") == [kept]
    assert s3.get_object(Bucket=bucket(), Key=kept)["Body"].read() == data
    again = get_document(api, tenant, invoice_id, document_id)
    assert again | {"download_url": None} == checked | {"download_url": None}  # a new link each time
    assert events_of(api, tenant, invoice_id) == events_before


@pytest.mark.parametrize(
    ("content_type", "data", "status"),
    [
        pytest.param("application/pdf", pdf_bytes(), "available", id="clean"),
        pytest.param("application/pdf", executable_bytes(), "quarantined", id="quarantined"),
    ],
)
def test_two_concurrent_checks_of_one_upload_record_it_once(
    api: Api,
    tenant: TestTenant,
    local_cloud: LocalCloud,
    undelivered: UploadQueue,
    content_type: str,
    data: bytes,
    status: str,
) -> None:
    # Given a fresh upload nobody has checked yet (nothing delivers the queue here)
    invoice_id = create_invoice(api, tenant)
    started = start_upload(api, tenant, invoice_id, content_type)
    document_id = started["id"]
    assert send_file(started, "x.pdf", data).status_code in {200, 201, 204}
    assert get_document(api, tenant, invoice_id, document_id)["status"] == "pending"
    key = upload_key(tenant, invoice_id, document_id)

    # When two deliveries of its notification are handled at the same moment
    barrier = threading.Barrier(2)
    outcomes: list[str | BaseException] = []
    lock = threading.Lock()

    def check() -> None:
        checker = store()
        barrier.wait(timeout=WAIT_BOUND_SECONDS)
        try:
            outcome: str | BaseException = documents.check_upload(checker, key, now=FROZEN_NOW)
        except ClientError as exc:  # the other run moved the file first: SQS would redeliver
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_BOUND_SECONDS)

    # Then the upload is recorded once, with one audit event, and its file is where the record says
    assert len(outcomes) == 2
    assert [o for o in outcomes if isinstance(o, str) and o not in {"already checked", "ignored"}] in (
        [],
        [status],
    ), outcomes
    assert [e["action"] for e in document_events(api, tenant, invoice_id, document_id)] == [
        "document_added" if status == "available" else "document_quarantined"
    ]
    assert get_document(api, tenant, invoice_id, document_id)["status"] == status
    prefix = f"{tenant.tenant_id}/{invoice_id}/"
    assert keys_under(local_cloud, "uploads/" + prefix) == []
    target = "documents/" if status == "available" else "quarantine/"
    assert len(keys_under(local_cloud, target + prefix)) == 1


def test_a_notification_for_an_unknown_key_is_ignored(api: Api, tenant: TestTenant) -> None:
    invoice_id = create_invoice(api, tenant)
    now = FROZEN_NOW
    for key in (
        f"uploads/{tenant.tenant_id}/{invoice_id}/{new_id('document')}",  # no such document
        f"uploads/{tenant.tenant_id}/{invoice_id}",  # not an upload key
        "uploads/../../etc/passwd",
    ):
        assert documents.check_upload(store(), key, now=now) == "ignored", key
    assert [e["action"] for e in events_of(api, tenant, invoice_id)] == ["created"]


# --- bad input, isolation, roles ----------------------------------------------------------------


def _start(api: Api, key: str, invoice_id: str, body: dict[str, Any]) -> Any:
    return api.post(f"/v1/invoices/{invoice_id}/documents", key=key, json_body=body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "application/zip", "filename": "x.zip"}, "content_type"),
        ({"content_type": "application/x-msdownload", "filename": "x.exe"}, "content_type"),
        ({"filename": "x.pdf"}, "content_type"),
        ({"content_type": "application/pdf", "filename": "../x.pdf"}, "filename"),
        ({"content_type": "application/pdf", "filename": ""}, "filename"),
        ({"content_type": "application/pdf", "max_bytes": 0}, "max_bytes"),
        ({"content_type": "application/pdf", "max_bytes": 20 * 1024 * 1024 + 1}, "max_bytes"),
        ({"content_type": "application/pdf", "max_bytes": "100"}, "max_bytes"),
    ],
)
def test_a_bad_upload_request_is_refused_naming_the_field(
    api: Api, tenant: TestTenant, body: dict[str, Any], field: str
) -> None:
    invoice_id = create_invoice(api, tenant)

    response = _start(api, tenant.finance, invoice_id, body)

    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert api.get(f"/v1/invoices/{invoice_id}", key=tenant.read_only).json()["documents"] == []


@pytest.mark.parametrize("invoice_id", [new_id("invoice"), "inv_nope", new_id("counterparty")])
def test_an_upload_for_an_unknown_invoice_is_not_found(api: Api, tenant: TestTenant, invoice_id: str) -> None:
    response = _start(api, tenant.finance, invoice_id, {"content_type": "application/pdf"})

    assert response.status_code == 404
    assert error_of(response)["type"] == "not_found"


def test_another_tenants_invoice_and_documents_are_not_found(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    my_invoice = create_invoice(api, mine)
    their_invoice = create_invoice(api, theirs)
    their_document = start_upload(api, theirs, their_invoice, "application/pdf")["id"]

    # Starting an upload on their invoice
    response = _start(api, mine.finance, their_invoice, {"content_type": "application/pdf"})
    assert response.status_code == 404
    # Reading their document, through their invoice or through mine
    for path in (
        f"/v1/invoices/{their_invoice}/documents/{their_document}",
        f"/v1/invoices/{my_invoice}/documents/{their_document}",
    ):
        read = api.get(path, key=mine.admin)
        assert read.status_code == 404, path
        assert error_of(read)["type"] == "not_found"
    # An id that is not a document's
    assert api.get(f"/v1/invoices/{my_invoice}/documents/{my_invoice}", key=mine.admin).status_code == 404
    # ... and their document is untouched, and not on my invoice
    assert get_document(api, theirs, their_invoice, their_document)["status"] == "pending"
    assert api.get(f"/v1/invoices/{my_invoice}", key=mine.read_only).json()["documents"] == []


def test_a_read_only_key_cannot_start_an_upload_but_can_read_documents(api: Api, tenant: TestTenant) -> None:
    invoice_id = create_invoice(api, tenant)
    document_id = start_upload(api, tenant, invoice_id, "application/pdf")["id"]

    response = _start(api, tenant.read_only, invoice_id, {"content_type": "application/pdf"})

    assert response.status_code == 403
    assert error_of(response)["type"] == "forbidden"
    assert get_document(api, tenant, invoice_id, document_id)["id"] == document_id
    assert len(api.get(f"/v1/invoices/{invoice_id}", key=tenant.read_only).json()["documents"]) == 1
