"""Statements of account: balances and aging (domain), CSV and PDF rendering (adapter)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from cashline.adapters.statement_documents import plain_amount, statement_csv, statement_pdf
from cashline.domain.statements import (
    AGING_BUCKETS,
    Counterparty,
    Creditor,
    OpenItem,
    Statement,
    StatementLine,
    aging_buckets,
    build_statement,
)

FIRST, LAST = date(2026, 10, 1), date(2026, 10, 31)
COUNTERPARTY = Counterparty(
    name="Bäckerei Öztürk KG",
    address_lines=("Lindenallee 12", "80331 München"),
    reference="K-10042",
)
CREDITOR = Creditor(
    name="Müller & Söhne GmbH",
    address_lines=("Hauptstraße 5", "10115 Berlin"),
    iban="DE89370400440532013000",
)

# Opening 100.00 owed; a 500.00 invoice; 200.00 paid on account; a 50.00 credit note; 15.00 of an
# earlier overpayment refunded to them. Closing: 100 + 500 + 15 - 200 - 50 = 365.00.
LINES = [
    StatementLine(date(2026, 10, 20), "refund", "RF-7", "Refund of overpayment", 1500, 0),
    StatementLine(date(2026, 10, 10), "payment", "PAY-1", "Transfer, thank you", 0, 20000),
    StatementLine(date(2026, 10, 12), "credit_note", "CN-3", "Returned goods", 0, 5000),
    StatementLine(date(2026, 10, 5), "invoice", "INV-42", "Bread rolls, October", 50000, 0),
]
OPEN_ITEMS = [
    OpenItem("INV-17", date(2026, 9, 1), 10000),  # 60 days past due on 31 Oct
    OpenItem("INV-42", date(2026, 11, 4), 26500),  # not due yet
]


def _statement(**overrides: object) -> Statement:
    arguments: dict[str, object] = {
        "counterparty": COUNTERPARTY,
        "creditor": CREDITOR,
        "currency": "EUR",
        "first_day": FIRST,
        "last_day": LAST,
        "opening_balance": 10000,
        "lines": LINES,
        "open_items": OPEN_ITEMS,
    }
    arguments.update(overrides)
    return build_statement(**arguments)  # type: ignore[arg-type]


# --- the statement --------------------------------------------------------------------------------


def test_lines_are_sorted_and_carry_a_running_balance() -> None:
    statement = _statement(expect_balanced=True)
    assert [e.line.reference for e in statement.entries] == ["INV-42", "PAY-1", "CN-3", "RF-7"]
    assert [e.balance for e in statement.entries] == [60000, 40000, 35000, 36500]
    assert (statement.total_debit, statement.total_credit) == (51500, 25000)
    assert statement.closing_balance == 36500
    assert statement.aging == {"current": 26500, "1_30": 0, "31_60": 10000, "61_90": 0, "over_90": 0}
    assert statement.aging_total == 36500 and statement.balanced


def test_same_day_lines_go_by_kind_then_the_callers_order() -> None:
    day = date(2026, 10, 9)
    lines = [
        StatementLine(day, "payment", "P-1", "", 0, 100),
        StatementLine(day, "adjustment", "A-1", "", 5, 0),
        StatementLine(day, "invoice", "I-2", "", 300, 0),
        StatementLine(day, "invoice", "I-1", "", 200, 0),
    ]
    statement = _statement(lines=lines, opening_balance=0, open_items=[])
    assert [e.line.reference for e in statement.entries] == ["I-2", "I-1", "P-1", "A-1"]
    assert [e.balance for e in statement.entries] == [300, 500, 400, 405]


def test_an_unbalanced_statement_is_an_error_only_when_asked() -> None:
    missing_item = OPEN_ITEMS[:1]
    assert not _statement(open_items=missing_item).balanced
    with pytest.raises(ValueError, match="closing balance"):
        _statement(open_items=missing_item, expect_balanced=True)


def test_an_empty_period_keeps_the_opening_balance() -> None:
    statement = _statement(lines=[], open_items=[OpenItem("INV-17", date(2026, 9, 1), 10000)])
    assert statement.entries == ()
    assert statement.closing_balance == statement.opening_balance == 10000
    assert statement.balanced


@pytest.mark.parametrize(
    "change",
    [
        {"lines": [StatementLine(date(2026, 11, 1), "invoice", "LATE", "", 1, 0)]},
        {"first_day": LAST, "last_day": FIRST},
        {"currency": "EURO"},
        {"opening_balance": 100.0},
    ],
)
def test_bad_input_is_refused(change: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        _statement(**change)


def test_lines_refuse_negative_float_and_unknown_amounts() -> None:
    with pytest.raises(ValueError):
        StatementLine(FIRST, "invoice", "X", "", -1, 0)
    with pytest.raises(TypeError):
        StatementLine(FIRST, "payment", "X", "", 0, 12.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        StatementLine(FIRST, "gift", "X", "", 1, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-10, "current"),
        (0, "current"),
        (1, "1_30"),
        (30, "1_30"),
        (31, "31_60"),
        (60, "31_60"),
        (61, "61_90"),
        (90, "61_90"),
        (91, "over_90"),
        (400, "over_90"),
    ],
)
def test_aging_bucket_boundaries(days: int, bucket: str) -> None:
    as_of = date(2026, 10, 31)
    buckets = aging_buckets([OpenItem("X", as_of - timedelta(days=days), 1234)], as_of)
    assert list(buckets) == ["current", "1_30", "31_60", "61_90", "over_90"] == list(AGING_BUCKETS)
    assert buckets == {key: (1234 if key == bucket else 0) for key in AGING_BUCKETS}


def test_aging_sums_items_and_ages_unapplied_credits_by_their_date() -> None:
    as_of = date(2026, 10, 31)
    items = [
        OpenItem("A", date(2026, 10, 1), 1000),
        OpenItem("B", date(2026, 10, 15), 500),
        OpenItem("PAY-9", date(2026, 10, 20), -300),
    ]
    assert aging_buckets(items, as_of) == {"current": 0, "1_30": 1200, "31_60": 0, "61_90": 0, "over_90": 0}
    assert aging_buckets([], as_of) == dict.fromkeys(AGING_BUCKETS, 0)


amounts = st.integers(min_value=0, max_value=10**12)


@given(
    opening=st.integers(min_value=-(10**12), max_value=10**12),
    lines=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=30),
            st.sampled_from(["invoice", "credit_note", "payment", "refund", "chargeback", "adjustment"]),
            amounts,
            amounts,
        ),
        max_size=40,
    ),
)
def test_closing_is_opening_plus_debits_minus_credits(
    opening: int, lines: list[tuple[int, str, int, int]]
) -> None:
    statement_lines = [
        StatementLine(FIRST + timedelta(days=d), kind, f"R{i}", "", debit, credit)  # type: ignore[arg-type]
        for i, (d, kind, debit, credit) in enumerate(lines)
    ]
    statement = _statement(lines=statement_lines, opening_balance=opening, open_items=[])
    debits = sum(line[2] for line in lines)
    credits = sum(line[3] for line in lines)
    assert statement.closing_balance == opening + debits - credits
    assert (statement.total_debit, statement.total_credit) == (debits, credits)
    expected_last = statement.entries[-1].balance if statement.entries else opening
    assert expected_last == statement.closing_balance
    days = [e.line.day for e in statement.entries]
    assert days == sorted(days)


# --- CSV ----------------------------------------------------------------------------------------


def _csv_rows(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert {len(row) for row in rows} == {7}  # RFC 4180: every record has the same fields
    # The padding cells are of no interest to the assertions below.
    return [_trimmed(row) for row in rows]


def _trimmed(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


def test_csv_parses_back_with_plain_numbers() -> None:
    text = statement_csv(_statement(), locale="en_US")
    assert text.endswith("\r\n") and "\r\n,,,,,,\r\n" in text  # RFC 4180 line ends, empty separator records
    rows = _csv_rows(text)
    assert rows[0] == ["Statement of account"]
    assert rows[1] == ["Counterparty", "Bäckerei Öztürk KG"]
    assert rows[3] == ["Period", "2026-10-01", "2026-10-31"]
    assert rows[4] == ["Currency", "EUR"]
    assert rows[5] == ["Opening balance", "100.00"]
    header = rows.index(["Date", "Type", "Reference", "Description", "Debit", "Credit", "Balance"])
    assert rows[header + 1] == [
        "2026-10-05",
        "invoice",
        "INV-42",
        "Bread rolls, October",
        "500.00",
        "0.00",
        "600.00",
    ]
    assert rows[header + 2] == [
        "2026-10-10",
        "payment",
        "PAY-1",
        "Transfer, thank you",
        "0.00",
        "200.00",
        "400.00",
    ]
    assert ["Closing balance", "365.00"] in rows
    assert ["Current", "265.00"] in rows and ["31\u201360 days", "100.00"] in rows
    assert ["Total", "365.00"] in rows


def test_csv_labels_follow_the_locale_language() -> None:
    rows = _csv_rows(statement_csv(_statement(), locale="de_DE"))
    assert ["Schlusssaldo", "365.00"] in rows  # the number stays machine-readable
    assert ["Datum", "Art", "Referenz", "Beschreibung", "Soll", "Haben", "Saldo"] in rows


def test_csv_neutralises_formula_injection_in_text_but_not_in_numbers() -> None:
    lines = [
        StatementLine(FIRST, "invoice", '=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", 100, 0),
        StatementLine(FIRST, "payment", "@SUM(A1:A9)", "-2+3", 0, 250),
        StatementLine(FIRST, "adjustment", "\tTAB", "\rCR", 0, 0),
        StatementLine(FIRST, "adjustment", "ok-ref", "a = b", 0, 0),
    ]
    evil = Counterparty(name="=cmd|' /C calc'!A0", reference="-1")
    statement = _statement(lines=lines, counterparty=evil, opening_balance=0, open_items=[])
    rows = _csv_rows(statement_csv(statement, locale="en_US"))
    assert rows[1] == ["Counterparty", "'=cmd|' /C calc'!A0"]
    assert rows[2] == ["Customer no.", "'-1"]
    body = rows[rows.index(["Date", "Type", "Reference", "Description", "Debit", "Credit", "Balance"]) + 1 :]
    assert body[0][2:4] == ['\'=HYPERLINK("http://evil","x")', "'+1+cmd|' /C calc'!A0"]
    assert body[1][2:] == [
        "'@SUM(A1:A9)",
        "'-2+3",
        "0.00",
        "2.50",
        "-1.50",
    ]  # a negative balance stays a number
    assert body[2][2:4] == ["'\tTAB", "'\rCR"]
    assert body[3][2:4] == ["ok-ref", "a = b"]


@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [
        ("EUR", 123456, "1234.56"),
        ("EUR", -5, "-0.05"),
        ("EUR", 0, "0.00"),
        ("JPY", 123456, "123456"),
        ("JPY", -7, "-7"),
        ("BHD", 12345, "12.345"),
        ("BHD", 7, "0.007"),
    ],
)
def test_plain_amounts_have_the_currencys_digits(currency: str, minor: int, text: str) -> None:
    assert plain_amount(minor, currency) == text


def test_csv_in_yen_has_no_decimals() -> None:
    lines = [StatementLine(FIRST, "invoice", "INV-1", "Consulting", 123456, 0)]
    statement = _statement(currency="JPY", lines=lines, opening_balance=0, open_items=[])
    rows = _csv_rows(statement_csv(statement, locale="ja_JP"))
    assert ["2026-10-01", "invoice", "INV-1", "Consulting", "123456", "0", "123456"] in rows
    assert all("." not in cell for row in rows[5:] for cell in row[4:] if re.fullmatch(r"-?[0-9.]+", cell))


# --- PDF ----------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # Babel puts a no-break space between amount and symbol; compare with plain spaces.
    return len(reader.pages), text.replace("\xa0", " ")


def test_german_pdf_shows_title_umlauts_and_the_closing_balance() -> None:
    data = statement_pdf(
        _statement(lines=[*LINES, StatementLine(LAST, "invoice", "INV-50", "Großauftrag", 86956, 0)]),
        locale="de_DE",
        language="de",
    )
    assert data.startswith(b"%PDF-")
    pages, text = _pdf_text(data)
    assert pages == 1
    assert "Kontoauszug" in text
    assert "Bäckerei Öztürk KG" in text and "80331 München" in text
    assert "Müller & Söhne GmbH" in text
    assert "Schlusssaldo" in text and "1.234,56 €" in text  # 365.00 + 869.56
    assert "01.10.2026 \u2013 31.10.2026" in text
    assert "Gutschrift" in text and "Großauftrag" in text
    assert "Seite" not in text  # one page: no page numbers


def test_english_pdf_is_deterministic() -> None:
    first = statement_pdf(_statement(), locale="en_GB", language="en")
    assert first == statement_pdf(_statement(), locale="en_GB", language="en")
    _, text = _pdf_text(first)
    assert "Statement of account" in text and "Closing balance" in text and "€365.00" in text
    assert "Credit note" in text and "Over 90 days" in text


def test_two_hundred_lines_wrap_onto_numbered_pages_and_stay_small() -> None:
    lines = [
        StatementLine(
            FIRST + timedelta(days=i % 31),
            "invoice" if i % 2 else "payment",
            f"RE-2026-{i:04d}",
            f"Lieferung Nr. {i} \u2013 Brötchen und Gebäck",
            12345 if i % 2 else 0,
            0 if i % 2 else 10000,
        )
        for i in range(200)
    ]
    statement = _statement(lines=lines, open_items=[])
    data = statement_pdf(statement, locale="de_DE", language="de")
    assert len(data) < 100 * 1024
    pages, text = _pdf_text(data)
    assert pages > 1
    assert f"Seite 1 von {pages}" in text and f"Seite {pages} von {pages}" in text
    assert text.count("Referenz") == pages  # the column titles repeat on every page
    closing = (
        f"{statement.closing_balance // 100:,}".replace(",", ".")
        + f",{statement.closing_balance % 100:02d} €"
    )
    assert closing in text
