"""Processor payouts: a bank credit that is a Stripe, GoCardless or PayPal payout Cashline recorded
(a payment of kind "payout"), and whether the payout's own figures add up.

Rules (`propose_payout`, a credit): one lookup of payouts whose net amount is the line's, value date
within 5 days of the line's:

- processor_payout 98: the payout's reference ("po_...", "PO...") is in the line's text, end-to-end
  id or bank reference; or the processor is named by the payer's name or the text ("STRIPE PAYMENTS
  UK LTD", "GoCardless") and this is that processor's only payout of the amount.
- processor_payout 60: the amount and date only, or several payouts of that processor and amount.
- processor_payout 70: either of the above, but the payments the payout settled minus its fees are
  not its net amount: a PAYOUT_MISMATCH discrepancy rides on the proposal and a person looks.

A payout's proposal has one target: the payout payment, for the line's whole amount. The processor
took its fees before the money left, so they are no part of the bank line: the reason (and on a
mismatch the discrepancy's detail) states gross, fees and net, and the payout payment keeps the fee
figure for the books. A line whose amount differs from every recorded payout is not found here
(lookups are by exact amount); it stays for a person.
"""

from __future__ import annotations

import re
from datetime import date

from cashline.domain.bank.discrepancies import shown
from cashline.domain.bank.line_evidence import (
    best_first,
    line_date,
    reference_in_line,
    same_money,
)
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    Candidates,
    Discrepancy,
    DiscrepancyKind,
    KnownPayment,
    MatchRule,
    MatchTarget,
    Proposal,
    TargetType,
)

SCORE_PAYOUT = 98
SCORE_PAYOUT_MISMATCH = 70
SCORE_PAYOUT_WEAK = 60

PAYOUT_KIND = "payout"
_PROCESSOR_NAMES = {
    "stripe": re.compile(r"\bstripe\b", re.IGNORECASE),
    "gocardless": re.compile(r"\bgo\s?cardless\b", re.IGNORECASE),
    "paypal": re.compile(r"\bpay\s?pal\b", re.IGNORECASE),
}


def propose_payout(line: BankTransaction, books: Candidates, *, today: date) -> list[Proposal]:
    """Proposals for a credit line that is a processor payout, best first (rules in the module
    docstring). A debit gets none. `today` is taken so that every rule has the same shape."""
    if line.direction is not Direction.CREDIT or line.amount <= 0:
        return []
    payouts = [
        payout
        for payout in books.payments_near(PAYOUT_KIND, line.currency, line.amount, line_date(line))
        if same_money(line, payout)
    ]
    named_source = [payout for payout in payouts if _names_processor(line, payout.source)]
    proposals = []
    for payout in payouts:
        identified = reference_in_line(payout.reference, line) or named_source == [payout]
        proposals.append(_payout_proposal(line, payout, identified=identified))
    return best_first(proposals)


def _payout_proposal(line: BankTransaction, payout: KnownPayment, *, identified: bool) -> Proposal:
    mismatch = payout_discrepancy(line, payout)
    if mismatch is not None:
        score = SCORE_PAYOUT_MISMATCH
    else:
        score = SCORE_PAYOUT if identified else SCORE_PAYOUT_WEAK
    return Proposal(
        rule=MatchRule.PROCESSOR_PAYOUT,
        score=score,
        targets=(MatchTarget(TargetType.PAYOUT, payout.payment_id, line.amount, payout.reference),),
        counterparty_id=payout.counterparty_id,
        discrepancies=() if mismatch is None else (mismatch,),
        reason=f"{payout.source} payout {payout.reference or payout.payment_id}: {settlement_text(payout)}",
    )


def payout_discrepancy(line: BankTransaction, payout: KnownPayment) -> Discrepancy | None:
    """PAYOUT_MISMATCH when what the payout settled minus its fees is not what reached the bank.

    Example: a payout settling payments of 1,000.00 EUR with 29.00 fees should bring 971.00; a line of
    951.00 gives a mismatch of 20.00 (the amount is the absolute difference; the detail says which way).
    Nothing is flagged when the processor did not say what the payout settled (`settled_gross` None);
    fees not reported count as 0.
    """
    if payout.settled_gross is None:
        return None
    expected = payout.settled_gross - (payout.fees or 0)
    if expected == line.amount:
        return None
    difference = abs(expected - line.amount)
    way = "less" if line.amount < expected else "more"
    return Discrepancy(
        kind=DiscrepancyKind.PAYOUT_MISMATCH,
        amount=difference,
        currency=line.currency,
        detail=f"{settlement_text(payout)}; {shown(line.amount, line.currency)} arrived, "
        f"{shown(difference, line.currency)} {way} than its payments minus fees",
        target_id=payout.payment_id,
    )


def settlement_text(payout: KnownPayment) -> str:
    """What a payout is made of, for a person: "payments €1,000.00 - fees €29.00 = €971.00, net
    paid out €971.00" (only the net when the processor did not say what it settled)."""
    if payout.settled_gross is None:
        return f"net {shown(payout.amount, payout.currency)}"
    gross, fees, currency = payout.settled_gross, payout.fees or 0, payout.currency
    return (
        f"payments {shown(gross, currency)} - fees {shown(fees, currency)}"
        f" = {shown(gross - fees, currency)}, net paid out {shown(payout.amount, currency)}"
    )


def _names_processor(line: BankTransaction, source: str) -> bool:
    pattern = _PROCESSOR_NAMES.get(source)
    text = f"{line.counterparty_name or ''} {line.remittance}"
    return pattern is not None and pattern.search(text) is not None
