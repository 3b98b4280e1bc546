"""Small facts about a bank line that several matching rules read: its date, whether a recorded
payment is the same money, whether a reference or a party name appears in it, and how a proposal
list is ordered. Plain Python, no lookups."""

from __future__ import annotations

from datetime import date

from cashline.domain.bank.reconciliation import BankTransaction, KnownPayment, Proposal
from cashline.domain.references import normalize_invoice_number

# A date this many days from the line's still counts as "the same" booking (weekends, bank holidays,
# the processor's and the bank's clocks).
DATE_TOLERANCE_DAYS = 5
# A shorter reference ("PO1") would be found inside unrelated words.
MIN_REFERENCE_LENGTH = 6


def line_date(line: BankTransaction) -> date:
    """The date the money moved: the value date, else the booking date."""
    return line.value_date or line.booking_date


def days_apart(line: BankTransaction, other: date) -> int:
    """Days between `other` and the nearer of the line's booking and value dates."""
    dates = [line.booking_date] + ([line.value_date] if line.value_date else [])
    return min(abs((day - other).days) for day in dates)


def same_money(line: BankTransaction, payment: KnownPayment) -> bool:
    """A recorded payment of exactly the line's amount and currency, within the date tolerance."""
    return (
        payment.amount == line.amount
        and payment.currency == line.currency
        and days_apart(line, payment.value_date) <= DATE_TOLERANCE_DAYS
    )


def reference_in_line(reference: str, line: BankTransaction) -> bool:
    """Whether a processor's reference appears in the line (text, end-to-end id, bank reference,
    creditor reference), compared on letters and digits only, since banks drop underscores and change
    case ("po_1AbC2dEf3" is found in "STRIPE PO1ABC2DEF3"). References shorter than 6 letters and
    digits never count."""
    wanted = normalize_invoice_number(reference)
    if len(wanted) < MIN_REFERENCE_LENGTH:
        return False
    fields = (line.remittance, line.end_to_end_id, line.bank_reference, line.creditor_reference)
    return any(wanted in normalize_invoice_number(field) for field in fields if field)


def compact_iban(iban: str) -> str:
    return "".join(iban.split()).upper()


def best_first(proposals: list[Proposal]) -> list[Proposal]:
    """Highest score first (stable for equal scores); of proposals with the same targets only the
    best is kept."""
    best: dict[tuple[tuple[str, str, int], ...], Proposal] = {}
    for proposal in sorted(proposals, key=lambda p: -p.score):
        key = tuple(sorted((t.type.value, t.id, t.amount) for t in proposal.targets))
        best.setdefault(key, proposal)
    return list(best.values())
