"""CSV bank exports read with a column mapping: German, English and marker-style exports written here
(there is no CSV corpus), amounts and rounding, and the files refused naming line and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cashline.domain.bank.csv_lines import CsvMapping, parse_csv
from cashline.domain.bank.detect import detect_format
from cashline.domain.bank.model import BankFileError, Direction, ReportKind
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, OverBudgetError

GERMAN = (
    "Umsatzanzeige;Girokonto\r\n"
    "Konto;DE89370400440532013000\r\n"
    "Zeitraum;01.11.2026 - 30.11.2026\r\n"
    "\r\n"
    "Buchungstag;Valuta;Auftraggeber/Empfänger;IBAN;Verwendungszweck;Soll;Haben;Währung\r\n"
    "02.11.2026;02.11.2026;Müller GmbH;DE44 5001 0517 5407 3249 31;RE-2026-0042 Danke;;1.234,56;EUR\r\n"
    "03.11.2026;04.11.2026;Stadtwerke Düsseldorf;DE89370400440532013000;Abschlag November;-89,90;;EUR\r\n"
    ";;;;;;;\r\n"
    "15.11.2026;15.11.2026;Büro Schmitz;;Miete 11/2026;1.500,00;;EUR\r\n"
    "28.11.2026;30.11.2026;Kunde AG;;RE-2026-0050;;10.000,01;EUR\r\n"
).encode("cp1252")
GERMAN_MAPPING = CsvMapping(
    booking_date="Buchungstag",
    value_date="valuta",
    credit="Haben",
    debit="Soll",
    currency_column="Währung",
    remittance=("Verwendungszweck",),
    counterparty_name="Auftraggeber/Empfänger",
    counterparty_iban="IBAN",
    thousands_separator=".",
    account="DE89 3704 0044 0532 0130 00",
)

ENGLISH = (
    b"Date,Description,Amount,Reference,End to end\n"
    b'2026-11-02,"Invoice 42, November, thanks",1520.00,BR-1,E2E-1\n'
    b'2026-11-05,"Card, ""Coffee"" shop",-4.35,BR-2,\n'
    b"2026-11-01,Refund,-0.65,BR-3,\n"
)
ENGLISH_MAPPING = CsvMapping(
    booking_date="date",
    date_format="%Y-%m-%d",
    amount="Amount",
    remittance=("Description",),
    bank_reference="Reference",
    end_to_end_id="End to End",
    decimal_separator=".",
    currency="GBP",
    account="12345678",
)

MARKERS = (
    b"Booking|Amount|DC|Text\n"
    b"11/03/2026|100.00|Credit|in\n11/04/2026|30.50|debit|out\n11/05/2026|1.25|C|fee back\n"
)
MARKERS_MAPPING = CsvMapping(
    booking_date="Booking",
    date_format="%m/%d/%Y",
    amount="Amount",
    direction="DC",
    credit_markers=("Credit", "C"),
    debit_markers=("Debit", "D"),
    remittance=("Text",),
    decimal_separator=".",
    currency="USD",
)


def _independent_totals(rows: list[tuple[str, str]]) -> tuple[int, int]:
    """(credits, debits) in cents from (soll, haben) strings, without the parser."""

    def cents(text: str) -> int:
        return int(abs(Decimal(text.replace(".", "").replace(",", "."))) * 100)

    return sum(cents(h) for _, h in rows if h), sum(cents(s) for s, _ in rows if s)


def test_german_export_semicolons_preamble_soll_haben_thousands_and_cp1252() -> None:
    [statement] = parse_csv(GERMAN, GERMAN_MAPPING)
    assert statement.format == "csv" and statement.kind is ReportKind.STATEMENT
    assert statement.account_iban == "DE89370400440532013000" and statement.account_other is None
    assert statement.currency == "EUR"
    assert (statement.from_date, statement.to_date) == (date(2026, 11, 2), date(2026, 11, 28))
    assert statement.opening_balance is None and statement.balanced is None
    assert [line.amount for line in statement.lines] == [123456, 8990, 150000, 1000001]
    assert [line.direction for line in statement.lines] == [
        Direction.CREDIT,
        Direction.DEBIT,
        Direction.DEBIT,
        Direction.CREDIT,
    ]
    first, second = statement.lines[:2]
    assert first.counterparty_name == "Müller GmbH" and first.counterparty_iban == "DE44500105175407324931"
    assert first.remittance == "RE-2026-0042 Danke" and first.raw_location == "line 6"
    assert second.value_date == date(2026, 11, 4) and second.counterparty_name == "Stadtwerke Düsseldorf"
    assert statement.lines[2].raw_location == "line 9"  # the blank row (line 8) was skipped
    credits, debits = _independent_totals(
        [("", "1.234,56"), ("-89,90", ""), ("1.500,00", ""), ("", "10.000,01")]
    )
    assert (statement.credits_total, statement.debits_total) == (credits, debits) == (1123457, 158990)


def test_english_export_commas_iso_dates_signed_amounts_and_quoted_remittance() -> None:
    [statement] = parse_csv(ENGLISH, ENGLISH_MAPPING)
    assert statement.account_iban is None and statement.account_other == "12345678"
    assert [(line.amount, line.direction) for line in statement.lines] == [
        (152000, Direction.CREDIT),
        (435, Direction.DEBIT),
        (65, Direction.DEBIT),
    ]
    assert statement.lines[0].remittance == "Invoice 42, November, thanks"
    assert statement.lines[1].remittance == 'Card, "Coffee" shop'
    assert statement.lines[0].end_to_end_id == "E2E-1" and statement.lines[1].end_to_end_id is None
    assert statement.lines[0].bank_reference == "BR-1" and statement.lines[0].currency == "GBP"
    assert (statement.from_date, statement.to_date) == (date(2026, 11, 1), date(2026, 11, 5))
    assert (statement.credits_total, statement.debits_total) == (152000, 435 + 65)


def test_direction_column_with_markers_any_case() -> None:
    [statement] = parse_csv(MARKERS, MARKERS_MAPPING)
    assert [(line.amount, line.direction) for line in statement.lines] == [
        (10000, Direction.CREDIT),
        (3050, Direction.DEBIT),
        (125, Direction.CREDIT),
    ]
    assert statement.lines[0].booking_date == date(2026, 11, 3)


def test_unknown_direction_marker_is_refused_naming_line_and_column() -> None:
    with pytest.raises(BankFileError, match=r"'X'.*line 2, column DC"):
        parse_csv(MARKERS.replace(b"|Credit|", b"|X|"), MARKERS_MAPPING)


def test_fixed_preamble_lines_skipped() -> None:
    data = b"Export of account 4711\nCreated by the bank\nDate,Amount\n2026-11-02,5.00\n"
    mapping = CsvMapping(
        booking_date="Date",
        date_format="%Y-%m-%d",
        amount="Amount",
        decimal_separator=".",
        currency="EUR",
        skip_lines=2,
        delimiter=",",
    )
    [statement] = parse_csv(data, mapping)
    assert statement.lines[0].amount == 500 and statement.lines[0].raw_location == "line 4"


def test_bom_is_dropped_from_the_first_header_name() -> None:
    [statement] = parse_csv(b"\xef\xbb\xbf" + ENGLISH, ENGLISH_MAPPING)
    assert len(statement.lines) == 3


def test_jpy_amounts_have_no_decimals() -> None:
    data = "日付,金額\n2026-11-02,150000\n2026-11-03,-2.500\n".encode()
    mapping = CsvMapping(
        booking_date="日付",
        date_format="%Y-%m-%d",
        amount="金額",
        decimal_separator=",",
        thousands_separator=".",
        currency="JPY",
    )
    [statement] = parse_csv(data, mapping)
    assert [(line.amount, line.direction) for line in statement.lines] == [
        (150000, Direction.CREDIT),
        (2500, Direction.DEBIT),
    ]


@pytest.mark.parametrize(
    ("amount", "minor"),
    [("12,345", 1234), ("12,355", 1236), ("12,34501", 1235), ("8,8500", 885), ("12,345-", 1234)],
)
def test_extra_decimals_round_half_even(amount: str, minor: int) -> None:
    data = f"Tag;Betrag\n01.11.2026;{amount}\n".encode()
    mapping = CsvMapping(booking_date="Tag", amount="Betrag", currency="EUR")
    assert parse_csv(data, mapping)[0].lines[0].amount == minor


def test_signs_behind_and_in_parentheses() -> None:
    data = b"Date,Amount\n2026-11-02,(1234.50)\n2026-11-03,7.00-\n2026-11-04,+3\n"
    mapping = CsvMapping(
        booking_date="Date", date_format="%Y-%m-%d", amount="Amount", decimal_separator=".", currency="EUR"
    )
    lines = parse_csv(data, mapping)[0].lines
    assert [(line.amount, line.direction) for line in lines] == [
        (123450, Direction.DEBIT),
        (700, Direction.DEBIT),
        (300, Direction.CREDIT),
    ]


def test_missing_column_is_refused_naming_it() -> None:
    mapping = CsvMapping(
        booking_date="Buchungstag", credit="Haben", debit="Soll", currency="EUR", remittance=("Zweck",)
    )
    with pytest.raises(BankFileError, match=r"'Zweck'.*line 5, column Zweck"):
        parse_csv(GERMAN, mapping)


def test_bad_date_is_refused_naming_line_and_column() -> None:
    data = GERMAN.replace(b"15.11.2026;15.11.2026", b"31.11.2026;15.11.2026")
    with pytest.raises(BankFileError, match=r"'31.11.2026'.*line 9, column Buchungstag"):
        parse_csv(data, GERMAN_MAPPING)


def test_bad_amount_and_both_amount_columns_are_refused() -> None:
    with pytest.raises(BankFileError, match=r"'1,5x'.*line 3, column Amount"):
        parse_csv(ENGLISH.replace(b",-4.35,", b',"1,5x",'), ENGLISH_MAPPING)
    with pytest.raises(BankFileError, match=r"both.*line 6, column Haben"):
        parse_csv(
            GERMAN.replace(b"DE44 5001 0517 5407 3249 31;RE-2026-0042 Danke;;", b";x;1,00;"), GERMAN_MAPPING
        )


def test_summary_row_that_does_not_parse_is_refused() -> None:
    with pytest.raises(BankFileError, match=r"'Total'.*line 5, column Date"):
        parse_csv(ENGLISH + b"Total,,1520.00-5.00,,\n", ENGLISH_MAPPING)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n  \r\n"])
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(BankFileError, match="empty"):
        parse_csv(data, ENGLISH_MAPPING)


def test_header_only_is_a_statement_without_lines() -> None:
    [statement] = parse_csv(ENGLISH.splitlines()[0] + b"\n", ENGLISH_MAPPING)
    assert statement.lines == () and statement.from_date is None and statement.currency == "GBP"


def test_over_budget_is_refused_before_reading() -> None:
    with pytest.raises(OverBudgetError):
        parse_csv(b" " * (MAX_DECOMPRESSED_BYTES + 1), ENGLISH_MAPPING)


def test_rows_with_every_mapped_field_empty_are_skipped_and_control_characters_dropped() -> None:
    data = b"Date,Amount,Note,Unmapped\n,,,stray\n2026-11-02,1.00,a\x07b\x00c,\n,,,\n"
    mapping = CsvMapping(
        booking_date="Date",
        date_format="%Y-%m-%d",
        amount="Amount",
        remittance=("Note",),
        decimal_separator=".",
        currency="EUR",
    )
    [statement] = parse_csv(data, mapping)
    assert [(line.remittance, line.raw_location) for line in statement.lines] == [("abc", "line 3")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": None}, "amount"),
        ({"credit": "Haben"}, "credit"),
        ({"direction": "DC"}, "credit_markers"),
        ({"decimal_separator": ";"}, "decimal_separator"),
        ({"thousands_separator": "."}, "thousands_separator"),
        ({"delimiter": ":"}, "delimiter"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": None}, "currency"),
        ({"date_format": "dd.mm.yyyy"}, "date_format"),
        ({"encoding": "klingon"}, "encoding"),
        ({"skip_lines": -1}, "skip_lines"),
        ({"booking_date": " "}, "booking_date"),
    ],
)
def test_mapping_is_validated_naming_the_field(changes: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"booking_date": "Date", "amount": "Amount", "currency": "EUR", **changes}
    if field == "thousands_separator":
        arguments["decimal_separator"] = "."
    with pytest.raises(ValueError, match=f"^{field}:"):
        CsvMapping(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [GERMAN, ENGLISH, MARKERS], ids=["german", "english", "markers"])
def test_each_sample_is_detected_as_csv(data: bytes) -> None:
    assert detect_format(data) == "csv"


def test_tab_export_joins_several_remittance_columns_and_counts_lines_of_quoted_breaks() -> None:
    data = (
        b"Report\tfor\tNovember\nDate\tAmount\tText 1\tText 2\tAcct\n"
        b'2026-11-02\t1.00\t"multi\nline"\tpart two\t12345\n'
        b"2026-11-03\t-2\t\t x \tDE44 5001 0517 5407 3249 31\n"
    )
    mapping = CsvMapping(
        booking_date="Date",
        date_format="%Y-%m-%d",
        amount="Amount",
        remittance=("Text 1", "Text 2"),
        counterparty_iban="Acct",
        decimal_separator=".",
        currency="EUR",
    )
    first, second = parse_csv(data, mapping)[0].lines
    assert (first.remittance, first.raw_location, first.counterparty_account) == (
        "multi line part two",
        "line 3",
        "12345",
    )
    assert (second.remittance, second.raw_location, second.counterparty_iban) == (
        "x",
        "line 5",
        "DE44500105175407324931",
    )
    with pytest.raises(BankFileError, match=r"line 5, column Date"):
        parse_csv(data.replace(b"2026-11-03", b"2026-13-03"), mapping)
