from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

from cashline.adapters.pdf_documents import invoice_pdf, letter_pdf, printable

CREDITOR: dict[str, Any] = {
    "name": "Müller & Söhne GmbH",
    "address": ["Hauptstraße 5", "10115 Berlin"],
    "email": "buchhaltung@mueller-soehne.example",
    "phone": "+49 30 1234567",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
    "bank_name": "Commerzbank",
    "vat_id": "DE123456789",
}
SUBJECT = "Zahlungserinnerung \u2013 Rechnung Nr. RE-2025-0042"
DEBTOR: dict[str, Any] = {"name": "Bäckerei Öztürk KG", "address": ["Lindenallee 12", "80331 München"]}
BODY = (
    "Sehr geehrte Damen und Herren,\n\n"
    "nach unseren Unterlagen ist die Rechnung RE-2025-0042 noch nicht beglichen.\n\n"
    "Offener Betrag: 1.234,56 €\n\n"
    "Mit freundlichen Grüßen\nMüller & Söhne GmbH"
)


def _letter(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "creditor": CREDITOR,
        "debtor": DEBTOR,
        "date_text": "Berlin, 10. September 2025",
        "subject": SUBJECT,
        "body": BODY,
        "footer": None,
        "language": "de",
    }
    arguments.update(overrides)
    return letter_pdf(**arguments)


def _invoice(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "creditor": CREDITOR,
        "debtor": DEBTOR,
        "number": "RE-2025-0042",
        "issue_date_text": "01.07.2025",
        "due_date_text": "31.07.2025",
        "lines": [
            {
                "description": "Beratung „Projekt Süd“",
                "quantity": "8 h",
                "unit_amount": "120,00 €",
                "net": "960,00 €",
            },
            {"description": "Reisekosten", "quantity": "1", "unit_amount": "274,56 €", "net": "274,56 €"},
        ],
        "totals": [("Netto", "1.234,56 €"), ("USt. 19 %", "234,57 €"), ("Gesamt", "1.469,13 €")],
        "notes": "Zahlbar innerhalb von 30 Tagen ohne Abzug.",
        "language": "de",
    }
    arguments.update(overrides)
    return invoice_pdf(**arguments)


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_letter_is_a_readable_pdf_with_the_text() -> None:
    pdf = _letter()
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) < 50_000
    pages = _pages(pdf)
    assert len(pages) == 1
    text = pages[0]
    for expected in (
        SUBJECT,
        "Müller & Söhne GmbH",
        "Bäckerei Öztürk KG",
        "80331 München",
        "Berlin, 10. September 2025",
        "1.234,56 €",
        "Mit freundlichen Grüßen",
        "Hauptstraße 5",
    ):
        assert expected in text, expected
    assert "Seite" not in text  # no page numbers on a one-page letter
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    assert metadata.title == SUBJECT


def test_default_footer_carries_the_bank_details() -> None:
    text = _pages(_letter())[0]
    assert "IBAN DE89 3704 0044 0532 0130 00" in text
    assert "BIC COBADEFFXXX" in text
    assert "USt-IdNr. DE123456789" in text


def test_footer_can_be_given_or_left_out() -> None:
    given = _pages(_letter(footer="Müller & Söhne GmbH · Amtsgericht Charlottenburg HRB 12345"))[0]
    assert "Amtsgericht Charlottenburg HRB 12345" in given
    assert "IBAN" not in given
    assert "IBAN" not in _pages(_letter(footer=""))[0]


def test_output_is_deterministic() -> None:
    assert _letter() == _letter()
    assert _invoice() == _invoice()
    assert _letter() != _letter(date_text="Berlin, 11. September 2025")


def test_long_bodies_wrap_onto_more_pages_with_page_numbers() -> None:
    paragraph = (
        "Dies ist ein sehr langer Absatz, der zeigen soll, dass der Text umbricht und auf eine weitere "
        "Seite fließt, ohne dass etwas verloren geht. "
    ) * 4
    body = "\n\n".join(f"{n}. {paragraph}" for n in range(1, 16)) + "\n\nENDE DES SCHREIBENS"
    pdf = _letter(body=body)
    pages = _pages(pdf)
    assert len(pages) >= 2
    assert "Seite 1 von" in pages[0]
    assert f"Seite {len(pages)} von {len(pages)}" in pages[-1]
    assert "ENDE DES SCHREIBENS" in pages[-1]
    assert "IBAN DE89" in pages[-1]  # the footer is on every page
    assert len(pdf) < 50_000


def test_a_word_longer_than_the_line_does_not_break_the_layout() -> None:
    pages = _pages(_letter(body="Verwendungszweck: " + "X" * 400))
    assert "XXXX" in "".join(pages)


def test_characters_the_font_cannot_show_become_question_marks() -> None:
    pdf = _letter(
        debtor={"name": "张伟 Trading Ltd", "address": "Ωmega Street 1\n12345 City"},
        subject="Payment reminder 🙂",
        body="Dear Mr Zhang 张伟,\tplease pay \u22121.234,56 € now.\x00\x07 Thank you\u200b.",
        language="en",
    )
    text = _pages(pdf)[0]
    assert "?? Trading Ltd" in text
    assert "?mega Street 1" in text
    assert "Payment reminder ?" in text
    assert "-1.234,56 €" in text


def test_printable_keeps_what_cp1252_has_and_replaces_the_rest() -> None:
    assert printable("Mu\u0308ller") == "Müller"  # decomposed umlaut is composed first
    typographic = "„Straße“ \u2013 1.234,56\u00a0€ … ™"
    assert printable(typographic) == typographic
    assert printable("1\u202f234,56") == "1 234,56"
    assert printable("a\r\nb\x00c\u200bd") == "a\nbcd"
    assert printable("Łódź Dvořák") == "?ódz Dvorák"  # an accent cp1252 lacks is dropped
    assert printable("Ωmega 张 🙂") == "?mega ? ?"


def test_address_lines_may_be_a_list_a_string_or_missing() -> None:
    as_lines = _pages(_letter(debtor={"name": "Kunde AG", "address_lines": ["Weg 1", "12345 Ort"]}))[0]
    assert "Weg 1" in as_lines
    assert "12345 Ort" in as_lines
    bare = _pages(_letter(debtor={"name": "Kunde AG"}, creditor={"name": "Nur Name GmbH"}))[0]
    assert "Kunde AG" in bare


def test_invoice_is_a_readable_pdf_with_lines_and_totals() -> None:
    pdf = _invoice()
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) < 50_000
    pages = _pages(pdf)
    assert len(pages) == 1
    text = pages[0]
    for expected in (
        "Rechnung RE-2025-0042",
        "Müller & Söhne GmbH",
        "Bäckerei Öztürk KG",
        "Beratung „Projekt Süd“",
        "960,00 €",
        "1.234,56 €",
        "1.469,13 €",
        "Fällig am",
        "31.07.2025",
        "Zahlbar innerhalb von 30 Tagen ohne Abzug.",
        "IBAN DE89 3704 0044 0532 0130 00",
    ):
        assert expected in text, expected


def test_invoice_labels_follow_the_language() -> None:
    text = _pages(_invoice(language="en", notes=None))[0]
    assert "Invoice RE-2025-0042" in text
    assert "Unit price" in text
    assert "Fällig am" not in text


@pytest.mark.parametrize("count", [60])
def test_long_invoices_continue_with_headings(count: int) -> None:
    lines = [
        {
            "description": f"Position {n}: Wartung und Pflege",
            "quantity": "1",
            "unit_amount": "10,00 €",
            "net": "10,00 €",
        }
        for n in range(1, count + 1)
    ]
    pdf = _invoice(lines=lines)
    pages = _pages(pdf)
    assert len(pages) >= 2
    assert all("Beschreibung" in page for page in pages)
    assert f"Position {count}:" in pages[-1]
    assert "Seite 2 von" in pages[1]
    assert len(pdf) < 50_000
