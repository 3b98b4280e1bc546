"""Matching rules for money going out (debits): Cashline's own installment debits, refunds and
chargebacks, payable bills, bank fees. Plain Python: the books are read only through `Candidates`,
at most 14 keyed lookups per line whatever the number of bills.

Debit rules (`propose_debit`), in this order; every proposal found is returned, best first:

- installment 100: Cashline's own installment debit: the exact amount, due within 5 days of the
  line's date, and the line's end-to-end id is the one Cashline's debit set (or the installment id).
  Nothing else is looked up then.
- installment 88: the same without the end-to-end id.
- refund 90: a refund or chargeback payment of the exact amount with a value date within 5 days, its
  reference (re_..., the processor's id) in the line's text, end-to-end id or bank reference.
- refund 70: the same without the reference.
- bill 99: a creditor reference (ISO 11649 RF, or a national one in the structured field) names a
  payable bill and the amount is what it owes.
- bill 97: the bill's number in the text (spaces, dashes and case do not count) and the amount it
  owes. Lost leading zeros and typos are not looked for in debits: the business wrote the text
  itself, from the bill.
- bill 92: named by reference or number, the amount differing by a skonto or bank-fee shortfall
  (`discrepancies.shortfall`), or more than owed (the rest: the business's credit with the
  supplier); the difference rides on the proposal as a discrepancy. 80 when it differs otherwise
  (a partial payment).
- bill 92: the payee's IBAN is a supplier's and exactly one of its open bills owes the amount
  (several: 60 each, best 3).
- bill 80: amount only: one open bill owes it and the payee's name is like the supplier's; 55
  otherwise; several bills owing it: 40 each, best 3.
- bank_fees 60 (a person confirms): the bank's own charges, by transaction code (camt sub-family
  CHRG, FEES, COMM; MT940 NCHG, NCOM; German GVC 805, 808) or by a word of the text
  ("Kontoführung", "Entgelt", "Gebühr", "fee", "charges", "frais", "Spesen", "Rechnungsabschluss").
  Its one target is FEES for the whole amount.

Processor payouts (`propose_payout`, `payout_discrepancy`) are in `payout_rules`, the flags across
lines (`not_in_bank`, `duplicate_of`) in `line_flags`; they are imported here too, since the
reconciliation contract names this module for all of them.

A rule never guesses past what it saw: every score >= 90 rests on an identifier (end-to-end id,
reference, RF, number, IBAN) together with the exact amount, or on a shortfall whose cause is known.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from cashline.domain.bank.discrepancies import shortfall, shown
from cashline.domain.bank.line_evidence import (
    DATE_TOLERANCE_DAYS,
    best_first,
    days_apart,
    line_date,
    reference_in_line,
    same_money,
)
from cashline.domain.bank.line_flags import duplicate_of, not_in_bank
from cashline.domain.bank.model import Direction
from cashline.domain.bank.named_invoices import number_spellings, references
from cashline.domain.bank.payout_rules import payout_discrepancy, propose_payout
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    Candidates,
    Discrepancy,
    DiscrepancyKind,
    MatchRule,
    MatchTarget,
    OpenInstallment,
    OpenInvoice,
    Proposal,
    TargetType,
)
from cashline.domain.bank.resemblance import similar_names
from cashline.domain.references import normalize_invoice_number

__all__ = [
    "duplicate_of",
    "looks_like_bank_fees",
    "not_in_bank",
    "payout_discrepancy",
    "propose_debit",
    "propose_payout",
]

PAYABLE = "payable"
# Number lookups per debit line: each is one keyed read, so the reads per line stay bounded.
MAX_NUMBER_LOOKUPS = 8
MAX_AMBIGUOUS = 3

SCORE_INSTALLMENT_E2E = 100
SCORE_INSTALLMENT = 88
SCORE_REFUND_REFERENCE = 90
SCORE_REFUND = 70
SCORE_BILL_RF_EXACT = 99
SCORE_BILL_EXPLAINED = 92  # named by reference or number, the difference explained
SCORE_BILL_RF_DIFFERING = 80
SCORE_BILL_NUMBER_EXACT = 97
SCORE_BILL_NUMBER_DIFFERING = 80
SCORE_BILL_IBAN = 92
SCORE_BILL_IBAN_SEVERAL = 60
SCORE_BILL_AMOUNT_NAMED = 80
SCORE_BILL_AMOUNT = 55
SCORE_BILL_AMOUNT_SEVERAL = 40
SCORE_FEES = 60

_FEE_WORDS = re.compile(
    r"\b(?:kontof(?:ü|ue)hrung\w*|entgelt\w*|geb(?:ü|ue)hr(?:en)?|fees?|charges?|bank\s?charges|frais"
    r"|spesen|(?:rechnungs)?abschluss|commission)\b",
    re.IGNORECASE,
)
# camt ISO codes end in a sub-family ("ACMT/MDOP/CHRG"); MT940 types and German GVCs come as
# "NCHG", "NTRF/805" or "NTRF+808".
_FEE_CODES = frozenset({"CHRG", "FEES", "COMM", "NCHG", "NCOM", "805", "808"})


# --------------------------------------------------------------------------- debits


def propose_debit(line: BankTransaction, books: Candidates, *, today: date) -> list[Proposal]:
    """Proposals for a debit line (money out), best first: Cashline's installment debits, refunds
    and chargebacks, payable bills, bank fees (rules and scores in the module docstring).

    `today` bounds nothing yet; it is taken so that every rule module has the same shape. A credit
    line gets no proposals here.
    """
    if line.direction is not Direction.DEBIT or line.amount <= 0:
        return []
    installments = _installment_proposals(line, books)
    if any(proposal.score == SCORE_INSTALLMENT_E2E for proposal in installments):
        return installments  # Cashline's own end-to-end id: nothing else explains the line better
    proposals = [
        *installments,
        *_refund_proposals(line, books),
        *_bill_proposals(line, books),
        *_fee_proposals(line),
    ]
    return best_first(proposals)


def _installment_proposals(line: BankTransaction, books: Candidates) -> list[Proposal]:
    return [
        _installment_proposal(line, installment)
        for installment in books.installments_due(line.currency, line.amount, line_date(line))
        if installment.amount == line.amount
        and installment.currency == line.currency
        and days_apart(line, installment.due_date) <= DATE_TOLERANCE_DAYS
    ]


def _installment_proposal(line: BankTransaction, installment: OpenInstallment) -> Proposal:
    due = installment.due_date.isoformat()
    named = _names_installment(line, installment)
    if named:
        reason = f"end-to-end id {line.end_to_end_id} is Cashline's debit of {installment.installment_id}"
    else:
        reason = f"installment {installment.installment_id} of the amount due {due}"
    return Proposal(
        rule=MatchRule.INSTALLMENT,
        score=SCORE_INSTALLMENT_E2E if named else SCORE_INSTALLMENT,
        targets=(MatchTarget(TargetType.INSTALLMENT, installment.installment_id, line.amount, f"due {due}"),),
        reason=reason,
    )


def _names_installment(line: BankTransaction, installment: OpenInstallment) -> bool:
    if not line.end_to_end_id:
        return False
    expected = {installment.installment_id, installment.end_to_end_id or installment.installment_id}
    return line.end_to_end_id.strip() in expected


def _refund_proposals(line: BankTransaction, books: Candidates) -> list[Proposal]:
    proposals = []
    for kind in ("refund", "chargeback"):
        for payment in books.payments_near(kind, line.currency, line.amount, line_date(line)):
            if not same_money(line, payment):
                continue
            named = reference_in_line(payment.reference, line)
            proposals.append(
                Proposal(
                    rule=MatchRule.REFUND,
                    score=SCORE_REFUND_REFERENCE if named else SCORE_REFUND,
                    targets=(
                        MatchTarget(TargetType.PAYMENT, payment.payment_id, line.amount, payment.reference),
                    ),
                    counterparty_id=payment.counterparty_id,
                    reason=f"{kind} {payment.reference or payment.payment_id} of "
                    f"{shown(payment.amount, payment.currency)} on {payment.value_date.isoformat()}"
                    + (" named in the text" if named else ""),
                )
            )
    return proposals


def _bill_proposals(line: BankTransaction, books: Candidates) -> list[Proposal]:
    by_reference = _bills_by_reference(line, books)
    return [*by_reference, *_bills_of_payee(line, books), *_bills_owing(line, books)]


def _bills_by_reference(line: BankTransaction, books: Candidates) -> list[Proposal]:
    """Creditor references first (the strongest evidence), then what in the text could be a bill's
    number, read as the credit rules read it (`named_invoices.references` and `number_spellings`:
    spaces, dashes and case do not count); at most MAX_NUMBER_LOOKUPS lookups."""
    referenced = references(line)
    spelled = [normalize_invoice_number(spelling) for spelling in number_spellings(line)]
    proposals = []
    for number in list(dict.fromkeys([*referenced, *spelled]))[:MAX_NUMBER_LOOKUPS]:
        for bill in books.invoices_by_number(PAYABLE, number):
            if not _is_open_bill(bill, line.currency):
                continue
            if number in referenced:
                proposals.append(_bill_by_rf(line, bill))
            else:
                proposals.append(_bill_by_number(line, bill))
    return proposals


def _bill_by_rf(line: BankTransaction, bill: OpenInvoice) -> Proposal:
    discrepancy = shortfall(bill.outstanding, line.amount, line.currency)
    score = _named_bill_score(discrepancy, exact=SCORE_BILL_RF_EXACT, differing=SCORE_BILL_RF_DIFFERING)
    return _bill_proposal(line, bill, score, f"the creditor reference names bill {bill.number}", discrepancy)


def _bill_by_number(line: BankTransaction, bill: OpenInvoice) -> Proposal:
    discrepancy = shortfall(bill.outstanding, line.amount, line.currency)
    score = _named_bill_score(
        discrepancy, exact=SCORE_BILL_NUMBER_EXACT, differing=SCORE_BILL_NUMBER_DIFFERING
    )
    return _bill_proposal(line, bill, score, f"the text names bill {bill.number}", discrepancy)


def _named_bill_score(discrepancy: Discrepancy | None, *, exact: int, differing: int) -> int:
    """A named bill: `exact` when the amount is what it owes, 92 when the difference is explained
    (a skonto or fee shortfall, or more than owed), else `differing` (a partial payment)."""
    if discrepancy is None:
        return exact
    if discrepancy.kind is DiscrepancyKind.OVERPAID or discrepancy.cause is not None:
        return SCORE_BILL_EXPLAINED
    return differing


def _bills_of_payee(line: BankTransaction, books: Candidates) -> list[Proposal]:
    counterparty_id = books.counterparty_of_iban(line.counterparty_iban) if line.counterparty_iban else None
    if counterparty_id is None:
        return []
    owing = [
        bill
        for bill in books.open_invoices_of(counterparty_id, PAYABLE, line.currency)
        if _is_open_bill(bill, line.currency) and bill.outstanding == line.amount
    ]
    score = SCORE_BILL_IBAN if len(owing) == 1 else SCORE_BILL_IBAN_SEVERAL
    return [
        _bill_proposal(
            line, bill, score, f"the payee's IBAN is {bill.counterparty_name}'s; bill {bill.number} owes it"
        )
        for bill in owing[:MAX_AMBIGUOUS]
    ]


def _bills_owing(line: BankTransaction, books: Candidates) -> list[Proposal]:
    owing = [
        bill
        for bill in books.invoices_owing(PAYABLE, line.currency, line.amount)
        if _is_open_bill(bill, line.currency) and bill.outstanding == line.amount
    ]
    if len(owing) == 1:
        bill = owing[0]
        named = similar_names(line.counterparty_name, bill.counterparty_name)
        score = SCORE_BILL_AMOUNT_NAMED if named else SCORE_BILL_AMOUNT
        return [
            _bill_proposal(
                line,
                bill,
                score,
                f"only bill {bill.number} owes {shown(line.amount, line.currency)}",
            )
        ]
    return [
        _bill_proposal(
            line, bill, SCORE_BILL_AMOUNT_SEVERAL, f"bill {bill.number} is one of several owing the amount"
        )
        for bill in owing[:MAX_AMBIGUOUS]
    ]


def _bill_proposal(
    line: BankTransaction, bill: OpenInvoice, score: int, reason: str, discrepancy: Discrepancy | None = None
) -> Proposal:
    # An overpaid bill takes what it owes; the rest is the business's credit with the supplier.
    applied = min(line.amount, bill.outstanding)
    with_target = discrepancy if discrepancy is None else _on_target(discrepancy, bill.invoice_id)
    return Proposal(
        rule=MatchRule.BILL,
        score=score,
        targets=(MatchTarget(TargetType.BILL, bill.invoice_id, applied, bill.number),),
        counterparty_id=bill.counterparty_id,
        discrepancies=() if with_target is None else (with_target,),
        reason=reason,
    )


def _fee_proposals(line: BankTransaction) -> list[Proposal]:
    if not looks_like_bank_fees(line):
        return []
    return [
        Proposal(
            rule=MatchRule.BANK_FEES,
            score=SCORE_FEES,
            targets=(MatchTarget(TargetType.FEES, "fees", line.amount, "bank fees"),),
            reason="the bank's transaction code or text says fees or charges",
        )
    ]


def looks_like_bank_fees(line: BankTransaction) -> bool:
    """Whether a line looks like the bank's own charges: by its transaction code (camt sub-family
    CHRG/FEES/COMM, MT940 NCHG/NCOM, German GVC 805/808) or by a word of its text ("Kontoführung",
    "Entgelt", "Gebühren", "fee", "charges", "frais", "Spesen", "Rechnungsabschluss")."""
    code_parts = re.split(r"[/+\s]", (line.transaction_code or "").upper())
    if any(part in _FEE_CODES for part in code_parts):
        return True
    return _FEE_WORDS.search(f"{line.remittance} {line.counterparty_name or ''}") is not None


def _is_open_bill(bill: OpenInvoice, currency: str) -> bool:
    return bill.direction == PAYABLE and bill.currency == currency and bill.outstanding > 0


def _on_target(discrepancy: Discrepancy, target_id: str) -> Discrepancy:
    return discrepancy if discrepancy.target_id is not None else replace(discrepancy, target_id=target_id)
