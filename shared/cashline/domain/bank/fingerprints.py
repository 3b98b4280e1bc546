"""What makes a bank statement, and a bank line, the same one when a bank reports it again: the names
the import claims (services.bank.imports), and the lines a statement brings in as bank transactions.

A line's fingerprint is the account, booking date, direction, amount, currency, the bank's reference
and the end-to-end id, plus its occurrence among lines of its statement identical in all of these:
an intraday report (camt.052/MT942), a notification (camt.054) and the end-of-day statement of one
movement agree on it, so the line is stored once; two equal transfers on one day stay two lines.

A line with neither a bank reference nor an end-to-end id cannot be told apart from another of the
same amount on the same day, so in an intraday report or a notification (which carry the movements
since the previous one) it is fingerprinted with its report's identity too (kind, statement id,
sequence, dates): two notifications each bringing one such line are two lines. Such a line also
takes a *slot*: the shared fingerprint `<same digest>#<k>` with the first `k` not yet taken
(`BookedLine.slot_base`; the import probes and claims it with the line). The end-of-day statement's
lines keep the plain fingerprints `#0, #1, ...`, so its first k identical reference-less lines are the
k already reported and are not stored again. Limits: a notification imported after the end-of-day
statement that holds its reference-less line adds it again, and so does an intraday report repeating
the day's reference-less lines (banks give such lines a reference in practice).

Pending entries (camt PDNG/INFO/FUTR) are left out: they are not on the account yet, and the bank
reports them again once booked.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from cashline.domain.bank.model import (
    BankFileError,
    BankLine,
    BankStatement,
    Direction,
    EntryStatus,
    ReportKind,
)
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    HistoryEntry,
    StoredStatement,
    TransactionStatus,
)

_KEY_CHARS = 40  # 160 bits of sha256: keys stay short, collisions stay impossible in practice
_SEPARATOR = "\x1f"  # a unit separator no bank text field holds


@dataclass(frozen=True)
class BookedLine:
    """A line of a statement to store: where it stands (1-based among booked lines), its booking
    date (the value date, or the statement's last day, when the bank gives none) and its fingerprint."""

    number: int
    line: BankLine
    booking_date: date
    fingerprint: str
    # A reference-less line of an intraday report or notification: the shared digest whose first free
    # `#<k>` the line also claims (module docstring); None for every other line.
    slot_base: str | None = None


def line_fingerprint(
    bank_account_id: str, line: BankLine, booking_date: date, occurrence: int, *, report: str = ""
) -> str:
    """The fingerprint of `line` of an account (module docstring); `occurrence` 0, 1, ... among
    identical lines of one statement; `report` the identity of an intraday report or notification
    for a line without references (`report_identity`), else empty."""
    return f"{_line_digest(bank_account_id, line, booking_date, report)}#{occurrence}"


def slot_fingerprint(slot_base: str, slot: int) -> str:
    """The shared fingerprint a reference-less reported line claims as its `slot`."""
    return f"{slot_base}#{slot}"


def report_identity(statement: BankStatement) -> str:
    """What tells an intraday report or notification from another one ("" for an end-of-day
    statement, or a report naming neither id nor sequence: its lines are fingerprinted as usual)."""
    if statement.kind is ReportKind.STATEMENT or not (statement.statement_id or statement.sequence):
        return ""
    return _digest(
        (
            statement.kind.value,
            statement.statement_id or "",
            statement.sequence or "",
            str(statement.from_date or "-"),
            str(statement.to_date or "-"),
        )
    )


def _line_digest(bank_account_id: str, line: BankLine, booking_date: date, report: str) -> str:
    parts = (
        bank_account_id,
        booking_date.isoformat(),
        line.direction.value,
        str(line.amount),
        line.currency,
        line.bank_reference or "",
        line.end_to_end_id or "",
    )
    return _digest((*parts, report) if report else parts)


def booked_lines(statement: BankStatement, bank_account_id: str) -> list[BookedLine]:
    """The statement's booked lines with their booking dates and fingerprints, in file order.
    BankFileError for a line without any date in a statement without a period."""
    report = report_identity(statement)
    occurrences: Counter[tuple[object, ...]] = Counter()
    out: list[BookedLine] = []
    for line in statement.lines:
        if line.status is EntryStatus.PENDING:
            continue
        day = line.booking_date or line.value_date or statement.to_date or statement.from_date
        if day is None:
            raise BankFileError("a line has no date, and its statement no period", where=line.raw_location)
        same = (day, line.direction, line.amount, line.currency, line.bank_reference, line.end_to_end_id)
        slotted = bool(report) and not (line.bank_reference or line.end_to_end_id)
        own = report if slotted else ""
        fingerprint = line_fingerprint(bank_account_id, line, day, occurrences[same], report=own)
        occurrences[same] += 1
        base = _line_digest(bank_account_id, line, day, "") if slotted else None
        out.append(BookedLine(len(out) + 1, line, day, fingerprint, base))
    return out


def statement_key(statement: BankStatement, bank_account_id: str) -> str:
    """What names a statement of an account (its kind is beside it in the claim): the bank's statement
    id, sequence and dates. A statement with neither id nor sequence (a CSV export, a bare MT940) is
    named by its lines instead, so a longer export of the same days is a new statement whose lines
    already known are skipped, while the same export again is the same statement."""
    if statement.statement_id or statement.sequence:
        named = f"{statement.statement_id or ''}/{statement.sequence or ''}"
    else:
        named = "lines:" + ",".join(b.fingerprint for b in booked_lines(statement, bank_account_id))
    return _digest((named, str(statement.from_date or "-"), str(statement.to_date or "-")))


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256(_SEPARATOR.join(parts).encode()).hexdigest()[:_KEY_CHARS]


def new_transaction(
    stored: StoredStatement, booked: BookedLine, *, transaction_id: str, actor: str, now: datetime
) -> BankTransaction:
    """A booked line of a stored statement as the bank transaction it becomes: unmatched, its
    history saying who imported it from where in the file."""
    line = booked.line
    return BankTransaction(
        tenant_id=stored.tenant_id,
        transaction_id=transaction_id,
        bank_account_id=stored.bank_account_id,
        statement_id=stored.statement_id,
        import_id=stored.import_id,
        fingerprint=booked.fingerprint,
        amount=line.amount,
        currency=line.currency,
        direction=line.direction,
        booking_date=booked.booking_date,
        value_date=line.value_date,
        entry_status=line.status,
        reversal=line.reversal,
        bank_reference=line.bank_reference,
        end_to_end_id=line.end_to_end_id,
        mandate_id=line.mandate_id,
        creditor_reference=line.creditor_reference,
        remittance=line.remittance,
        counterparty_name=line.counterparty_name,
        counterparty_iban=line.counterparty_iban,
        counterparty_account=line.counterparty_account,
        counterparty_bic=line.counterparty_bic,
        transaction_code=line.transaction_code,
        status=TransactionStatus.UNMATCHED,
        history=(
            HistoryEntry(
                at=now, action="imported", actor=actor, note=f"{stored.format} {line.raw_location}".strip()
            ),
        ),
        created_at=now,
        updated_at=now,
    )


def import_totals(txs: Iterable[BankTransaction]) -> dict[tuple[date, str], dict[str, int]]:
    """(booking day, currency) -> the reconciliation day-total counters new lines add: each line in,
    its amount as a credit or debit, and open until matching moves it (amounts positive, minor units)."""
    totals: dict[tuple[date, str], dict[str, int]] = defaultdict(
        lambda: {"lines": 0, "credit_amount": 0, "debit_amount": 0, "open_count": 0, "open_amount": 0}
    )
    for tx in txs:
        day = totals[(tx.booking_date, tx.currency)]
        day["lines"] += 1
        day["credit_amount" if tx.direction is Direction.CREDIT else "debit_amount"] += tx.amount
        day["open_count"] += 1
        day["open_amount"] += tx.amount
    return dict(totals)
