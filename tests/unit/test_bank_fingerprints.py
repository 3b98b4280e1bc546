"""What makes a bank line and a statement the same when a bank reports them again."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cashline.domain.bank.fingerprints import booked_lines, line_fingerprint, statement_key
from cashline.domain.bank.model import (
    BankFileError,
    BankLine,
    BankStatement,
    Direction,
    EntryStatus,
    ReportKind,
)

LINE = BankLine(
    amount=10_000,
    currency="EUR",
    direction=Direction.CREDIT,
    booking_date=date(2026, 12, 1),
    value_date=date(2026, 12, 2),
    bank_reference="REF-1",
    end_to_end_id="E2E-1",
    remittance="RE-1",
)


def _statement(*lines: BankLine, kind: ReportKind = ReportKind.STATEMENT, **fields: object) -> BankStatement:
    values: dict[str, object] = {
        "format": "camt.053.001.02",
        "kind": kind,
        "currency": "EUR",
        "account_iban": "DE89370400440532013000",
        "account_other": None,
        "statement_id": "S-1",
        "sequence": "1",
        "from_date": date(2026, 12, 1),
        "to_date": date(2026, 12, 1),
        "opening_balance": None,
        "closing_balance": None,
        "lines": lines,
        **fields,
    }
    return BankStatement(**values)  # type: ignore[arg-type]


def test_an_intraday_report_and_the_statement_agree_on_a_lines_fingerprint() -> None:
    intraday = booked_lines(_statement(LINE, kind=ReportKind.INTRADAY), "ba_1")
    statement = booked_lines(
        _statement(replace(LINE, remittance="other text", raw_location="/x"), LINE), "ba_1"
    )

    assert intraday[0].fingerprint == statement[0].fingerprint
    # Identical lines of one statement are told apart by their occurrence: two lines, two claims.
    assert statement[1].fingerprint == line_fingerprint("ba_1", LINE, date(2026, 12, 1), 1)
    assert statement[0].fingerprint != statement[1].fingerprint


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 10_001},
        {"direction": Direction.DEBIT},
        {"booking_date": date(2026, 12, 2)},
        {"bank_reference": "REF-2"},
        {"end_to_end_id": None},
        {"currency": "CHF"},
    ],
)
def test_each_part_of_the_fingerprint_counts(change: dict[str, object]) -> None:
    day = date(2026, 12, 1)
    changed = replace(LINE, **change)  # type: ignore[arg-type]
    assert line_fingerprint("ba_1", changed, changed.booking_date or day, 0) != line_fingerprint(
        "ba_1", LINE, day, 0
    )
    assert line_fingerprint("ba_2", LINE, day, 0) != line_fingerprint("ba_1", LINE, day, 0)


def test_pending_lines_are_left_out_and_an_undated_line_takes_the_statements_last_day() -> None:
    pending = replace(LINE, status=EntryStatus.PENDING)
    undated = replace(LINE, booking_date=None, value_date=None, amount=5)

    booked = booked_lines(_statement(pending, undated, to_date=date(2026, 12, 3)), "ba_1")

    assert [(b.number, b.line.amount, b.booking_date) for b in booked] == [(1, 5, date(2026, 12, 3))]
    with pytest.raises(BankFileError):
        booked_lines(_statement(undated, from_date=None, to_date=None), "ba_1")


def test_a_statement_is_named_by_its_id_and_dates_or_else_by_its_lines() -> None:
    named = _statement(LINE)
    assert statement_key(named, "ba_1") == statement_key(replace(named, lines=()), "ba_1")
    assert statement_key(named, "ba_1") != statement_key(replace(named, sequence="2"), "ba_1")
    csv = _statement(LINE, statement_id=None, sequence=None)
    longer = replace(csv, lines=(LINE, replace(LINE, amount=1)))
    assert statement_key(csv, "ba_1") != statement_key(longer, "ba_1")
    assert statement_key(csv, "ba_1") == statement_key(replace(csv, lines=(LINE,)), "ba_1")
