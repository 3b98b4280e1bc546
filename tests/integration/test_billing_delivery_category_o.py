"""Delivery of invoices not subject to VAT (category O): an all-O invoice goes out with an e-invoice
naming no VAT identifier; one mixing O with another category has no valid e-invoice (EN 16931
BR-O-11) and goes out as its PDF alone, the audit event saying why, once, with nothing retried."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from cashline.domain.einvoice import check_totals, parse_einvoice
from cashline.domain.invoices import Direction, NewInvoice, StatedAmounts
from cashline.services.invoices import prepare_invoice, store_prepared
from cashline.services.tenancy import tenants
from localcloud.cloud import LocalCloud
from localcloud.handlers import fire_schedule
from tests.integration.test_billing_delivery import (
    _attachments,
    _creditor,
    _customer,
    _due_for_delivery,
    _events,
    _outbox,
    _still_due,
    ticks,
)
from tests.utils import FROZEN_NOW, Api, TestTenant

__all__ = ["ticks"]  # the fixture, shared with test_billing_delivery
pytestmark = pytest.mark.usefixtures("frozen_now")

TODAY = FROZEN_NOW.date()
OUTSIDE_EU = "Not subject to VAT: place of supply outside the EU (Art. 44 Directive 2006/112/EC)"
US_ADDRESS = {"line1": "1 Main St", "postal_code": "62701", "city": "Springfield", "country": "US"}


def _line(description: str, net: int, category: str, rate: int) -> dict[str, Any]:
    return {
        "description": description,
        "quantity": 1,
        "unit_amount": net,
        "net_amount": net,
        "rate_basis_points": rate,
        "category_code": category,
        "service_start": str(TODAY),
        "service_end": str(TODAY + timedelta(days=31)),
    }


def _engine_invoice(
    tenant: TestTenant,
    counterparty_id: str,
    number: str,
    lines: list[dict[str, Any]],
    taxes: list[dict[str, Any]],
) -> str:
    """An invoice as the issuing engine stores it, with the seller's and the buyer's VAT ids."""
    subtotal = sum(line["net_amount"] for line in lines)
    tax = sum(t["tax"] for t in taxes)
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number=number,
        issue_date=TODAY,
        due_date=TODAY + timedelta(days=14),
        currency="EUR",
        counterparty_id=counterparty_id,
        metadata={"subscription_id": "sub_o", "period_start": str(TODAY)},
    )
    details = {
        "lines": lines,
        "taxes": taxes,
        "tax_notes": [OUTSIDE_EU],
        "seller_vat_id": "DE136695976",
        "buyer_vat_id": "US12-3456789",
    }
    stated = StatedAmounts(
        subtotal,
        tax,
        subtotal + tax,
        [{"description": ln["description"], "net_amount": ln["net_amount"]} for ln in lines],
        [],
    )
    prepared = prepare_invoice(
        tenants.get(tenant.tenant_id),
        new,
        now=FROZEN_NOW,
        source="subscription",
        details=details,
        stated=stated,
    )
    return store_prepared(prepared, actor="test").invoice_id


def _o_tax(taxable: int) -> dict[str, Any]:
    return {
        "rate_basis_points": 0,
        "category_code": "O",
        "taxable": taxable,
        "tax": 0,
        "exemption_reason": "Not subject to VAT",
        "exemption_reason_code": "VATEX-EU-O",
    }


@pytest.mark.parametrize("einvoice_format", ["xrechnung", "facturx"])
def test_an_all_o_invoice_goes_out_with_an_einvoice_naming_no_vat_id(
    api: Api,
    tenant: TestTenant,
    chalice_app: Any,
    local_cloud: LocalCloud,
    ticks: list[datetime],
    einvoice_format: str,
) -> None:
    _creditor(api, tenant)
    email = f"ap-{einvoice_format}@customer-o.example"
    customer = _customer(
        api,
        tenant,
        "Customer Inc.",
        email=email,
        address=US_ADDRESS,
        metadata={"einvoice_format": einvoice_format},
    )
    number = f"2027-O-{einvoice_format[:2]}"
    lines = [_line("Pro plan", 9000, "O", 0), _line("Course", 2500, "O", 0)]
    invoice_id = _engine_invoice(tenant, customer["id"], number, lines, [_o_tax(11500)])
    _due_for_delivery(tenant, invoice_id, FROZEN_NOW)

    fire_schedule(chalice_app, "invoice_delivery", ticks[0])

    [message] = _outbox(local_cloud, email)
    files = _attachments(local_cloud, message)
    read = parse_einvoice(files[f"{number}.xml" if einvoice_format == "xrechnung" else f"{number}.pdf"])
    assert check_totals(read) == []
    assert (read.seller.vat_id, read.buyer.vat_id, read.buyer.tax_id) == (None, None, None)
    assert [(s.category, s.rate, s.taxable_amount, s.tax_amount) for s in read.tax_subtotals] == [
        ("O", None, 11500, 0)
    ]
    [event] = _events(api, tenant, invoice_id)
    assert event["action"] == "invoice_sent" and "einvoice" not in event["changes"]


@pytest.mark.parametrize("einvoice_format", ["xrechnung", "facturx"])
def test_o_mixed_with_s_goes_out_as_the_pdf_alone_and_the_audit_says_why(
    api: Api,
    tenant: TestTenant,
    chalice_app: Any,
    local_cloud: LocalCloud,
    ticks: list[datetime],
    einvoice_format: str,
) -> None:
    # A consumer outside the EU: a digital service (O, Art. 58) and a workshop (S, Art. 45)
    _creditor(api, tenant)
    email = f"me-{einvoice_format}@consumer-o.example"
    customer = _customer(
        api,
        tenant,
        "Jane Doe",
        email=email,
        address=US_ADDRESS,
        metadata={"einvoice_format": einvoice_format},
    )
    number = f"2027-OS-{einvoice_format[:2]}"
    lines = [_line("Streaming", 1000, "O", 0), _line("Workshop", 5000, "S", 1900)]
    taxes = [_o_tax(1000), {"rate_basis_points": 1900, "category_code": "S", "taxable": 5000, "tax": 950}]
    invoice_id = _engine_invoice(tenant, customer["id"], number, lines, taxes)
    _due_for_delivery(tenant, invoice_id, FROZEN_NOW)

    fire_schedule(chalice_app, "invoice_delivery", ticks[0])
    fire_schedule(chalice_app, "invoice_delivery", ticks[1])

    # one e-mail, with the plain PDF (no XML beside it, none inside it)
    [message] = _outbox(local_cloud, email)
    files = _attachments(local_cloud, message)
    assert set(files) == {f"{number}.pdf"}
    assert b"factur-x.xml" not in files[f"{number}.pdf"]
    # the audit event says the invoice was sent, and why its e-invoice was not attached; nothing is due
    [event] = _events(api, tenant, invoice_id)
    assert event["action"] == "invoice_sent"
    assert event["changes"]["einvoice"] == [None, "not_attached"]
    assert event["note"].startswith(f"e-mailed to {email}; no {einvoice_format} e-invoice: ")
    assert "BR-O-11" in event["note"]
    assert not _still_due(invoice_id, ticks[5])
