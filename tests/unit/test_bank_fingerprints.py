"""What makes a bank line and a statement the same when a bank reports them again."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cashline.domain.bank.fingerprints import booked_lines, line_fingerprint, slot_fingerprint, statement_key
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


BARE = replace(LINE, bank_reference=None, end_to_end_id=None)


@pytest.mark.parametrize("kind", [ReportKind.NOTIFICATION, ReportKind.INTRADAY])
def test_a_reference_less_line_of_two_reports_is_two_lines_that_share_a_slot_base(kind: ReportKind) -> None:
    (first,) = booked_lines(_statement(BARE, kind=kind, statement_id="N-1"), "ba_1")
    (second,) = booked_lines(_statement(BARE, kind=kind, statement_id="N-2"), "ba_1")
    (again,) = booked_lines(_statement(BARE, kind=kind, statement_id="N-1"), "ba_1")

    assert first.fingerprint != second.fingerprint  # each report's own line
    assert first.fingerprint == again.fingerprint  # the same report again is the same line
    assert first.slot_base is not None and first.slot_base == second.slot_base
    # The end-of-day statement's lines are the slots the reported ones take: #0, #1, ...
    eod = booked_lines(_statement(BARE, BARE), "ba_1")
    assert [b.fingerprint for b in eod] == [slot_fingerprint(first.slot_base, k) for k in (0, 1)]
    assert all(b.slot_base is None for b in eod)


@pytest.mark.parametrize(
    "change", [{"bank_reference": "REF-9", "end_to_end_id": None}, {"end_to_end_id": "E2E-9"}]
)
def test_a_line_with_a_reference_or_end_to_end_id_is_one_line_across_reports(
    change: dict[str, object],
) -> None:
    line = replace(BARE, **change)  # type: ignore[arg-type]
    (notified,) = booked_lines(_statement(line, kind=ReportKind.NOTIFICATION, statement_id="N-1"), "ba_1")
    (intraday,) = booked_lines(_statement(line, kind=ReportKind.INTRADAY, statement_id="R-1"), "ba_1")
    (eod,) = booked_lines(_statement(line), "ba_1")

    assert notified.fingerprint == intraday.fingerprint == eod.fingerprint
    assert notified.slot_base is None


def test_a_report_without_id_or_sequence_fingerprints_its_lines_as_a_statement_does() -> None:
    (bare,) = booked_lines(
        _statement(BARE, kind=ReportKind.NOTIFICATION, statement_id=None, sequence=None), "ba_1"
    )
    (eod,) = booked_lines(_statement(BARE), "ba_1")
    assert (bare.fingerprint, bare.slot_base) == (eod.fingerprint, None)
