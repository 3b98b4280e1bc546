"""The flags that do not come from one line alone: a payment a processor reported paid that the bank
never showed (NOT_IN_BANK), and the same money twice (DUPLICATE). Plain Python: the caller looks up
the payments or earlier lines and passes them in."""

from __future__ import annotations

from datetime import date, timedelta

from cashline.domain.bank.discrepancies import shown
from cashline.domain.bank.line_evidence import compact_iban
from cashline.domain.bank.reconciliation import BankTransaction, Discrepancy, DiscrepancyKind, KnownPayment
from cashline.domain.bank.resemblance import name_words
from cashline.domain.references import invoice_number_candidates, normalize_invoice_number

# Who promises that money reaches the bank: a processor paying out (or settling a payment straight
# to the account). A person's or the bank channel's own record promises nothing of the kind.
PROCESSOR_SOURCES = frozenset({"stripe", "gocardless", "paypal"})
BANK_BOUND_KINDS = frozenset({"payout", "payment"})
# The same payer sending the same reference twice within this many days is a duplicate; a standing
# order repeats monthly (and its text names no invoice), so it is not caught.
DUPLICATE_WINDOW_DAYS = 10


def not_in_bank(payments: list[KnownPayment], *, today: date, days: int) -> list[Discrepancy]:
    """NOT_IN_BANK for each payment a processor reported paid that no bank line has shown after
    `days` days: a payout (or a processor payment settled straight to the bank) whose value date is
    more than `days` before `today`. The caller passes only payments no bank line matched yet.

    Example: `days` 5, value date 2026-12-01: flagged from 2026-12-07 on (6 days later), not on
    2026-12-06. Refunds, chargebacks, fees and payments Cashline recorded itself (manual, bank
    transfer) are never flagged: no processor promised the bank would see them. The discrepancy's
    amount is the payment's, its `target_id` the payment id.
    """
    flagged = []
    for payment in payments:
        if payment.kind not in BANK_BOUND_KINDS or payment.source not in PROCESSOR_SOURCES:
            continue
        if payment.value_date + timedelta(days=days) >= today:
            continue
        flagged.append(
            Discrepancy(
                kind=DiscrepancyKind.NOT_IN_BANK,
                amount=payment.amount,
                currency=payment.currency,
                detail=f"{payment.source} {payment.kind} {payment.reference or payment.payment_id} of "
                f"{shown(payment.amount, payment.currency)} paid {payment.value_date.isoformat()}: "
                f"no bank line after {(today - payment.value_date).days} days",
                target_id=payment.payment_id,
            )
        )
    return flagged


def duplicate_of(
    line: BankTransaction, earlier: list[BankTransaction], *, within_days: int = DUPLICATE_WINDOW_DAYS
) -> Discrepancy | None:
    """DUPLICATE when an earlier line carries the same money: same direction, amount and currency;
    the same payer (IBAN, else the same distinctive words of the name); the same identifying
    reference (end-to-end id, creditor reference, or the same invoice numbers in the text: a text
    naming none, like "Miete", identifies nothing); booking dates at most `within_days` apart. One
    booking reported twice (same bank reference or fingerprint) is the same line, not a duplicate;
    reversals are never duplicates. The caller passes the candidates it looked up (lines of that
    amount on the account's recent days); the first duplicate found is named in `target_id`.
    """
    for other in earlier:
        if _is_duplicate(line, other, within_days=within_days):
            return Discrepancy(
                kind=DiscrepancyKind.DUPLICATE,
                amount=line.amount,
                currency=line.currency,
                detail=f"same payer, amount and reference as {other.transaction_id} "
                f"booked {other.booking_date.isoformat()}",
                target_id=other.transaction_id,
            )
    return None


def _is_duplicate(line: BankTransaction, other: BankTransaction, *, within_days: int) -> bool:
    if other.transaction_id == line.transaction_id or other.fingerprint == line.fingerprint:
        return False
    if line.reversal or other.reversal:
        return False
    if (line.direction, line.amount, line.currency) != (other.direction, other.amount, other.currency):
        return False
    if line.bank_reference and line.bank_reference == other.bank_reference:
        return False  # one booking the bank reported twice
    if abs((line.booking_date - other.booking_date).days) > within_days:
        return False
    return _same_party(line, other) and _same_reference(line, other)


def _same_party(line: BankTransaction, other: BankTransaction) -> bool:
    if line.counterparty_iban and other.counterparty_iban:
        return compact_iban(line.counterparty_iban) == compact_iban(other.counterparty_iban)
    if line.counterparty_name and other.counterparty_name:
        words = name_words(line.counterparty_name)
        return bool(words) and words == name_words(other.counterparty_name)
    return False


def _same_reference(line: BankTransaction, other: BankTransaction) -> bool:
    if line.end_to_end_id and line.end_to_end_id == other.end_to_end_id:
        return True
    if line.creditor_reference and line.creditor_reference == other.creditor_reference:
        return True
    numbers = _numbers_named(line)
    return bool(numbers) and numbers == _numbers_named(other)


def _numbers_named(line: BankTransaction) -> frozenset[str]:
    return frozenset(normalize_invoice_number(token) for token in invoice_number_candidates(line.remittance))
