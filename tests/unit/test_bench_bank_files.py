"""The import bench's generated bank files (bench/bank_files.py) read as the bench says they do: the
same lines in camt.053 and MT940, balanced, every line distinct, one in ten naming an invoice."""

from __future__ import annotations

from datetime import date

from bench.bank_files import ACCOUNT_IBAN, camt053, iban, lines, mt940, targets
from cashline.domain.bank.camt import parse_camt
from cashline.domain.bank.fingerprints import booked_lines
from cashline.domain.bank.model import Direction, looks_like_iban
from cashline.domain.bank.mt940 import parse_mt940

DAY = date(2026, 10, 5)


def test_camt_and_mt940_hold_the_same_lines_balanced_and_each_distinct() -> None:
    (camt,) = parse_camt(camt053(3, 250, DAY))
    (swift,) = parse_mt940(mt940(3, 250, DAY))

    for statement in (camt, swift):
        assert statement.account_iban == ACCOUNT_IBAN and statement.balanced is True
        assert statement.statement_id == "BENCH-STMT-3" and len(statement.lines) == 250
        assert len({b.fingerprint for b in booked_lines(statement, "ba_x")}) == 250
    assert [
        (x.amount, x.direction, x.booking_date, x.remittance, x.counterparty_iban) for x in camt.lines
    ] == [(x.amount, x.direction, x.booking_date, x.remittance, x.counterparty_iban) for x in swift.lines]
    assert camt.credits_total == swift.credits_total and camt.debits_total == swift.debits_total
    assert {x.direction for x in camt.lines} == {Direction.CREDIT, Direction.DEBIT}


def test_one_line_in_ten_pays_a_target_invoice_by_number_and_amount() -> None:
    made = lines(2, 100, DAY)
    paid = targets(2, 10)

    paying = [line for line in made if line.remittance.startswith("Rechnung")]

    assert [(line.amount, line.remittance.split()[1]) for line in paying] == [
        (t.amount, t.number) for t in paid
    ]
    assert all(t.amount < 1_000_000 for t in paid)  # never a filler invoice's amount
    assert looks_like_iban(iban(42)) and looks_like_iban(ACCOUNT_IBAN)
