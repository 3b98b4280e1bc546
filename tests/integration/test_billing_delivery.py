"""Issued invoices go out (part F): the `invoice_delivery` schedule renders the PDF (and the
customer's e-invoice), stores it under invoices/ in the documents bucket and e-mails it with the
files attached, once, against DynamoDB Local and moto's S3 and SES."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from cashline.adapters.documents import DocumentStore
from cashline.dal.billing_invoices import DELIVERY_JOB, lease_job, stage_delivery_due
from cashline.dal.due import query_due
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import TaxCategory
from cashline.domain.einvoice import check_totals, parse_einvoice
from cashline.domain.invoices import Direction, NewInvoice, StatedAmounts
from cashline.errors import NotFoundError
from cashline.schemas.billing_catalog import CreatePriceRequest, CreateProductRequest
from cashline.schemas.subscriptions import NewSubscription
from cashline.services.billing import catalog, delivery
from cashline.services.billing.settings import get_billing_settings, read_logo
from cashline.services.billing.subscriptions import create_subscription
from cashline.services.invoices import invoices as invoice_repository
from cashline.services.invoices import prepare_invoice, store_prepared
from cashline.services.tenancy import tenants
from localcloud.cloud import LocalCloud
from localcloud.handlers import fire_schedule
from tests.utils import FROZEN_NOW, Api, TestTenant

pytestmark = pytest.mark.usefixtures("frozen_now")

TODAY = FROZEN_NOW.date()
REVERSE_CHARGE = "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)"


def _bucket(local_cloud: LocalCloud) -> str:
    return str(local_cloud.environment()["CASHLINE_DOCUMENTS_BUCKET"])


def _outbox(local_cloud: LocalCloud, to: str) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in sorted(local_cloud.outbox_dir.glob("*.json"))]
    return [m for m in found if m.get("to") == to]


def _attachments(local_cloud: LocalCloud, message: dict[str, Any]) -> dict[str, bytes]:
    folder = next(
        p for p in local_cloud.outbox_dir.glob("*") if p.is_dir() and message["provider_id"] in p.name
    )
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()}


def _creditor(api: Api, tenant: TestTenant) -> None:
    current = api.get("/v1/collection-settings", key=tenant.read_only).json()
    response = api.request(
        "PUT",
        "/v1/collection-settings",
        key=tenant.admin,
        json_body={
            **current,
            "creditor_name": "Acme GmbH",
            "creditor_address": ["Hauptstr. 1", "10115 Berlin"],
            "creditor_iban": "DE89 3704 0044 0532 0130 00",
            "creditor_email": "billing@acme.example",
            "creditor_phone": "+49 30 1234567",
        },
    )
    assert response.status_code == 200, response.body


def _customer(api: Api, tenant: TestTenant, name: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "address": {"line1": "Weg 2", "postal_code": "80331", "city": "München", "country": "DE"},
        "preferred_language": "de",
        **fields,
    }
    response = api.post("/v1/counterparties", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def _api_invoice(api: Api, tenant: TestTenant, counterparty_id: str, number: str) -> dict[str, Any]:
    response = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "counterparty": {"id": counterparty_id},
            "number": number,
            "issue_date": str(TODAY),
            "due_date": str(TODAY + timedelta(days=14)),
            "currency": "EUR",
            "lines": [
                {"description": "Pro plan", "quantity": "1", "unit_amount": 9000, "tax_rate": "19"},
                {"description": "Handbook", "quantity": "2", "unit_amount": 1000, "tax_rate": "7"},
            ],
        },
    )
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def _subscription_invoice(tenant: TestTenant, counterparty_id: str, number: str) -> str:
    """An invoice as the issuing engine stores it (details for the e-invoice), reverse charged."""
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number=number,
        issue_date=TODAY,
        due_date=TODAY + timedelta(days=14),
        currency="EUR",
        counterparty_id=counterparty_id,
        metadata={"subscription_id": "sub_x", "period_start": str(TODAY)},
        amount_paid=1000,  # credit balance applied (BT-113)
    )
    details = {
        "lines": [
            {
                "description": "Pro plan",
                "quantity": 1,
                "unit_amount": 9000,
                "net_amount": 9000,
                "rate_basis_points": 0,
                "category_code": "AE",
                "service_start": str(TODAY),
                "service_end": str(TODAY + timedelta(days=31)),
            }
        ],
        "taxes": [
            {
                "rate_basis_points": 0,
                "category_code": "AE",
                "taxable": 9000,
                "tax": 0,
                "exemption_reason": REVERSE_CHARGE,
                "exemption_reason_code": "VATEX-EU-AE",
            }
        ],
        "tax_notes": [REVERSE_CHARGE],
        "seller_vat_id": "DE136695976",
        "buyer_vat_id": "FR40303265045",
    }
    stated = StatedAmounts(9000, 0, 9000, [{"description": "Pro plan", "net_amount": 9000}], [])
    prepared = prepare_invoice(
        tenants.get(tenant.tenant_id),
        new,
        now=FROZEN_NOW,
        source="subscription",
        details=details,
        stated=stated,
    )
    return store_prepared(prepared, actor="test").invoice_id


def _due_for_delivery(tenant: TestTenant, invoice_id: str, at: datetime) -> None:
    """What finalising (D2) stages: the invoice's delivery work item, due at `at`."""
    invoice = invoice_repository.get_header(tenant.tenant_id, invoice_id)
    UnitOfWork("test").add(lambda write: stage_delivery_due(write, invoice, at)).commit()


def _still_due(invoice_id: str, at: datetime) -> bool:
    return any(getattr(item, "invoice_id", None) == invoice_id for item in query_due(DELIVERY_JOB, now=at))


def _events(api: Api, tenant: TestTenant, invoice_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/invoices/{invoice_id}/events", key=tenant.read_only)
    assert response.status_code == 200, response.body
    data: list[dict[str, Any]] = response.json()["data"]
    return [e for e in data if e["action"].startswith("invoice_")]


_test_number = itertools.count(1)


@pytest.fixture
def ticks() -> Iterator[list[datetime]]:
    """Tick instants of this test alone: a schedule claims each tick instant once per session."""
    start = FROZEN_NOW + timedelta(hours=next(_test_number))
    yield [start + timedelta(minutes=5 * n) for n in range(30)]


def test_an_invoice_is_stored_and_emailed_once_with_its_pdf_and_the_pay_link(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud, ticks: list[datetime]
) -> None:
    # Given a finalised invoice of a German customer whose delivery is due
    _creditor(api, tenant)
    customer = _customer(api, tenant, "Kunde GmbH", email="ap@kunde-pdf.example")
    invoice = _api_invoice(api, tenant, customer["id"], "2027-000101")
    _due_for_delivery(tenant, invoice["id"], FROZEN_NOW)

    # When the schedule ticks twice (and once more concurrently)
    first = fire_schedule(chalice_app, "invoice_delivery", ticks[0])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda at: fire_schedule(chalice_app, "invoice_delivery", at), ticks[1:3]))

    # Then one e-mail went out, in German, with the PDF and the pay-link placeholder
    assert first["sent"] >= 1
    [message] = _outbox(local_cloud, "ap@kunde-pdf.example")
    assert message["subject"] == "Rechnung 2027-000101 von Acme GmbH"
    assert "Online bezahlen: (pay link: coming with the customer portal)" in message["text"]
    assert "über 128,50\xa0€, fällig am 29.03.2027" in message["text"]  # 90.00 + 17.10 + 2 x 10.00 + 1.40
    assert set(_attachments(local_cloud, message)) == {"2027-000101.pdf"}
    # and the PDF is in the documents bucket under invoices/
    key = f"invoices/{tenant.tenant_id}/{invoice['id']}/2027-000101.pdf"
    stored = local_cloud.client("s3").get_object(Bucket=_bucket(local_cloud), Key=key)["Body"].read()
    assert stored.startswith(b"%PDF-")
    # and the audit trail says so once; nothing is due any more
    assert [e["action"] for e in _events(api, tenant, invoice["id"])] == ["invoice_sent"]
    assert not _still_due(invoice["id"], ticks[5])


def test_xrechnung_customers_get_the_ubl_xml_beside_the_pdf_and_it_reads_back(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud, ticks: list[datetime]
) -> None:
    _creditor(api, tenant)
    customer = _customer(
        api,
        tenant,
        "Stadtwerke Musterstadt",
        email="rechnung@stadtwerke.example",
        metadata={"einvoice_format": "xrechnung", "buyer_reference": "04011000-12345-67"},
    )
    invoice = _api_invoice(api, tenant, customer["id"], "2027-000102")
    _due_for_delivery(tenant, invoice["id"], FROZEN_NOW)

    fire_schedule(chalice_app, "invoice_delivery", ticks[0])

    [message] = _outbox(local_cloud, "rechnung@stadtwerke.example")
    files = _attachments(local_cloud, message)
    assert set(files) == {"2027-000102.pdf", "2027-000102.xml"}
    read = parse_einvoice(files["2027-000102.xml"])
    assert check_totals(read) == []
    assert (read.profile_name, read.number, read.buyer_reference) == (
        "xrechnung",
        "2027-000102",
        "04011000-12345-67",
    )
    assert (read.totals.tax_exclusive, read.totals.tax_total, read.totals.amount_due) == (
        11000,
        1710 + 140,
        12850,
    )
    assert sorted((s.category, str(s.rate), s.tax_amount) for s in read.tax_subtotals) == [
        ("S", "19.00", 1710),
        ("S", "7.00", 140),
    ]
    assert (read.seller.name, read.seller.city, read.seller.postal_code) == ("Acme GmbH", "Berlin", "10115")
    assert read.creditor_iban == "DE89370400440532013000"
    key = f"invoices/{tenant.tenant_id}/{invoice['id']}/2027-000102.xml"
    assert (
        local_cloud.client("s3").get_object(Bucket=_bucket(local_cloud), Key=key)["Body"].read()
        == files["2027-000102.xml"]
    )


def test_a_facturx_customer_gets_one_pdf_with_the_cii_inside_reverse_charged_with_credit_applied(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud, ticks: list[datetime]
) -> None:
    _creditor(api, tenant)
    customer = _customer(
        api,
        tenant,
        "Client SARL",
        email="compta@client.example",
        preferred_language="fr",
        tax_id="FR40303265045",
        address={"line1": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"},
        metadata={"einvoice_format": "facturx"},
    )
    invoice_id = _subscription_invoice(tenant, customer["id"], "2027-000103")
    _due_for_delivery(tenant, invoice_id, FROZEN_NOW)

    fire_schedule(chalice_app, "invoice_delivery", ticks[0])

    [message] = _outbox(local_cloud, "compta@client.example")
    assert message["subject"] == "Invoice 2027-000103 from Acme GmbH"  # no French texts: English
    files = _attachments(local_cloud, message)
    assert set(files) == {"2027-000103.pdf"}
    read = parse_einvoice(files["2027-000103.pdf"])
    assert check_totals(read) == []
    assert (read.container, read.profile_name) == ("pdf", "en16931")
    assert [(line.tax_category, line.net_amount) for line in read.lines] == [("AE", 9000)]
    assert REVERSE_CHARGE in read.notes
    assert (read.seller.tax_id, read.buyer.tax_id) == ("DE136695976", "FR40303265045")
    assert (read.totals.tax_inclusive, read.totals.prepaid, read.totals.amount_due) == (9000, 1000, 8000)


def test_a_customer_without_email_is_recorded_as_not_sent_and_nothing_loops(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud, ticks: list[datetime]
) -> None:
    customer = _customer(api, tenant, "Ohne Mail GmbH")
    invoice = _api_invoice(api, tenant, customer["id"], "2027-000104")
    _due_for_delivery(tenant, invoice["id"], FROZEN_NOW)

    fire_schedule(chalice_app, "invoice_delivery", ticks[0])
    fire_schedule(chalice_app, "invoice_delivery", ticks[1])

    [event] = _events(api, tenant, invoice["id"])
    assert (event["action"], event["note"]) == ("invoice_not_sent", "no e-mail address")
    assert not _still_due(invoice["id"], ticks[5])
    # the PDF is stored all the same, for the tenant to send another way
    key = f"invoices/{tenant.tenant_id}/{invoice['id']}/2027-000104.pdf"
    assert local_cloud.client("s3").head_object(Bucket=_bucket(local_cloud), Key=key)["ContentLength"] > 0


def test_a_sweep_that_died_after_leasing_is_retried_once_its_lease_ends(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud
) -> None:
    customer = _customer(api, tenant, "Lease GmbH", email="ap@lease.example")
    invoice = _api_invoice(api, tenant, customer["id"], "2027-000105")
    _due_for_delivery(tenant, invoice["id"], FROZEN_NOW)
    # A worker leased it and died (before or after sending: the next one cannot tell, and sends)
    [item] = [
        i for i in query_due(DELIVERY_JOB, now=FROZEN_NOW) if getattr(i, "invoice_id", None) == invoice["id"]
    ]
    assert lease_job(item, until=FROZEN_NOW + delivery.LEASE, now=FROZEN_NOW)

    during = FROZEN_NOW + delivery.LEASE - timedelta(minutes=1)
    fire_schedule(chalice_app, "invoice_delivery", during)
    assert _outbox(local_cloud, "ap@lease.example") == []

    after = FROZEN_NOW + delivery.LEASE + timedelta(minutes=1)
    fire_schedule(chalice_app, "invoice_delivery", after)
    fire_schedule(chalice_app, "invoice_delivery", after + timedelta(minutes=5))
    assert len(_outbox(local_cloud, "ap@lease.example")) == 1


def test_another_tenants_invoice_is_not_found(
    api: Api, tenant: TestTenant, tenant_factory: Any, local_cloud: LocalCloud
) -> None:
    customer = _customer(api, tenant, "Fremd GmbH", email="ap@fremd.example")
    invoice = _api_invoice(api, tenant, customer["id"], "2027-000106")
    other = tenant_factory("Other GmbH")
    runtime = delivery.DeliveryRuntime(email=None, documents=None)  # type: ignore[arg-type]  # never reached
    with pytest.raises(NotFoundError):
        delivery.deliver_invoice(other.tenant_id, invoice["id"], now=FROZEN_NOW, runtime=runtime)
    with pytest.raises(NotFoundError):
        delivery.deliver_invoice(tenant.tenant_id, "not-an-id", now=FROZEN_NOW, runtime=runtime)
    assert date.fromisoformat(invoice["issue_date"]) == TODAY


def test_a_subscriptions_first_invoice_goes_out_as_xrechnung_end_to_end(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: LocalCloud, ticks: list[datetime]
) -> None:
    # Given a customer who asks for XRechnung, subscribed to a 30.00 EUR/month plan from 1 January 2027
    _creditor(api, tenant)
    created = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    customer = _customer(
        api, tenant, "Abo Kunde GmbH", email="ap@abo-kunde.example", metadata={"einvoice_format": "xrechnung"}
    )
    product = catalog.create_product(
        tenant.tenant_id, CreateProductRequest(name="Basic", tax_category=TaxCategory.STANDARD), now=created
    )
    price = catalog.create_price(
        tenant.tenant_id,
        CreatePriceRequest.model_validate(
            {"product_id": product.product_id, "currency": "EUR", "unit_amount": 3000, "interval": "month"}
        ),
        now=created,
    )
    subscription = create_subscription(
        tenant.tenant_id,
        NewSubscription.model_validate(
            {
                "counterparty_id": customer["id"],
                "items": [{"price_id": price.price_id, "quantity": 1}],
                "start_date": "2027-01-01",
                "days_until_due": 14,
            }
        ),
        actor="test",
        now=created,
    )
    # (issued and finalised at creation: its delivery is due)
    assert subscription.latest_invoice_id is not None

    # When the delivery schedule ticks
    fire_schedule(chalice_app, "invoice_delivery", ticks[0])

    # Then the numbered invoice went out with its XRechnung, which reads back as issued
    [message] = _outbox(local_cloud, "ap@abo-kunde.example")
    invoice = invoice_repository.get_header(tenant.tenant_id, subscription.latest_invoice_id)
    assert not invoice.number.startswith("DRAFT")
    files = _attachments(local_cloud, message)
    read = parse_einvoice(files[f"{invoice.number}.xml"])
    assert check_totals(read) == []
    assert (read.number, read.issue_date, read.due_date) == (
        invoice.number,
        date(2027, 1, 1),
        date(2027, 1, 15),
    )
    assert (read.totals.tax_exclusive, read.totals.tax_total, read.totals.amount_due) == (3000, 570, 3570)
    assert [(line.tax_category, str(line.tax_rate)) for line in read.lines] == [("S", "19.00")]
    assert read.lines[0].description.startswith("Basic")


# --------------------------------------------------------------------------------------------------
# The tenant's invoice details and logo

SELLER = {
    "legal_name": "Acme Software GmbH",
    "address_lines": ["Friedrichstr. 10"],
    "postcode": "10117",
    "city": "Berlin",
    "email": "rechnung@acme-software.example",
    "phone": "+49 30 7654321",
    "iban": "DE02 1203 0000 0000 2020 51",
    "bic": "BYLADEM1001",
    "tax_number": "27/123/45678",
    "commercial_register": "Amtsgericht Charlottenburg, HRB 123456 B",
    "managing_directors": "Erika Mustermann",
}


def _logo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 80), (20, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def _seller_details_and_logo(api: Api, tenant: TestTenant) -> bytes:
    current = api.get("/v1/billing-settings", key=tenant.read_only).json()
    response = api.request(
        "PUT",
        "/v1/billing-settings",
        key=tenant.admin,
        json_body={"vat_id": "DE136695976", "invoice_details": SELLER, "version": current["version"]},
    )
    assert response.status_code == 200, response.body
    logo = _logo_png()
    uploaded = api.request(
        "PUT",
        "/v1/billing-settings/logo",
        key=tenant.admin,
        raw_body=logo,
        headers={"Content-Type": "image/png"},
    )
    assert uploaded.status_code == 200, uploaded.body
    return logo


def _first_page(pdf: bytes) -> tuple[str, list[Any]]:
    """The text of page 1 and its image XObjects."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    xobjects = page["/Resources"].get("/XObject") or {}
    images = [xobjects[name].get_object() for name in xobjects]
    return page.extract_text(), [x for x in images if x.get("/Subtype") == "/Image"]


@pytest.mark.parametrize("einvoice_format", ["xrechnung", "facturx"])
def test_the_pdf_and_the_einvoice_carry_the_invoice_details_and_the_logo(
    api: Api,
    tenant: TestTenant,
    chalice_app: Any,
    local_cloud: LocalCloud,
    ticks: list[datetime],
    einvoice_format: str,
) -> None:
    # Given collection creditor details (the fallback) and billing invoice details with a logo
    _creditor(api, tenant)
    _seller_details_and_logo(api, tenant)
    email = f"ap-{einvoice_format}@details.example"
    customer = _customer(
        api, tenant, "Details Kunde GmbH", email=email, metadata={"einvoice_format": einvoice_format}
    )
    number = f"2027-0002{len(einvoice_format)}"
    invoice = _api_invoice(api, tenant, customer["id"], number)
    _due_for_delivery(tenant, invoice["id"], FROZEN_NOW)

    # When it is delivered
    fire_schedule(chalice_app, "invoice_delivery", ticks[0])

    # Then the e-mail names the legal name and replies to the invoice e-mail
    [message] = _outbox(local_cloud, email)
    assert message["subject"] == f"Rechnung {number} von Acme Software GmbH"
    files = _attachments(local_cloud, message)
    # and page 1 of the PDF shows the logo and the seller's details, in letterhead and footer
    text, images = _first_page(files[f"{number}.pdf"])
    assert len(images) == 1 and (images[0]["/Width"], images[0]["/Height"]) == (240, 80)
    for shown in (
        "Acme Software GmbH",
        "Friedrichstr. 10",
        "10117 Berlin",
        "rechnung@acme-software.example",
        "DE02 1203 0000 0000 2020 51",
        "BIC BYLADEM1001",
        "USt-IdNr. DE136695976",
        "Steuernummer 27/123/45678",
        "Amtsgericht Charlottenburg, HRB 123456 B",
        "Geschäftsführung: Erika Mustermann",
    ):
        assert shown in text, shown
    assert "Hauptstr. 1" not in text  # the creditor's address is not mixed in
    # and the e-invoice's seller party carries them and reads back without an EN 16931 violation
    read = parse_einvoice(files[f"{number}.xml" if einvoice_format == "xrechnung" else f"{number}.pdf"])
    assert check_totals(read) == []
    seller = read.seller
    assert (seller.name, seller.street, seller.postal_code, seller.city, seller.country) == (
        "Acme Software GmbH",
        "Friedrichstr. 10",
        "10117",
        "Berlin",
        "DE",
    )
    assert (seller.tax_id, seller.email) == ("DE136695976", "rechnung@acme-software.example")
    assert read.creditor_iban == "DE02120300000000202051"


def test_a_logo_replaced_while_an_invoice_renders_is_read_from_the_current_settings(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud
) -> None:
    # Given settings read with the first logo, then the logo replaced (its object deleted)
    first = _seller_details_and_logo(api, tenant)
    read_before = get_billing_settings(tenant.tenant_id)
    second = _image_bytes((60, 60))
    response = api.request(
        "PUT",
        "/v1/billing-settings/logo",
        key=tenant.admin,
        raw_body=second,
        headers={"Content-Type": "image/png"},
    )
    assert response.status_code == 200, response.body
    bucket = _bucket(local_cloud)
    documents = DocumentStore(bucket, region=local_cloud.region, endpoint=local_cloud.aws_endpoint)

    # When the renderer reads the logo the old settings name, it gets the current one
    assert read_logo(tenant.tenant_id, read_before, documents) == second != first
    # and without a logo, none
    api.delete("/v1/billing-settings/logo", key=tenant.admin)
    assert read_logo(tenant.tenant_id, get_billing_settings(tenant.tenant_id), documents) is None


def _image_bytes(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 0, 0)).save(out, format="PNG")
    return out.getvalue()
