"""Credit proposals from what the payer wrote (`named_invoices`): one proposal per invoice the
reference or the text names, and one for all of them when the text names several; scores in
cashline.domain.bank.matching's docstring. `Payer`: who sent the money, as far as the line tells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cashline.domain.bank.discrepancies import shortfall, shown
from cashline.domain.bank.named_invoices import Evidence, Named
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    Discrepancy,
    DiscrepancyKind,
    MatchRule,
    MatchTarget,
    OpenInvoice,
    Proposal,
    ShortfallCause,
    TargetType,
)
from cashline.domain.bank.resemblance import similar_names
from cashline.domain.money import Money

MAX_SEVERAL = 6  # invoices one transfer may name and pay together

# Scores (docs/api.md copies them from cashline.domain.bank.matching's docstring).
SCORE_REFERENCE_EXACT = 99
SCORE_NUMBER_EXACT = 97
SCORE_SEVERAL_EXACT = 95
SCORE_EXPLAINED = 92  # the only invoice meant, the difference explained (see _single_score)
SCORE_FUZZY_CORROBORATED = 90  # lost zeros / one typo, amount equal, payer is the invoice's party
SCORE_SEVERAL_FUZZY = 85
SCORE_CONTRADICTED = 85  # named, but the payer's IBAN belongs to another counterparty
SCORE_NAMED_DIFFERING = 80  # named, amount differs without an explanation (a partial payment)
SCORE_FUZZY = 75
SCORE_FUZZY_AMBIGUOUS = 70  # two invoices resemble the text equally well


@dataclass(frozen=True)
class Payer:
    """Who sent the money, as far as the line tells: the bank's name for them, and the counterparty
    their IBAN (or a person's earlier confirmation of this remittance pattern) names."""

    name: str | None
    iban_counterparty: str | None = None
    learned_counterparty: str | None = None

    @property
    def counterparty_id(self) -> str | None:
        return self.iban_counterparty or self.learned_counterparty

    def is_party_of(self, invoice: OpenInvoice) -> bool:
        """The payer is the invoice's counterparty by IBAN or a similar name, or by a person's
        confirmation of the text when the bank gives no name (two customers may write the same
        words; a name unlike the customer's says this is the other one)."""
        if invoice.counterparty_id == self.iban_counterparty:
            return True
        if self.name:
            return similar_names(self.name, invoice.counterparty_name)
        return invoice.counterparty_id == self.learned_counterparty

    def contradicts(self, invoice: OpenInvoice) -> bool:
        """The payer is known to be someone else than the invoice's counterparty."""
        return self.counterparty_id is not None and not self.is_party_of(invoice)


# --------------------------------------------------------------------------- proposals from the text


def text_proposals(line: BankTransaction, named: Sequence[Named], payer: Payer) -> list[Proposal]:
    """One proposal per named invoice, and one for all of them together when there are several."""
    usable = [n for n in named if n.invoice.currency == line.currency]
    meant = [n for n in usable if not n.rival]
    proposals = [_single(line, n, payer, alone=_alone(n, meant, usable, line.amount)) for n in usable]
    proposals = _fuzzy_ambiguity(proposals, strong_named=any(n.evidence >= Evidence.NUMBER for n in usable))
    several = _several(line, meant[:MAX_SEVERAL], payer)
    return [*proposals, *([several] if several else [])]


def _alone(named: Named, meant: Sequence[Named], usable: Sequence[Named], amount: int) -> bool:
    """The only invoice the text means, and no other one it names or resembles owes exactly the
    amount: only then may a shortfall or an overpayment be explained away."""
    return [n.invoice.invoice_id for n in meant] == [named.invoice.invoice_id] and not any(
        other.invoice.outstanding == amount for other in usable if other is not named
    )


def _single(line: BankTransaction, named: Named, payer: Payer, *, alone: bool) -> Proposal:
    invoice = named.invoice
    difference = shortfall(invoice.outstanding, line.amount, line.currency)
    score = _single_score(named, difference, alone=alone, payer_is_party=payer.is_party_of(invoice))
    if payer.contradicts(invoice):
        score = min(score, SCORE_CONTRADICTED)
    discrepancies = () if difference is None else (replace(difference, target_id=invoice.invoice_id),)
    return Proposal(
        rule=_RULE_OF[named.evidence],
        score=score,
        targets=(_target(invoice, min(line.amount, invoice.outstanding)),),
        counterparty_id=invoice.counterparty_id,
        discrepancies=discrepancies,
        reason=_reason(named, line, difference),
    )


_RULE_OF = {
    Evidence.REFERENCE: MatchRule.CREDITOR_REFERENCE,
    Evidence.NUMBER: MatchRule.INVOICE_NUMBER,
    Evidence.ZEROS: MatchRule.INVOICE_NUMBER_FUZZY,
    Evidence.TYPO: MatchRule.INVOICE_NUMBER_FUZZY,
}


def _single_score(named: Named, difference: Discrepancy | None, *, alone: bool, payer_is_party: bool) -> int:
    if named.evidence <= Evidence.ZEROS:
        return SCORE_FUZZY_CORROBORATED if difference is None and payer_is_party else SCORE_FUZZY
    if difference is None:
        return SCORE_REFERENCE_EXACT if named.evidence is Evidence.REFERENCE else SCORE_NUMBER_EXACT
    # Naming several invoices and paying more than one owes means they were paid together. A
    # reference carries check digits, so whatever the difference, the invoice is the one meant. A
    # number may be any token that happens to be an invoice's (an order number, a postcode): a
    # shortfall of exactly 1/2/2.5/3 % is still telling, but "up to 25.00 short" (fees) or "more than
    # owed" is a wide window, believed only when the payer is the invoice's customer too.
    if named.evidence is Evidence.REFERENCE:
        explained = is_explained(difference)
    elif payer_is_party:
        # Paid twice at most: far more than owed means another invoice (or several) was meant.
        overpaid = difference.kind is DiscrepancyKind.OVERPAID
        explained = is_short_explained(difference) or (
            overpaid and difference.amount <= named.invoice.outstanding
        )
    else:
        explained = difference.cause is ShortfallCause.EARLY_PAYMENT_DISCOUNT
    return SCORE_EXPLAINED if alone and explained else SCORE_NAMED_DIFFERING


def is_explained(difference: Discrepancy) -> bool:
    """Overpaid (the rest is kept as credit), or short by what looks like a discount or fees."""
    return difference.kind is DiscrepancyKind.OVERPAID or difference.cause is not None


def is_short_explained(difference: Discrepancy) -> bool:
    """Short by what looks like an early-payment discount or bank fees (what several invoices named
    together may be short by; paying more than they owe together is left to a person)."""
    return difference.kind is DiscrepancyKind.UNDERPAID and difference.cause is not None


def _fuzzy_ambiguity(proposals: list[Proposal], *, strong_named: bool) -> list[Proposal]:
    # Two invoices resembling the text equally, or an exact number named besides: the resemblance
    # cannot decide, so neither fuzzy proposal may be applied without a person.
    fuzzy_top = [
        p
        for p in proposals
        if p.rule is MatchRule.INVOICE_NUMBER_FUZZY and p.score >= SCORE_FUZZY_CORROBORATED
    ]
    if not fuzzy_top or (len(fuzzy_top) == 1 and not strong_named):
        return proposals
    if len(fuzzy_top) > 1:
        cap, why = SCORE_FUZZY_AMBIGUOUS, "another invoice's number is as close"
    else:
        cap, why = SCORE_FUZZY, "an exact number is named too"
    return [capped(p, cap, why) if p in fuzzy_top else p for p in proposals]


def _several(line: BankTransaction, named: Sequence[Named], payer: Payer) -> Proposal | None:
    if len(named) < 2:
        return None
    invoices = [n.invoice for n in named]
    owed = sum(invoice.outstanding for invoice in invoices)
    all_exact = all(n.evidence >= Evidence.NUMBER for n in named)
    parts = _parts(line.amount, invoices, owed)
    difference = shortfall(owed, line.amount, line.currency)
    if difference is None:
        score = SCORE_SEVERAL_EXACT if all_exact else SCORE_SEVERAL_FUZZY
    elif all_exact and is_short_explained(difference):
        score = SCORE_EXPLAINED
    else:
        score = SCORE_NAMED_DIFFERING if all_exact else SCORE_FUZZY
    if any(payer.contradicts(invoice) for invoice in invoices):
        score = min(score, SCORE_CONTRADICTED)
    numbers = ", ".join(invoice.number for invoice in invoices)
    return Proposal(
        rule=MatchRule.SEVERAL_INVOICES,
        score=score,
        targets=tuple(_target(inv, part) for inv, part in zip(invoices, parts, strict=True) if part > 0),
        counterparty_id=invoices[0].counterparty_id,
        discrepancies=() if difference is None else (difference,),
        reason=f"the text names {numbers}, together owing {shown(owed, line.currency)}",
    )


def _parts(paid: int, invoices: Sequence[OpenInvoice], owed: int) -> list[int]:
    """Each invoice's part of the line: its outstanding amount when the line covers them all (the
    rest is the payer's credit), else the line split in proportion to what each owes (largest
    remainder, so the parts add up to the line exactly)."""
    if paid >= owed:
        return [invoice.outstanding for invoice in invoices]
    weights = [invoice.outstanding for invoice in invoices]
    return [part.amount for part in Money(paid, invoices[0].currency).allocate(weights)]


def _target(invoice: OpenInvoice, amount: int) -> MatchTarget:
    return MatchTarget(type=TargetType.INVOICE, id=invoice.invoice_id, amount=amount, label=invoice.number)


def capped(proposal: Proposal, score: int, why: str = "") -> Proposal:
    """The proposal scoring at most `score`, the reason saying why when it was lowered."""
    if proposal.score <= score:
        return proposal
    return replace(proposal, score=score, reason=f"{proposal.reason} ({why})" if why else proposal.reason)


def _reason(named: Named, line: BankTransaction, difference: Discrepancy | None) -> str:
    how = {
        Evidence.REFERENCE: f"the creditor reference names {named.invoice.number}",
        Evidence.NUMBER: f"the text names {named.invoice.number}",
        Evidence.ZEROS: f"the text's {named.spelled!r} is {named.invoice.number} without its zeros",
        Evidence.TYPO: f"the text's {named.spelled!r} is one character off {named.invoice.number}",
    }[named.evidence]
    owed = shown(named.invoice.outstanding, line.currency)
    return f"{how}, owing {owed}" + (f"; {difference.detail}" if difference else "")
