"""What a bank file says, in one shape for every format: statements (or intraday reports, or
notifications) of one account, each with its lines. Amounts are integer minor units of the line's
currency; a line's `amount` is always positive and `direction` says which way the money went, as the
bank books it. Parsers produce these; nothing here knows a file format or storage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Direction(StrEnum):
    CREDIT = "credit"  # money in
    DEBIT = "debit"  # money out


class ReportKind(StrEnum):
    STATEMENT = "statement"  # camt.053, MT940: the booked end-of-day account statement
    INTRADAY = "intraday"  # camt.052, MT942: what moved so far today (may include pending lines)
    NOTIFICATION = "notification"  # camt.054: single debit/credit notifications


class EntryStatus(StrEnum):
    BOOKED = "booked"
    PENDING = "pending"  # camt PDNG / INFO: not (yet) on the account


@dataclass(frozen=True)
class BankLine:
    """One entry of a statement: one movement on the account (a batch booking is one line, its
    details in `batch_count`)."""

    amount: int  # minor units, >= 0 (an amount below half a minor unit rounds to 0)
    currency: str
    direction: Direction
    booking_date: date | None
    value_date: date | None
    status: EntryStatus = EntryStatus.BOOKED
    reversal: bool = False  # the bank reverses an earlier entry (camt RvslInd, MT940 RC/RD)
    bank_reference: str | None = None  # the bank's own reference (camt AcctSvcrRef, MT940 ref)
    end_to_end_id: str | None = None  # set by the initiator (e.g. Cashline's debits)
    mandate_id: str | None = None
    creditor_reference: str | None = None  # structured remittance (ISO 11649 RF or national)
    remittance: str = ""  # unstructured remittance text, lines joined by a space
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    counterparty_account: str | None = None  # another identification when there is no IBAN
    counterparty_bic: str | None = None
    transaction_code: str | None = None  # bank transaction code (camt BkTxCd, MT940 type/GVC)
    batch_count: int | None = None  # a batch booking's number of transactions
    raw_location: str = ""  # where in the file (line number or XPath): for error and audit texts


@dataclass(frozen=True)
class BankStatement:
    """One statement (or report, or notification) of one account, as the bank sent it."""

    format: str  # e.g. "camt.053.001.02", "mt940", "mt942"
    kind: ReportKind
    currency: str  # the account's currency (lines may carry another)
    account_iban: str | None
    account_other: str | None  # another identification when there is no IBAN (MT940 :25:)
    statement_id: str | None  # camt Stmt/Id, MT940 :20: transaction reference
    sequence: str | None  # camt ElctrncSeqNb / LglSeqNb, MT940 :28C:
    from_date: date | None
    to_date: date | None
    opening_balance: int | None  # signed minor units; None when the file carries none
    closing_balance: int | None
    account_bic: str | None = None
    account_name: str | None = None
    lines: tuple[BankLine, ...] = field(default_factory=tuple)

    @property
    def credits_total(self) -> int:
        return sum(_signed(line) for line in self.lines if line.direction is Direction.CREDIT)

    @property
    def debits_total(self) -> int:
        return -sum(_signed(line) for line in self.lines if line.direction is Direction.DEBIT)

    @property
    def balanced(self) -> bool | None:
        """opening + credits - debits == closing, counting booked lines only; None without balances."""
        if self.opening_balance is None or self.closing_balance is None:
            return None
        booked = [line for line in self.lines if line.status is EntryStatus.BOOKED]
        moved = sum(_signed(line) for line in booked)
        return self.opening_balance + moved == self.closing_balance


def _signed(line: BankLine) -> int:
    # A reversal books the opposite way of what it reverses; the bank still reports it with the
    # direction it was booked in (an RC reversal of a credit is a debit booking), so the direction rules.
    return line.amount if line.direction is Direction.CREDIT else -line.amount


class BankFileError(ValueError):
    """A bank file Cashline cannot understand. `where`: the line number or XPath of the problem."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{message} (at {where})" if where else message)
        self.where = where


IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def looks_like_iban(value: str) -> bool:
    """Country, check digits and a mod-97 remainder of 1 (ISO 13616): enough to tell an IBAN from
    another account identification in a bank file; an IBAN a person enters is checked by schwifty."""
    compact = value.replace(" ", "").upper()
    if not IBAN_SHAPE.match(compact):
        return False
    return int("".join(str(int(char, 36)) for char in compact[4:] + compact[:4])) % 97 == 1
