"""SWIFT MT940/MT942 parsing: the real corpus (read in place from `../shared/corpus/bank/mt940`, checked
against an independent regex parse), hand-written messages for what real banks send, and the files that
must be refused with the line of the problem."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cashline.domain.bank.model import BankFileError, Direction, ReportKind
from cashline.domain.bank.mt940 import parse_mt940
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, OverBudgetError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bank" / "mt940"
SAMPLES = sorted(p for p in CORPUS.glob("*.sta") if p.is_file())

# Whether opening + credits - debits = closing, as the files themselves state it (checked against the
# independent parse below too). jejik-abnamro, jejik-ing and jejik-triodos are anonymised fixtures
# whose balances were not kept in step with their lines (ING's own :86: summary after :62F: says
# "D25,24 C28,71", which does add up to its closing balance, unlike its lines); the Sparkassen
# snippet has no balances at all.
BALANCED = {
    "betterplace-sepa_mt9401.sta": [True] * 26,
    "cmxl-mt940.sta": [True, True, True],
    "jejik-abnamro.sta": [False, False],
    "jejik-ing.sta": [False],
    "jejik-rabobank-iban.sta": [True, True],
    "jejik-triodos.sta": [False],
    "mBank-mt940.sta": [True],
    "self-provided-sparkassen.sta": [None],
}


# --- an independent parse: regular expressions and Decimal over the raw text, no parser code ----------


def _cents(amount: str) -> int:
    value = Decimal(amount.replace(",", ".")).scaleb(2)  # every corpus currency has two decimals
    assert value == value.to_integral_value()
    return int(value)


def independent_parse(data: bytes) -> list[tuple[int, int, int, int | None, int | None]]:
    """Per message: (lines, credits, debits, opening, closing) in cents."""
    text = data.decode("latin-1").replace("\r", "")
    text = re.sub(r"(?m)^:\n(?=\d\d[A-Z]?:)", ":", text)  # a tag split over two lines
    found = []
    for chunk in re.split(r"(?m)^(?=:20:)", text):
        if not re.search(r"(?m)^:(61|60[FM]?):", chunk):
            continue  # envelope text before the first message
        count = credits = debits = 0
        for m in re.finditer(r"(?m)^:61:\d{6}(?:\d{4}| {4})?(RC|RD|C|D)[A-Z]?\n?(\d+,\d*)", chunk):
            count += 1
            if m[1] in ("C", "RD"):
                credits += _cents(m[2])
            else:
                debits += _cents(m[2])

        def balance(tag: str, chunk: str = chunk) -> int | None:
            m = re.search(rf"(?m)^:{tag}[FM]?:([CD])\d{{6}}[A-Z]{{3}}(\d+,\d*)", chunk)
            return None if m is None else (-1 if m[1] == "D" else 1) * _cents(m[2])

        found.append((count, credits, debits, balance("60"), balance("62")))
    return found


def test_corpus_is_present_so_the_parametrized_tests_are_not_silently_empty() -> None:
    assert CORPUS.is_dir(), f"MT940 corpus missing at {CORPUS}"
    assert {p.name for p in SAMPLES} == set(BALANCED)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_corpus_file_parses_with_the_counts_totals_and_balances_of_an_independent_parse(
    path: Path,
) -> None:
    data = path.read_bytes()
    statements = parse_mt940(data)
    ours = [
        (len(s.lines), s.credits_total, s.debits_total, s.opening_balance, s.closing_balance)
        for s in statements
    ]
    assert ours == independent_parse(data)
    assert [s.balanced for s in statements] == BALANCED[path.name]
    for statement, (_, credits, debits, opening, closing) in zip(
        statements, independent_parse(data), strict=True
    ):
        if opening is not None and closing is not None:
            assert statement.balanced == (opening + credits - debits == closing)
        assert statement.kind is ReportKind.STATEMENT and statement.format == "mt940"
        assert all(line.amount >= 0 and line.raw_location.startswith("line ") for line in statement.lines)


def test_corpus_german_structured_details_become_counterparty_and_references() -> None:
    statements = parse_mt940((CORPUS / "betterplace-sepa_mt9401.sta").read_bytes())
    second = statements[1].lines[0]
    assert second.end_to_end_id == "EndToEndIdTFNR2000400001"
    assert second.counterparty_iban == "DE42100100100043921105"
    assert second.counterparty_bic == "PBNKDEFF100"
    assert second.counterparty_name and second.counterparty_name.startswith("Richter Renate")
    assert second.transaction_code == "NTRF/166"
    first = statements[0]
    assert first.account_other == "50880050/0194774600888" and first.account_iban is None
    reversal = first.lines[5]  # :61:0709040904RCR204,88NRTINONREF
    assert (reversal.direction, reversal.reversal, reversal.amount) == (Direction.DEBIT, True, 20488)


def test_corpus_dutch_iban_account_and_slash_keyed_details() -> None:
    first = parse_mt940((CORPUS / "jejik-rabobank-iban.sta").read_bytes())[0]
    assert first.account_iban == "NL71RABO0123456789" and first.account_other is None
    assert first.lines[0].end_to_end_id == "01-01-2013 12:00 0030000987654321"
    assert first.lines[0].counterparty_name == "CONTRA ACCOUNT HOLDER"  # wrapped inside a word
    assert first.lines[1].remittance == "Reference 201301234"


def test_corpus_statement_level_86_after_the_closing_balance_is_not_a_line_detail() -> None:
    ing = parse_mt940((CORPUS / "jejik-ing.sta").read_bytes())[0]
    assert "D000004" not in ing.lines[-1].remittance


def test_corpus_tag_and_amount_wrapped_over_lines_without_balances_or_currency() -> None:
    (statement,) = parse_mt940((CORPUS / "self-provided-sparkassen.sta").read_bytes())
    assert statement.currency == "XXX" and statement.balanced is None
    assert statement.lines[0].amount == 3000 and statement.lines[0].remittance == "Test"
    (known,) = parse_mt940((CORPUS / "self-provided-sparkassen.sta").read_bytes(), currency="EUR")
    assert known.currency == "EUR" and known.lines[0].currency == "EUR"


# --- hand-written messages ----------------------------------------------------------------------


def message(*body: str, head: str = ":20:STMT1\n:25:DE89370400440532013000\n:28C:7/1\n") -> bytes:
    return (head + "\n".join(body) + "\n-\n").encode()


def test_reversals_rc_and_rd_book_against_their_direction_and_balance() -> None:
    (statement,) = parse_mt940(
        message(
            ":60F:C261201EUR100,00",
            ":61:2612021202C50,00NTRFNONREF//B1",
            ":61:2612021202RC20,00NTRFNONREF//B2",
            ":61:2612021202D30,00NTRFNONREF//B3",
            ":61:2612021202RD5,00NTRFNONREF//B4",
            ":62F:C261202EUR105,00",
        )
    )
    assert [(line.direction, line.reversal) for line in statement.lines] == [
        (Direction.CREDIT, False),
        (Direction.DEBIT, True),
        (Direction.DEBIT, False),
        (Direction.CREDIT, True),
    ]
    assert (statement.credits_total, statement.debits_total, statement.balanced) == (5500, 5000, True)
    assert statement.account_iban == "DE89370400440532013000" and statement.sequence == "7/1"
    assert statement.statement_id == "STMT1" and statement.lines[0].bank_reference == "B1"


def test_entry_date_year_is_inferred_across_the_year_end() -> None:
    (statement,) = parse_mt940(
        message(
            ":60F:C261230EUR0,00",
            ":61:2612310102C1,00NTRF",  # value 31 Dec 2026, booked 2 Jan: 2027
            ":61:2701021231D1,00NTRF",  # value 2 Jan 2027, booked 31 Dec: 2026
            ":61:270102C2,00NTRF",  # no entry date: booked on the value date
            ":62F:C270102EUR2,00",
        )
    )
    assert [(line.value_date, line.booking_date) for line in statement.lines] == [
        (date(2026, 12, 31), date(2027, 1, 2)),
        (date(2027, 1, 2), date(2026, 12, 31)),
        (date(2027, 1, 2), date(2027, 1, 2)),
    ]
    assert (statement.from_date, statement.to_date) == (date(2026, 12, 30), date(2027, 1, 2))


def test_a_statement_without_closing_balance_is_read_with_no_balance_check() -> None:
    (statement,) = parse_mt940(
        message(":60F:C261201EUR10,00", ":61:2612031203C1,50NTRF", ":61:2612041204D0,50NTRF")
    )
    assert statement.closing_balance is None and statement.balanced is None
    assert statement.opening_balance == 1000 and len(statement.lines) == 2
    assert (statement.from_date, statement.to_date) == (date(2026, 12, 1), date(2026, 12, 4))


def test_wrapped_german_86_with_sepa_keywords_and_an_rf_reference() -> None:
    (statement,) = parse_mt940(
        message(
            ":60F:C261201EUR0,00",
            ":61:2612011201CR119,00NTRFNONREF//BANKREF42",
            ":86:166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E-CASHLINE-0001?21MREF+M",
            "ANDATE-7?22SVWZ+RF18 5390 0754 7034 R?23echnung 2026-0042?30COBADEFFXXX",
            "?31DE44500105175407324931?32Kunde Aktienges?33ellschaft",
            ":62F:C261201EUR119,00",
        )
    )
    (line,) = statement.lines
    assert line.end_to_end_id == "E2E-CASHLINE-0001"
    assert line.mandate_id == "MANDATE-7"
    assert line.remittance == "RF18 5390 0754 7034 Rechnung 2026-0042"
    assert line.creditor_reference == "RF18539007547034"
    assert (line.counterparty_iban, line.counterparty_bic) == ("DE44500105175407324931", "COBADEFFXXX")
    assert line.counterparty_name == "Kunde Aktiengesellschaft"
    assert line.transaction_code == "NTRF/166" and line.amount == 11900 and statement.balanced is True


def test_dutch_slash_keyed_86_with_counterparty_and_structured_reference() -> None:
    (statement,) = parse_mt940(
        message(
            ":60F:C261201EUR0,00",
            ":61:261201C25,00NTRFNONREF",
            ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/J. de V",
            "ries/REMI/USTD//Factuur 2026-17/EREF/NOTPROVIDED",
            ":61:261201C10,00NTRFNONREF",
            ":86:/CNTP/NL91ABNA0417164300/ABNANL2A/Jan Jansen/Utrecht///REMI/STRD/CUR/RF18539007547034/",
            ":62F:C261201EUR35,00",
        )
    )
    first, second = statement.lines
    assert (first.counterparty_iban, first.counterparty_bic) == ("NL91ABNA0417164300", "ABNANL2A")
    assert (first.counterparty_name, first.remittance, first.end_to_end_id) == (
        "J. de Vries",
        "Factuur 2026-17",
        None,
    )
    assert (second.counterparty_name, second.counterparty_iban) == ("Jan Jansen", "NL91ABNA0417164300")
    assert second.creditor_reference == "RF18539007547034"


def test_mt942_intraday_report_with_its_own_fields() -> None:
    (report,) = parse_mt940(
        b":20:INTRA1\r\n:25:DE89370400440532013000\r\n:28C:3/1\r\n:34F:EURC0,00\r\n"
        b":13D:2612061015+0100\r\n:61:2612061206C12,34NTRFNONREF//X1\r\n:86:166?00GUTSCHRIFT?20Rechnung 7\r\n"
        b":61:2612061206D1,00NCHGNONREF\r\n:90D:1EUR1,00\r\n:90C:1EUR12,34\r\n:86:Summe\r\n-\r\n"
    )
    assert (report.kind, report.format, report.currency) == (ReportKind.INTRADAY, "mt942", "EUR")
    assert (report.opening_balance, report.closing_balance, report.balanced) == (None, None, None)
    assert (report.credits_total, report.debits_total) == (1234, 100)
    assert (report.from_date, report.to_date) == (date(2026, 12, 6), date(2026, 12, 6))
    assert report.lines[0].remittance == "Rechnung 7" and report.lines[1].remittance == ""


def test_latin1_and_cp1252_bytes_and_binary_characters() -> None:
    body = message(
        ":60F:C261201EUR0,00",
        ":61:261201C5,00NTRF",
        ":86:166?00GUTSCHRIFT?20Gebühr für März\x00?32Jürgen Müller",
        ":62F:C261201EUR5,00",
    ).decode()
    for encoding in ("latin-1", "cp1252"):
        (statement,) = parse_mt940(b"\x01" + body.encode(encoding) + b"\x03")
        (line,) = statement.lines
        assert (line.remittance, line.counterparty_name) == ("Gebühr für März", "Jürgen Müller")
    (utf8,) = parse_mt940(b"\xef\xbb\xbf" + body.encode())  # with a byte-order mark
    assert utf8.lines[0].counterparty_name == "Jürgen Müller"


def test_missing_line_breaks_cr_only_and_indented_tags_are_accepted() -> None:
    one_line = (
        b":20:X:25:NL91ABNA0417164300:28C:1:60F:C261201EUR1,00:61:261201C2,00NTRF:86:Hallo:62F:C261201EUR3,00"
    )
    cr_only = one_line.replace(b":25:", b"\r:25:").replace(b":6", b"\r   :6").replace(b":86:", b"\r:86:")
    for data in (one_line, cr_only):
        (statement,) = parse_mt940(data)
        assert (len(statement.lines), statement.balanced, statement.lines[0].remittance) == (1, True, "Hallo")


def test_several_messages_currencies_and_sub_minor_amounts_rounded_half_even() -> None:
    data = message(":60F:C261201JPY1000,", ":61:261201C5,5NTRF", ":62F:C261201JPY1006,") + message(
        ":60F:C261201EUR0,00",
        ":61:261201C12,345NTRF",
        ":61:261201C12,355NTRF",
        ":61:261201C8,8500NTRF",
        ":62F:C261201EUR33,55",
        head=":20:STMT2\n:25:NL91ABNA0417164300 EUR\n:28C:8\n",
    )
    yen, euro = parse_mt940(data)
    assert (yen.currency, [line.amount for line in yen.lines], yen.balanced) == ("JPY", [6], True)
    assert (euro.currency, [line.amount for line in euro.lines]) == ("EUR", [1234, 1236, 885])
    assert euro.account_iban == "NL91ABNA0417164300" and euro.sequence == "8" and euro.balanced is True


def test_a_61_without_type_code_does_not_swallow_the_next_line() -> None:
    (statement,) = parse_mt940(
        message(":60F:C261201EUR0,00", ":61:261201C1,00", ":61:261201C2,00", ":62F:C261201EUR3,00")
    )
    assert [line.amount for line in statement.lines] == [100, 200]
    assert statement.lines[0].transaction_code is None and statement.balanced is True


def test_an_amount_followed_by_the_references_or_a_funds_code_is_read_whole() -> None:
    (statement,) = parse_mt940(
        message(":60F:C261201EUR0,00", ":61:2612011201CR1234,56//BANKREF", ":62F:C261201EUR1234,56")
    )
    assert (statement.lines[0].amount, statement.balanced) == (123_456, True)


def test_a_stray_dash_line_inside_a_message_does_not_split_it() -> None:
    (statement,) = parse_mt940(
        message(":60F:C261201EUR0,00", ":61:261201C1,00NTRF", ":86:Rechnung", "-", ":62F:C261201EUR1,00")
    )
    assert (len(statement.lines), statement.closing_balance, statement.balanced) == (1, 100, True)


# --- refused ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (message(":60F:C261201EUR0,00", ":61:261341C1,00NTRF"), "line 5"),  # 41 December
        (message(":60F:C261201EUR0,00", ":61:2612011201X1,00NTRF"), "line 5"),  # no C/D mark
        (message(":60F:C261201EUR0,00", ":62F:C261201EURabc"), "line 5"),
        (message(":60F:C261201EUR0,00", "a stray line"), "line 5"),  # after a one-line field
        (message(":60F:C261201QQQ0,00"), "line 4"),  # not a currency
        (message(":60F:C261201EUR0,00", ":62F:C261201USD0,00"), "line 5"),  # two currencies
        (message(":60F:C261201EUR0,00", ":61:2612011201C1.234,56NTRF"), "line 5"),  # read as 1 by the library
        (message(":60F:C261201EUR0,00", ":61:2612011201C1234567890123456,00NTRF"), "line 5"),  # over 15
        (message(":60F:C261201EUR0,00", ":61:2612011201C1,2,3NTRF"), "line 5"),  # two commas
        (b"hello, world\nnothing here", "line 1"),
        (b"", "line 1"),
    ],
    ids=[
        "impossible-date",
        "no-mark",
        "bad-amount",
        "stray-text",
        "currency",
        "two-currencies",
        "amount-with-a-dot",
        "amount-over-15",
        "amount-two-commas",
        "prose",
        "empty",
    ],
)
def test_what_cannot_be_understood_is_refused_naming_the_line(data: bytes, where: str) -> None:
    with pytest.raises(BankFileError) as caught:
        parse_mt940(data)
    assert caught.value.where == where
    assert where in str(caught.value)


def test_more_than_the_decompression_budget_is_refused_before_parsing() -> None:
    with pytest.raises(OverBudgetError):
        parse_mt940(b" " * (MAX_DECOMPRESSED_BYTES + 1))
