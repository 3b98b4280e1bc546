"""A statement of account as CSV (for import into a spreadsheet or ERP) and as an A4 PDF letter.

The CSV is for machines: amounts are plain decimal numbers with a dot and exactly the currency's
digits ("1234.56", "1234" for JPY), dates are ISO, kinds are the codes from `LineKind`; only the
labels follow the locale's language. Text cells that a spreadsheet would run as a formula are
neutralised (OWASP "CSV injection"): a counterparty controls its own name and payment references.

The PDF is for people: the letter layout of `pdf_documents` (letterhead, address window, footer with
the bank account, "Page n of m" once there is a second page), amounts and dates formatted by Babel
for the locale, labels in English or German. Output is deterministic for the same input.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from fpdf.fonts import FontFace  # type: ignore[import-untyped]  # fpdf2 ships no type information

from cashline.adapters.pdf_documents import (
    _LEFT,
    _SUBJECT_TOP,
    _TEXT_WIDTH,
    _address_field,
    _default_footer,
    _Document,
    _info_block,
    _letterhead,
    _numbered_if_long,
    _totals,
    printable,
)
from cashline.domain.money import currency_exponent
from cashline.domain.statements import AGING_BUCKETS, Statement

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Statement of account",
        "counterparty": "Counterparty",
        "customer_reference": "Customer no.",
        "period": "Period",
        "as_of": "As of",
        "currency": "Currency",
        "date": "Date",
        "kind": "Type",
        "reference": "Reference",
        "description": "Description",
        "debit": "Debit",
        "credit": "Credit",
        "balance": "Balance",
        "opening": "Opening balance",
        "total_debit": "Total debit",
        "total_credit": "Total credit",
        "closing": "Closing balance",
        "aging": "Open items by days past due",
        "aging_total": "Total",
        "current": "Current",
        "1_30": "1\u201330 days",
        "31_60": "31\u201360 days",
        "61_90": "61\u201390 days",
        "over_90": "Over 90 days",
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "payment": "Payment",
        "refund": "Refund",
        "chargeback": "Chargeback",
        "adjustment": "Adjustment",
        # Read by the shared letter helpers (footer, letterhead, page numbers).
        "page": "Page {n} of {nb}",
        "phone": "Phone",
        "vat_id": "VAT ID",
    },
    "de": {
        "title": "Kontoauszug",
        "counterparty": "Kunde",
        "customer_reference": "Kundennr.",
        "period": "Zeitraum",
        "as_of": "Stand",
        "currency": "Währung",
        "date": "Datum",
        "kind": "Art",
        "reference": "Referenz",
        "description": "Beschreibung",
        "debit": "Soll",
        "credit": "Haben",
        "balance": "Saldo",
        "opening": "Anfangssaldo",
        "total_debit": "Summe Soll",
        "total_credit": "Summe Haben",
        "closing": "Schlusssaldo",
        "aging": "Offene Posten nach Tagen überfällig",
        "aging_total": "Summe",
        "current": "Nicht überfällig",
        "1_30": "1\u201330 Tage",
        "31_60": "31\u201360 Tage",
        "61_90": "61\u201390 Tage",
        "over_90": "Über 90 Tage",
        "invoice": "Rechnung",
        "credit_note": "Gutschrift",
        "payment": "Zahlung",
        "refund": "Erstattung",
        "chargeback": "Rückbuchung",
        "adjustment": "Korrektur",
        "page": "Seite {n} von {nb}",
        "phone": "Tel.",
        "vat_id": "USt-IdNr.",
    },
}

# A spreadsheet runs a cell starting with one of these as a formula (tab and CR too: some strip
# them first). OWASP's advice is a leading apostrophe, which shows as text and is easy to remove.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Columns of the line table in millimetres, adding up to the text width (165 mm). At 8 pt an amount
# column holds "-12.345.678,90 €", the type column "Rückbuchung", the date column "Sep 30, 2026".
_LINE_COLUMNS = (19.0, 20.0, 22.0, 32.0, 24.0, 24.0, 24.0)
_AGING_COLUMNS = (27.5,) * 6
_LINE_HEADINGS = ("date", "kind", "reference", "description", "debit", "credit", "balance")
_HEADING = FontFace(emphasis="BOLD")


# --------------------------------------------------------------------------------------------------
# CSV


def statement_csv(statement: Statement, *, locale: str) -> str:
    """RFC 4180 text (CRLF line ends, seven fields per record): header block, one row per line,
    totals and closing balance, aging. Empty records separate the blocks.

    Write it to a file opened with ``newline=""`` so the CRLFs are not doubled.
    """
    labels = _labels(Locale.parse(locale).language)
    currency = statement.currency

    def amount(minor: int) -> str:
        return plain_amount(minor, currency)

    counterparty = statement.counterparty
    rows: list[list[str]] = [
        [_text(labels["title"])],
        [_text(labels["counterparty"]), _text(counterparty.name)],
        [_text(labels["customer_reference"]), _text(counterparty.reference)],
        [_text(labels["period"]), statement.first_day.isoformat(), statement.last_day.isoformat()],
        [_text(labels["currency"]), currency],
        [_text(labels["opening"]), amount(statement.opening_balance)],
        [],
        [_text(labels[key]) for key in _LINE_HEADINGS],
    ]
    for entry in statement.entries:
        line = entry.line
        rows.append(
            [
                line.day.isoformat(),
                _text(line.kind),
                _text(line.reference),
                _text(line.description),
                amount(line.debit),
                amount(line.credit),
                amount(entry.balance),
            ]
        )
    rows += [
        [],
        [_text(labels["total_debit"]), amount(statement.total_debit)],
        [_text(labels["total_credit"]), amount(statement.total_credit)],
        [_text(labels["closing"]), amount(statement.closing_balance)],
        [],
        [_text(labels["aging"])],
        *([_text(labels[key]), amount(statement.aging[key])] for key in AGING_BUCKETS),
        [_text(labels["aging_total"]), amount(statement.aging_total)],
    ]
    # RFC 4180 wants the same number of fields on every record; strict importers reject ragged rows.
    width = len(_LINE_HEADINGS)
    buffer = io.StringIO()
    csv.writer(buffer, dialect="excel", lineterminator="\r\n").writerows(
        row + [""] * (width - len(row)) for row in rows
    )
    return buffer.getvalue()


def plain_amount(minor: int, currency: str) -> str:
    """Minor units as a plain decimal with a dot and the currency's digits: 123456 EUR -> "1234.56"."""
    digits = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def _text(value: str) -> str:
    # Only free text is escaped; amounts are written by plain_amount, so "-12.50" stays a number.
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


# --------------------------------------------------------------------------------------------------
# PDF


def statement_pdf(statement: Statement, *, locale: str, language: str) -> bytes:
    """An A4 statement letter; ``language`` picks the labels ("en" or "de"), ``locale`` the formats."""
    babel_locale = Locale.parse(locale)  # an unknown locale is an error now, not a half-rendered PDF
    labels = _labels(language)
    creditor: dict[str, Any] = {
        "name": statement.creditor.name,
        "address": list(statement.creditor.address_lines),
        "iban": statement.creditor.iban,
    }
    footer_text = _default_footer(creditor, labels)
    return _numbered_if_long(
        partial(_statement_document, statement, babel_locale, labels, creditor, footer_text)
    )


def _statement_document(
    statement: Statement,
    locale: Locale,
    labels: Mapping[str, str],
    creditor: Mapping[str, Any],
    footer_text: str,
    *,
    numbered: bool,
) -> _Document:
    pdf = _Document(footer_text, labels["page"] if numbered else None)
    counterparty = statement.counterparty
    pdf.set_title(printable(f"{labels['title']} {counterparty.name}"))
    pdf.set_author(printable(statement.creditor.name))
    pdf.add_page()
    _letterhead(pdf, creditor, labels)
    debtor = {"name": counterparty.name, "address": list(counterparty.address_lines)}
    _address_field(pdf, creditor, debtor)
    info = [(labels["as_of"], _date(statement.last_day, locale)), (labels["currency"], statement.currency)]
    if counterparty.reference:
        info.insert(0, (labels["customer_reference"], counterparty.reference))
    _info_block(pdf, info)

    pdf.set_xy(_LEFT, _SUBJECT_TOP)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(_TEXT_WIDTH, 7, printable(labels["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    period = f"{_date(statement.first_day, locale)} \u2013 {_date(statement.last_day, locale)}"
    pdf.cell(_TEXT_WIDTH, 6, printable(f"{labels['period']}: {period}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    _lines_table(pdf, statement, locale, labels)
    pdf.ln(3)
    _totals(
        pdf,
        [
            (labels["total_debit"], _money(statement.total_debit, statement.currency, locale)),
            (labels["total_credit"], _money(statement.total_credit, statement.currency, locale)),
            (labels["closing"], _money(statement.closing_balance, statement.currency, locale)),
        ],
    )
    _aging_table(pdf, statement, locale, labels)
    return pdf


def _lines_table(pdf: _Document, statement: Statement, locale: Locale, labels: Mapping[str, str]) -> None:
    currency = statement.currency

    def money_or_blank(minor: int) -> str:
        # An empty cell reads faster than a column of zeros: a line is a debit or a credit.
        return _money(minor, currency, locale) if minor else ""

    pdf.set_font("Helvetica", size=8)
    pdf.set_draw_color(160, 160, 160)
    with pdf.table(
        col_widths=_LINE_COLUMNS,
        width=_TEXT_WIDTH,
        align="LEFT",  # from the left margin; the default centres it on the page
        v_align="TOP",
        text_align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        line_height=4,
        padding=1,
        first_row_as_headings=True,
        repeat_headings=1,  # a long statement keeps its column titles on every page
        headings_style=_HEADING,
    ) as table:
        _row(table, [labels[key] for key in _LINE_HEADINGS])
        opening = table.row()
        opening.cell(printable(_date(statement.first_day, locale)))
        opening.cell(printable(labels["opening"]), colspan=5)
        opening.cell(printable(_money(statement.opening_balance, currency, locale)))
        for entry in statement.entries:
            line = entry.line
            _row(
                table,
                [
                    _date(line.day, locale),
                    labels[line.kind],
                    line.reference,
                    line.description,
                    money_or_blank(line.debit),
                    money_or_blank(line.credit),
                    _money(entry.balance, currency, locale),
                ],
            )
    pdf.set_draw_color(0, 0, 0)


def _aging_table(pdf: _Document, statement: Statement, locale: Locale, labels: Mapping[str, str]) -> None:
    # Heading, column titles and amounts stay together: a heading alone at a page's foot says nothing.
    if pdf.will_page_break(30):
        pdf.add_page()
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(_TEXT_WIDTH, 6, printable(labels["aging"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("Helvetica", size=8)
    pdf.set_draw_color(160, 160, 160)
    amounts = [statement.aging[key] for key in AGING_BUCKETS] + [statement.aging_total]
    with pdf.table(
        col_widths=_AGING_COLUMNS,
        width=_TEXT_WIDTH,
        align="LEFT",
        text_align="RIGHT",
        borders_layout="HORIZONTAL_LINES",
        line_height=4,
        padding=1,
        first_row_as_headings=True,
        headings_style=_HEADING,
    ) as table:
        _row(table, [labels[key] for key in (*AGING_BUCKETS, "aging_total")])
        _row(table, [_money(value, statement.currency, locale) for value in amounts])
    pdf.set_draw_color(0, 0, 0)


def _row(table: Any, cells: Sequence[str]) -> None:
    row = table.row()
    for text in cells:
        row.cell(printable(text))


def _money(minor: int, currency: str, locale: Locale) -> str:
    # Decimal from the exact digits: scaleb shifts the point without any rounding.
    value = Decimal(minor).scaleb(-currency_exponent(currency))
    return str(format_currency(value, currency, locale=locale))


def _date(day: date, locale: Locale) -> str:
    return str(format_date(day, format="medium", locale=locale))


def _labels(language: str) -> Mapping[str, str]:
    return _LABELS.get(language.strip().lower()[:2], _LABELS["en"])
