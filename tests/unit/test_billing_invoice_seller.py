"""The seller an issued invoice names: the billing settings' invoice details, each empty one the
collection creditor's; the address whole from one of them; the footer's legal line."""

from __future__ import annotations

from datetime import UTC, datetime

from cashline.adapters.invoice_documents import legal_notice
from cashline.dal.billing_settings import BillingSettings, InvoiceDetails
from cashline.domain.access import Tenant
from cashline.services.billing.settings import invoice_seller

NOW = datetime(2027, 1, 1, tzinfo=UTC)
TENANT = Tenant("ten_1", "Acme", "DE", "EUR", "Europe/Berlin", NOW, NOW, 1, tax_id="DE136695976")
CREDITOR = {
    "name": "Acme Inkasso",
    "address": ["Hauptstr. 1", "10115 Berlin"],
    "iban": "DE89 3704 0044 0532 0130 00",
    "email": "inkasso@acme.example",
    "phone": "+49 30 1",
}


def test_without_invoice_details_the_creditor_details_are_the_seller() -> None:
    seller = invoice_seller(TENANT, BillingSettings(vat_id="DE136695976"), CREDITOR)
    assert (seller.name, seller.street, seller.postcode, seller.city, seller.country) == (
        "Acme Inkasso",
        "Hauptstr. 1",
        "10115",
        "Berlin",
        "DE",
    )
    assert seller.letter_address == ("Hauptstr. 1", "10115 Berlin")
    assert (seller.iban, seller.email, seller.vat_id) == (
        "DE89370400440532013000",
        "inkasso@acme.example",
        "DE136695976",
    )


def test_invoice_details_win_field_by_field_and_the_address_as_a_whole() -> None:
    details = InvoiceDetails(
        legal_name="Acme Software GmbH",
        address_lines=("Friedrichstr. 10", "Aufgang B"),
        postcode="10117",
        city="Berlin",
        country="AT",
        email="rechnung@acme.example",
        commercial_register="Amtsgericht Charlottenburg, HRB 123456 B",
    )
    seller = invoice_seller(TENANT, BillingSettings(invoice_details=details), CREDITOR)
    assert (seller.name, seller.street, seller.postcode, seller.country) == (
        "Acme Software GmbH",
        "Friedrichstr. 10, Aufgang B",
        "10117",
        "AT",
    )
    assert seller.letter_address == ("Friedrichstr. 10", "Aufgang B", "10117 Berlin")
    # what the details leave empty comes from the creditor; the VAT id from the tenant
    assert (seller.email, seller.phone, seller.iban) == (
        "rechnung@acme.example",
        "+49 30 1",
        "DE89370400440532013000",
    )
    assert seller.vat_id == "DE136695976"


def test_no_details_and_no_creditor_is_the_tenants_name_alone() -> None:
    seller = invoice_seller(TENANT, BillingSettings(), {})
    assert (seller.name, seller.street, seller.city, seller.letter_address) == ("Acme", None, None, ())


def test_the_legal_line_in_german_and_english() -> None:
    values = {
        "tax_number": "27/123/45678",
        "commercial_register": "Amtsgericht Charlottenburg, HRB 123456 B",
        "managing_directors": "Erika Mustermann",
    }
    assert legal_notice("de_DE", **values) == (
        "Steuernummer 27/123/45678 · Amtsgericht Charlottenburg, HRB 123456 B · "
        "Geschäftsführung: Erika Mustermann"
    )
    assert legal_notice("en", **{**values, "tax_number": None}) == (
        "Amtsgericht Charlottenburg, HRB 123456 B · Managing directors: Erika Mustermann"
    )
    assert legal_notice("fr", tax_number=None, commercial_register=None, managing_directors=None) == ""
