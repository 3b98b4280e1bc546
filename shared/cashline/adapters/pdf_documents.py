"""Business letters and simple invoices as PDF, drawn with fpdf2.

Layout follows DIN 5008 form B on A4 closely enough for a windowed envelope (DL, window left): the
address field starts 45 mm from the top and 20 mm from the left, fold marks sit at 105 mm and 210 mm,
the subject starts at 98.46 mm, text runs from 25 mm to 20 mm before the right edge.

Fonts: the PDF core font Helvetica, which every viewer has, so nothing is embedded and a letter stays
a few kilobytes. Core fonts only know a single-byte encoding; fpdf2 writes them with WinAnsiEncoding,
so text is encoded as cp1252 (``core_fonts_encoding``), which has the euro sign, German umlauts, ß,
typographic quotes and dashes, unlike latin-1. Anything cp1252 cannot show becomes '?', never an
exception: a debtor's name in another script must not stop a letter from going out. (A bundled
TrueType font would cover more scripts, but no font ships with our dependencies, fetching one at run
time is not an option on Lambda, and Debian's fonts are not there either.)

Output is deterministic for the same input (a fixed creation date in the metadata), so a test or a
deduplicating store can compare bytes.

Parties are plain mappings. Keys read: ``name``; ``address`` (list of lines, or one string with line
breaks; ``address_lines`` is accepted too); for the creditor also ``email``, ``phone``, ``website``,
``bank_name``, ``iban``, ``bic`` and ``vat_id``, all optional.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fpdf import FPDF  # type: ignore[import-untyped]  # no type information: its objects are Any here
from PIL import Image  # fpdf2's own dependency: a logo's pixel size, to fit it

ENCODING = "windows-1252"
# Metadata only: the letter's own date is in its text. A clock here would make every rendering differ.
CREATION_DATE = datetime(2024, 1, 1, tzinfo=UTC)

# Millimetres on A4 portrait.
_LEFT, _RIGHT, _TOP = 25.0, 20.0, 20.0
_TEXT_WIDTH = 210.0 - _LEFT - _RIGHT
_ADDRESS_TOP = 45.0  # the address field (form B)
_ADDRESS_LINES_TOP = 62.7  # its address zone, below the 17.7 mm endorsement zone
_INFO_X = 125.0  # the information block right of the address field
_SUBJECT_TOP = 98.46
_FOOTER_TOP = 297.0 - 22.0
_BOTTOM_MARGIN = 30.0  # text stops above the footer
_FOLD_MARKS = (105.0, 210.0)
_HOLE_MARK = 148.5
_LOGO_WIDTH, _LOGO_HEIGHT = 50.0, 14.0  # the most a letterhead logo may take

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "number": "Invoice no.",
        "issue_date": "Invoice date",
        "due_date": "Due date",
        "description": "Description",
        "quantity": "Quantity",
        "unit_amount": "Unit price",
        "net": "Amount",
        "page": "Page {n} of {nb}",
        "vat_id": "VAT ID",
        "phone": "Phone",
    },
    "de": {
        "invoice": "Rechnung",
        "number": "Rechnungsnr.",
        "issue_date": "Rechnungsdatum",
        "due_date": "Fällig am",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit_amount": "Einzelpreis",
        "net": "Betrag",
        "page": "Seite {n} von {nb}",
        "vat_id": "USt-IdNr.",
        "phone": "Tel.",
    },
}

# Characters cp1252 lacks but that have an obvious stand-in; everything else unknown becomes '?'.
_STAND_INS = {
    "\u202f": " ",  # narrow no-break space (CLDR uses it in French amounts)
    "\u2009": " ",  # thin space
    "\u2007": " ",  # figure space
    "\u2212": "-",  # minus sign
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2043": "-",  # hyphen bullet
    "\t": "    ",
}
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


def letter_pdf(
    *,
    creditor: Mapping[str, Any],
    debtor: Mapping[str, Any],
    date_text: str,
    subject: str,
    body: str,
    footer: str | None,
    language: str = "en",
) -> bytes:
    """An A4 letter. ``footer`` None prints the creditor's details and bank account; "" prints none."""
    labels = _labels(language)
    footer_text = _default_footer(creditor, labels) if footer is None else footer
    return _numbered_if_long(
        partial(_letter, creditor, debtor, date_text, subject, body, footer_text, labels)
    )


def invoice_pdf(
    *,
    creditor: Mapping[str, Any],
    debtor: Mapping[str, Any],
    number: str,
    issue_date_text: str,
    due_date_text: str,
    lines: Sequence[Mapping[str, Any]],
    totals: Sequence[tuple[str, str]],
    notes: str | None,
    language: str = "en",
    logo: bytes | None = None,
    title: str | None = None,
) -> bytes:
    """A one-table invoice. Lines carry preformatted text: description, quantity, unit_amount, net.

    The last of ``totals`` (label, amount text) is printed bold: it is the amount to pay.
    ``logo``: PNG or JPEG bytes drawn at the top left, at most 14 mm high and 50 mm wide.
    ``title``: instead of the language's "Invoice" (a credit note says so).
    """
    labels = _labels(language)
    footer_text = _default_footer(creditor, labels)
    return _numbered_if_long(
        partial(
            _invoice,
            creditor,
            debtor,
            number,
            issue_date_text,
            due_date_text,
            lines,
            totals,
            notes,
            footer_text,
            labels,
            logo,
            title,
        )
    )


def printable(text: str) -> str:
    """Text the core font can show, never an error.

    Composed first (a decomposed "u" + diaeresis is the cp1252 "ü"); a few characters get a
    stand-in; a letter cp1252 lacks loses its accent when it has one ("ź" -> "z", "ř" -> "r"), which
    keeps a name or street legible in the address window; anything else becomes '?'.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(_printable_char(char) for char in text)


def _printable_char(char: str) -> str:
    if char in _STAND_INS:
        return _STAND_INS[char]
    if char in _INVISIBLE or (char != "\n" and unicodedata.category(char) == "Cc"):
        return ""  # zero-width and control characters would otherwise print as '?' noise
    try:
        char.encode(ENCODING)
    except UnicodeEncodeError:
        base = unicodedata.normalize("NFD", char)[0]
        return base if base != char and base.isascii() else "?"
    return char


# --------------------------------------------------------------------------------------------------


def _numbered_if_long(build: Callable[..., _Document]) -> bytes:
    pdf = build(numbered=False)
    if pdf.pages_count > 1:
        # "Page 1 of 2" only when there is a page 2, and the count is known only once the text has
        # flowed: lay it out again with page numbers (they sit in the margin, so nothing moves).
        pdf = build(numbered=True)
    return bytes(pdf.output())


class _Document(FPDF):  # type: ignore[misc]  # FPDF is untyped (Any) to mypy
    """A page with the footer on every page; the first page's letterhead is drawn by the caller."""

    def __init__(self, footer_text: str, page_label: str | None):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.core_fonts_encoding = ENCODING
        self.footer_text = printable(footer_text)
        self.page_label = page_label
        self.set_creation_date(CREATION_DATE)
        self.set_margins(_LEFT, _TOP, _RIGHT)
        self.set_auto_page_break(True, margin=_BOTTOM_MARGIN)
        self.alias_nb_pages("{nb}")

    def footer(self) -> None:
        self.set_text_color(90, 90, 90)
        if self.footer_text.strip():
            self.set_draw_color(180, 180, 180)
            self.line(_LEFT, _FOOTER_TOP - 2, 210 - _RIGHT, _FOOTER_TOP - 2)
            self.set_xy(_LEFT, _FOOTER_TOP)
            self.set_font("Helvetica", size=7.5)
            self.multi_cell(_TEXT_WIDTH, 3.4, self.footer_text, align="C", new_x="LMARGIN", new_y="NEXT")
        if self.page_label:
            self.set_xy(_LEFT, _FOOTER_TOP - 8)
            self.set_font("Helvetica", size=8)
            label = self.page_label.replace("{n}", str(self.page_no()))
            self.cell(_TEXT_WIDTH, 4, label, align="R")
        self.set_text_color(0, 0, 0)


def _new_document(footer_text: str, labels: Mapping[str, str], *, numbered: bool) -> _Document:
    return _Document(footer_text, labels["page"] if numbered else None)


def _letter(
    creditor: Mapping[str, Any],
    debtor: Mapping[str, Any],
    date_text: str,
    subject: str,
    body: str,
    footer_text: str,
    labels: Mapping[str, str],
    *,
    numbered: bool,
) -> _Document:
    pdf = _new_document(footer_text, labels, numbered=numbered)
    pdf.set_title(printable(subject))
    pdf.set_author(printable(_text(creditor, "name")))
    pdf.add_page()
    _letterhead(pdf, creditor, labels)
    _address_field(pdf, creditor, debtor)
    pdf.set_font("Helvetica", size=10)
    pdf.set_xy(_LEFT, _SUBJECT_TOP - 8)
    pdf.cell(_TEXT_WIDTH, 5, printable(date_text), align="R")
    pdf.set_xy(_LEFT, _SUBJECT_TOP)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.multi_cell(_TEXT_WIDTH, 5.5, printable(subject), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    pdf.set_font("Helvetica", size=10.5)
    pdf.multi_cell(_TEXT_WIDTH, 4.8, printable(body), align="L", new_x="LMARGIN", new_y="NEXT")
    return pdf


def _invoice(
    creditor: Mapping[str, Any],
    debtor: Mapping[str, Any],
    number: str,
    issue_date_text: str,
    due_date_text: str,
    lines: Sequence[Mapping[str, Any]],
    totals: Sequence[tuple[str, str]],
    notes: str | None,
    footer_text: str,
    labels: Mapping[str, str],
    logo: bytes | None,
    document_title: str | None,
    *,
    numbered: bool,
) -> _Document:
    pdf = _new_document(footer_text, labels, numbered=numbered)
    title = f"{document_title or labels['invoice']} {number}"
    pdf.set_title(printable(title))
    pdf.set_author(printable(_text(creditor, "name")))
    pdf.add_page()
    _letterhead(pdf, creditor, labels, logo)
    _address_field(pdf, creditor, debtor)
    _info_block(
        pdf,
        [
            (labels["number"], number),
            (labels["issue_date"], issue_date_text),
            (labels["due_date"], due_date_text),
        ],
    )
    pdf.set_xy(_LEFT, _SUBJECT_TOP)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.multi_cell(_TEXT_WIDTH, 7, printable(title), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _line_table(pdf, lines, labels)
    pdf.ln(3)
    _totals(pdf, totals)
    if notes:
        pdf.ln(6)
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(_TEXT_WIDTH, 5, printable(notes), align="L", new_x="LMARGIN", new_y="NEXT")
    return pdf


def _letterhead(
    pdf: _Document, creditor: Mapping[str, Any], labels: Mapping[str, str], logo: bytes | None = None
) -> None:
    name_x = _LEFT
    if logo:
        # Scaled to fit 50 x 14 mm at the top left, from the left margin; the name moves right of it.
        width_px, height_px = Image.open(io.BytesIO(logo)).size
        scale = min(_LOGO_WIDTH / width_px, _LOGO_HEIGHT / height_px)
        width, height = width_px * scale, height_px * scale
        pdf.image(io.BytesIO(logo), x=_LEFT, y=8, w=width, h=height)
        name_x = _LEFT + width + 4
    pdf.set_xy(name_x, 15)
    pdf.set_font("Helvetica", style="B", size=15)
    pdf.cell(min(100.0, _INFO_X - name_x), 8, printable(_text(creditor, "name")))
    contact = [
        *_address(creditor),
        *(f"{labels['phone']} {p}" for p in [_text(creditor, "phone")] if p),
        *(x for x in (_text(creditor, "email"), _text(creditor, "website")) if x),
    ]
    pdf.set_font("Helvetica", size=8)
    pdf.set_xy(_INFO_X, 15)
    pdf.multi_cell(210 - _RIGHT - _INFO_X, 3.6, printable("\n".join(contact)), align="R")
    # Fold and hole marks at the left edge, for folding into a DL envelope and for filing.
    pdf.set_draw_color(150, 150, 150)
    for y in _FOLD_MARKS:
        pdf.line(4, y, 9, y)
    pdf.line(4, _HOLE_MARK, 11, _HOLE_MARK)
    pdf.set_draw_color(0, 0, 0)


def _address_field(pdf: _Document, creditor: Mapping[str, Any], debtor: Mapping[str, Any]) -> None:
    # The return address is printed small on one line at the foot of the endorsement zone, where it
    # shows through the window above the recipient.
    sender = " · ".join(x for x in (_text(creditor, "name"), *_address(creditor)) if x)
    pdf.set_font("Helvetica", size=7)
    pdf.set_xy(_LEFT, _ADDRESS_TOP + 12)
    pdf.cell(80, 3.5, printable(sender))
    pdf.set_draw_color(120, 120, 120)
    pdf.line(_LEFT, _ADDRESS_TOP + 15.8, _LEFT + 80, _ADDRESS_TOP + 15.8)
    pdf.set_draw_color(0, 0, 0)
    recipient = [_text(debtor, "name"), *_address(debtor)]
    pdf.set_font("Helvetica", size=10)
    pdf.set_xy(_LEFT, _ADDRESS_LINES_TOP + 1)
    pdf.multi_cell(80, 4.4, printable("\n".join(x for x in recipient if x)), align="L")


def _info_block(pdf: _Document, rows: Sequence[tuple[str, str]]) -> None:
    y = _ADDRESS_TOP + 5
    for label, value in rows:
        pdf.set_xy(_INFO_X, y)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(30, 4.5, printable(label))
        pdf.set_font("Helvetica", style="B", size=9)
        pdf.cell(210 - _RIGHT - _INFO_X - 30, 4.5, printable(value), align="R")
        y += 5


def _line_table(pdf: _Document, lines: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> None:
    pdf.set_font("Helvetica", size=9.5)
    pdf.set_draw_color(160, 160, 160)
    with pdf.table(
        col_widths=(85, 22, 29, 29),
        width=_TEXT_WIDTH,
        align="LEFT",  # from the left margin; the default centres it on the page
        v_align="TOP",
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=1.2,
        first_row_as_headings=True,
        repeat_headings=1,
    ) as table:
        header = table.row()
        for key in ("description", "quantity", "unit_amount", "net"):
            header.cell(printable(labels[key]))
        for line in lines:
            row = table.row()
            for key in ("description", "quantity", "unit_amount", "net"):
                row.cell(printable(_text(line, key)))
    pdf.set_draw_color(0, 0, 0)


def _totals(pdf: _Document, totals: Sequence[tuple[str, str]]) -> None:
    for index, (label, amount) in enumerate(totals):
        last = index == len(totals) - 1
        pdf.set_font("Helvetica", style="B" if last else "", size=10)
        pdf.set_x(_LEFT + _TEXT_WIDTH - 90)
        pdf.cell(55, 5.5, printable(label), align="R")
        pdf.cell(35, 5.5, printable(amount), align="R", new_x="LMARGIN", new_y="NEXT")


def _default_footer(creditor: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    iban = _text(creditor, "iban")
    rows = [
        [_text(creditor, "name"), ", ".join(_address(creditor))],
        [_text(creditor, "phone"), _text(creditor, "email"), _text(creditor, "website")],
        [
            _text(creditor, "bank_name"),
            f"IBAN {_group(iban)}" if iban else "",
            f"BIC {_text(creditor, 'bic')}" if _text(creditor, "bic") else "",
            f"{labels['vat_id']} {_text(creditor, 'vat_id')}" if _text(creditor, "vat_id") else "",
        ],
        [_text(creditor, "legal_notice")],  # tax number, register, managing directors (invoices)
    ]
    return "\n".join(" · ".join(x for x in row if x) for row in rows if any(row))


def _labels(language: str) -> Mapping[str, str]:
    return _LABELS.get(language.strip().lower()[:2], _LABELS["en"])


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return "" if value is None else str(value).strip()


def _address(party: Mapping[str, Any]) -> list[str]:
    value = party.get("address")
    if value is None:
        value = party.get("address_lines")
    if value is None:
        return []
    lines = value.splitlines() if isinstance(value, str) else [str(x) for x in value]
    return [line.strip() for line in lines if line and line.strip()]


def _group(iban: str) -> str:
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
