"""Matching a bank line to what it pays: every explanation found, scored 0-100, best first.

A proposal scoring at least the tenant's threshold (default 90) is applied without a person
(services.bank.matching, which also holds back a best proposal whose runner-up with other targets
is within 5 points); below it, the line waits as `suggested`. Lookups go through `Candidates`
(keyed reads only): per credit line the payer's IBAN, the learned remittance pattern, the invoices
owing exactly the amount, the payer's open invoices (at most 50) and at most 24 invoice numbers,
so the reads per line do not grow with the number of invoices.

Debits (money out) are engineer C's rules (`debit_rules.propose_debit`: bills, installments,
refunds, chargebacks, bank fees; its docstring lists them). Credits (money in), in this order:

| rule | when | score |
|---|---|---|
| processor_payout | a Stripe/GoCardless payout's net amount, identified (`payout_rules`) | 98 |
| processor_payout | amount and date only 60; the payout's figures do not add up | 70 |
| creditor_reference | RF (ISO 11649) or national reference names an open invoice, amount equal | 99 |
| creditor_reference | the only invoice named*, short by a discount/fees or overpaid | 92 |
| creditor_reference | named, amount differing otherwise (a partial payment, or several named) | 80 |
| invoice_number | the invoice number in the text, amount equal | 97 |
| invoice_number | the only invoice named*, short by a 1/2/2.5/3 % discount | 92 |
| invoice_number | the same, short by fees or overpaid (at most twice), and the payer is its customer | 92 |
| invoice_number | named, amount differing otherwise (a partial payment, or several named) | 80 |
| invoice_number_fuzzy | lost leading zeros or one typo, amount equal, payer is its customer | 90 |
| invoice_number_fuzzy | otherwise, or an exact number is named too (two invoices as close: 70) | 75 |
| several_invoices | 2-6 invoices named, the amount is their sum | 95 |
| several_invoices | their sum short by a discount or fees | 92 |
| several_invoices | one of them found with lost zeros or a typo, sum equal | 85 |
| several_invoices | sum differing otherwise (the line split by what each owes) | 80 |
| learned | a person confirmed this remittance pattern's payer; its one open invoice of the amount | 93 |
| learned | the same, but the bank gives a payer name unlike that customer's | 85 |
| payer_iban | the payer's IBAN is a counterparty's, its one open invoice of exactly the amount | 92 |
| payer_iban | the same, but a set of its other open invoices sums to the amount too | 80 |
| payer_iban | several of its open invoices owe exactly the amount (best 3) | 60 |
| payer_iban | its one open invoice the amount pays short by a discount or fees (several: 60) | 80 |
| combination | payer known, exactly one set of 2-6 of its open invoices sums to the amount | 85 |
| combination | several such sets (best 3) | 60 |
| amount | the one open invoice owing exactly the amount, payer's name like its counterparty's | 80 |
| amount | the one open invoice owing exactly the amount | 55 |
| amount | several invoices owing it: 80 for the one whose party's name is like the payer's, others | 40 |

"The payer is its customer": the payer's IBAN names the invoice's counterparty, or the bank's payer
name is like the counterparty's name (`resemblance.similar_names`), or, when the bank gives no name,
a person confirmed the remittance text for that counterparty. *"The only invoice named": the text
means no other invoice, and no other invoice it names or resembles (one typo away) owes exactly the
amount. Lost zeros and typos are looked for only among invoices read for the line anyway (owing the
amount, the payer's, and the named invoice's customer's when the amount does not fit it), never in a
date, so a typo is never believed without the amount or the payer (`named_invoices`).

A reversal credit (the bank giving back a debit) pays no invoice: only the payout rule sees it.

Corrections applied after the rules, so nothing wrong reaches the threshold:
- an invoice named in the text whose counterparty is not the payer (known by IBAN or learning, and
  the name unlike) scores at most 85;
- when the text names an invoice exactly, a proposal from the amount or the payer alone for other
  invoices scores at most 70 (the payer said what they pay);
- the same targets proposed by several rules count once, with the best score; at most 5 are kept.

Underpaid (with its cause: early-payment discount 1/2/2.5/3 % or bank fees) and overpaid (the rest
kept as the payer's credit) are discrepancies on the proposal (`discrepancies.shortfall`). A partial
payment's proposal takes the line's amount; the rest stays open on the invoice.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from itertools import combinations

from cashline.domain.bank.credit_rules import Payer, capped, text_proposals
from cashline.domain.bank.debit_rules import propose_debit, propose_payout
from cashline.domain.bank.discrepancies import shortfall, shown
from cashline.domain.bank.model import Direction
from cashline.domain.bank.named_invoices import RECEIVABLE, Evidence, Named, NumberLookup, find_named
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    Candidates,
    MatchRule,
    MatchTarget,
    OpenInvoice,
    Proposal,
    TargetType,
)
from cashline.domain.bank.resemblance import similar_names

MAX_PROPOSALS = 5
MAX_AMBIGUOUS = 3  # of several equally good explanations, this many are shown
MAX_COMBINATION_POOL = 50  # the payer's open invoices searched (open_invoices_of returns 50)

SCORE_LEARNED = 93
SCORE_LEARNED_NAME_UNLIKE = 85  # the text was learned for a customer whose name is unlike the payer's
SCORE_PAYER_IBAN = 92
SCORE_PAYER_SEVERAL = 60
SCORE_PAYER_SHORT = 80  # its one open invoice the amount pays short by a discount or fees
SCORE_PAYER_OR_SET = 80  # its one open invoice of the amount, but a set of others sums to it too
SCORE_COMBINATION = 85
SCORE_COMBINATION_SEVERAL = 60
SCORE_AMOUNT_NAMED = 80
SCORE_AMOUNT = 55
SCORE_AMOUNT_SEVERAL = 40
SCORE_NOT_NAMED = 70  # the text names an invoice exactly, this proposal pays others


def propose(line: BankTransaction, books: Candidates, *, today: date) -> list[Proposal]:
    """Every way to explain `line` found in `books`, best first, distinct by targets, at most 5."""
    if line.direction is Direction.DEBIT:
        return best_first(propose_debit(line, books, today=today))
    proposals = list(propose_payout(line, books, today=today))
    # Money coming back from a reversed debit pays no invoice; nor does a line of no amount (a
    # fraction of a minor unit the parser rounded to 0).
    if not line.reversal and line.amount > 0:
        proposals.extend(propose_credit(line, books))
    return best_first(proposals)


def propose_credit(line: BankTransaction, books: Candidates) -> list[Proposal]:
    """The credit rules of the module docstring for money in, not yet ordered."""
    payer = identify_payer(line, books)
    owing = books.invoices_owing(RECEIVABLE, line.currency, line.amount)
    own: list[OpenInvoice] = []
    if payer.counterparty_id is not None:
        own = books.open_invoices_of(payer.counterparty_id, RECEIVABLE, line.currency)
    lookup = NumberLookup(books)
    named = find_named(line, lookup, _distinct([*owing, *own]))
    customer = _customer_to_check(line, named, payer)
    if customer is not None:
        # The text names an invoice the amount does not fit, and its customer's other invoices were
        # not read: one of them may be what was meant (a typo onto another invoice's number).
        theirs = books.open_invoices_of(customer, RECEIVABLE, line.currency)
        named = find_named(line, lookup, _distinct([*owing, *own, *theirs]))
    from_text = text_proposals(line, named, payer)
    from_books = [*payer_proposals(line, payer, own), *amount_proposals(line, owing, payer)]
    return [*from_text, *_unless_named_otherwise(from_books, named)]


def _customer_to_check(line: BankTransaction, named: Sequence[Named], payer: Payer) -> str | None:
    differing = [
        n.invoice
        for n in named
        if n.evidence >= Evidence.NUMBER and not n.rival and n.invoice.outstanding != line.amount
    ]
    if not differing or differing[0].counterparty_id == payer.counterparty_id:
        return None
    return differing[0].counterparty_id


def identify_payer(line: BankTransaction, books: Candidates) -> Payer:
    """The payer as the line tells: its name, the counterparty of its IBAN, and the counterparty a
    person confirmed for this remittance pattern."""
    iban = "".join((line.counterparty_iban or "").split()).upper()
    key = remittance_key(line.remittance)
    return Payer(
        name=line.counterparty_name,
        iban_counterparty=books.counterparty_of_iban(iban) if iban else None,
        learned_counterparty=books.learned_counterparty(key) if key else None,
    )


# --------------------------------------------------------------------------- the payer's invoices


def payer_proposals(line: BankTransaction, payer: Payer, own: Sequence[OpenInvoice]) -> list[Proposal]:
    """learned / payer_iban: the known payer's one open invoice of the amount; combination: a set of
    its open invoices summing to the amount."""
    if payer.counterparty_id is None:
        return []
    same_amount = [invoice for invoice in own if invoice.outstanding == line.amount]
    combined = combination_proposals(line, own)
    if len(same_amount) == 1:
        single = [_payer_single(payer, same_amount[0])]
        if combined:  # 100.00 owed once, and 50.00 twice: which was paid is a person's call
            single = [capped(single[0], SCORE_PAYER_OR_SET, "a set of its other invoices adds up to it too")]
    else:
        reason = f"{len(same_amount)} of the payer's open invoices owe exactly this"
        single = [
            _proposal(_payer_rule(payer), SCORE_PAYER_SEVERAL, [invoice], reason)
            for invoice in same_amount[:MAX_AMBIGUOUS]
        ]
    return [*single, *short_proposals(line, payer, own), *combined]


def _payer_rule(payer: Payer) -> MatchRule:
    """How the payer is known: by its IBAN, else by a person's confirmation of the text."""
    return MatchRule.PAYER_IBAN if payer.iban_counterparty is not None else MatchRule.LEARNED


def _payer_single(payer: Payer, invoice: OpenInvoice) -> Proposal:
    owes = f"{invoice.number} owes exactly this"
    if invoice.counterparty_id == payer.iban_counterparty:
        return _proposal(
            MatchRule.PAYER_IBAN, SCORE_PAYER_IBAN, [invoice], f"the payer's IBAN is its customer's; {owes}"
        )
    # Learned from the text alone: two customers may write the same words ("Miete Dezember"), so a
    # name the bank gives that is unlike the customer's keeps it for a person.
    if payer.name and not similar_names(payer.name, invoice.counterparty_name):
        confirmed = f"a person confirmed this text for {invoice.counterparty_name}"
        reason = f"{confirmed}, but the payer is {payer.name}; {owes}"
        return _proposal(MatchRule.LEARNED, SCORE_LEARNED_NAME_UNLIKE, [invoice], reason)
    reason = f"a person confirmed this text for {invoice.counterparty_name}; {owes}"
    return _proposal(MatchRule.LEARNED, SCORE_LEARNED, [invoice], reason)


def short_proposals(line: BankTransaction, payer: Payer, own: Sequence[OpenInvoice]) -> list[Proposal]:
    """The known payer's open invoices the line pays short by what looks like an early-payment
    discount or bank fees, the number not given: a hint for a person (80 for one, 60 each for more)."""
    short = [
        (invoice, difference)
        for invoice in own
        if invoice.outstanding > line.amount
        and (difference := shortfall(invoice.outstanding, line.amount, line.currency)) is not None
        and difference.cause is not None
    ]
    score = SCORE_PAYER_SHORT if len(short) == 1 else SCORE_PAYER_SEVERAL
    return [
        replace(
            _proposal(
                _payer_rule(payer), score, [invoice], f"the payer's {invoice.number}; {difference.detail}"
            ),
            targets=(_target(invoice, line.amount),),
            discrepancies=(replace(difference, target_id=invoice.invoice_id),),
        )
        for invoice, difference in short[:MAX_AMBIGUOUS]
    ]


def combination_proposals(line: BankTransaction, own: Sequence[OpenInvoice]) -> list[Proposal]:
    """Sets of 2-6 of the payer's open invoices summing exactly to the line's amount: one set is a
    strong hint (85), several are shown (60 each, fewest invoices first)."""
    pool = list(own[:MAX_COMBINATION_POOL])
    sets = exact_subsets([invoice.outstanding for invoice in pool], line.amount, limit=MAX_AMBIGUOUS + 1)
    score = SCORE_COMBINATION if len(sets) == 1 else SCORE_COMBINATION_SEVERAL
    proposals = []
    for indexes in sorted(sets, key=len)[:MAX_AMBIGUOUS]:
        invoices = [pool[i] for i in indexes]
        numbers = ", ".join(invoice.number for invoice in invoices)
        reason = f"the payer's open invoices {numbers} add up to {shown(line.amount, line.currency)}"
        if len(sets) > 1:
            reason += "; other sets of its invoices add up to it too"
        proposals.append(_proposal(MatchRule.COMBINATION, score, invoices, reason))
    return proposals


def exact_subsets(amounts: Sequence[int], target: int, *, limit: int) -> list[tuple[int, ...]]:
    """Index sets of 2 to 6 amounts summing exactly to `target`, at most `limit` of them (enough to
    tell one from several). Meet in the middle: every set of up to 3 indexes is indexed by its sum,
    and a set of 4-6 is its first three indexes plus a set of 1-3 later ones, so each set is found
    once and 50 amounts take about 20,000 sums instead of 18 million sets."""
    if len(amounts) < 2 or target <= 0 or target > sum(amounts):
        return []
    by_sum: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for size in (1, 2, 3):
        for indexes in combinations(range(len(amounts)), size):
            by_sum[sum(amounts[i] for i in indexes)].append(indexes)
    found = [indexes for indexes in by_sum.get(target, []) if len(indexes) >= 2][:limit]
    if len(found) >= limit:
        return found
    for head in combinations(range(len(amounts)), 3):
        rest = target - sum(amounts[i] for i in head)
        for tail in by_sum.get(rest, []) if rest > 0 else []:
            if tail[0] > head[-1]:  # each set once: its first three, then the later ones
                found.append(head + tail)
            if len(found) >= limit:
                return found
    return found


# --------------------------------------------------------------------------- the amount alone


def amount_proposals(line: BankTransaction, owing: Sequence[OpenInvoice], payer: Payer) -> list[Proposal]:
    """Open invoices owing exactly the amount, from any counterparty: a hint for a person."""
    alike = [invoice for invoice in owing if similar_names(payer.name, invoice.counterparty_name)]
    proposals = []
    for invoice in sorted(owing, key=lambda i: (i not in alike, i.due_date, i.invoice_id)):
        if len(alike) == 1 and invoice is alike[0]:
            score, how = SCORE_AMOUNT_NAMED, "the payer's name is its customer's"
        elif len(owing) == 1:
            score, how = SCORE_AMOUNT, "the payer is not known"
        else:
            score, how = SCORE_AMOUNT_SEVERAL, f"{len(owing)} open invoices owe this amount"
        proposals.append(
            _proposal(MatchRule.AMOUNT, score, [invoice], f"{invoice.number} owes exactly this; {how}")
        )
    return proposals[:MAX_PROPOSALS]


# --------------------------------------------------------------------------- ordering


def _unless_named_otherwise(proposals: Iterable[Proposal], named: Sequence[Named]) -> list[Proposal]:
    exact = {n.invoice.invoice_id for n in named if n.evidence >= Evidence.NUMBER}
    if not exact:
        return list(proposals)
    return [
        p
        if {t.id for t in p.targets} <= exact
        else capped(p, SCORE_NOT_NAMED, "the text names other invoices")
        for p in proposals
    ]


def best_first(proposals: Iterable[Proposal]) -> list[Proposal]:
    """Highest score first (rule order among equals); of proposals with the same targets only the
    best; at most MAX_PROPOSALS."""
    best: dict[frozenset[tuple[str, str]], Proposal] = {}
    for proposal in sorted(proposals, key=lambda p: -p.score):
        best.setdefault(frozenset((t.type.value, t.id) for t in proposal.targets), proposal)
    return list(best.values())[:MAX_PROPOSALS]


def _proposal(rule: MatchRule, score: int, invoices: Sequence[OpenInvoice], reason: str) -> Proposal:
    return Proposal(
        rule=rule,
        score=score,
        targets=tuple(_target(invoice, invoice.outstanding) for invoice in invoices),
        counterparty_id=invoices[0].counterparty_id,
        reason=reason,
    )


def _target(invoice: OpenInvoice, amount: int) -> MatchTarget:
    return MatchTarget(type=TargetType.INVOICE, id=invoice.invoice_id, amount=amount, label=invoice.number)


def _distinct(invoices: Iterable[OpenInvoice]) -> list[OpenInvoice]:
    return list({invoice.invoice_id: invoice for invoice in invoices}.values())


# --------------------------------------------------------------------------- learning


# Words any payer writes ("Rechnung", "invoice", "Skonto"): a pattern of only these names nobody.
_COMMON_WORDS = frozenset(
    {
        "RECHNUNG", "RECHNUNGEN", "RECHNUNGSNR", "RG", "RE", "NR", "NO", "NUMMER", "NUMBER", "INVOICE",
        "INVOICES", "INV", "FACTURE", "FACTURES", "FACT", "FA", "ZAHLUNG", "PAYMENT", "PAIEMENT",
        "REGLEMENT", "VIREMENT", "TEILZAHLUNG", "PARTIAL", "ABZGL", "ABZUEGLICH", "SKONTO", "ESCOMPTE",
        "VOM", "DATUM", "DATE", "DU", "AU", "UND", "AND", "ET", "FUER", "FOR", "POUR", "KUNDE",
        "KUNDENNR", "CUSTOMER", "CLIENT", "REF", "REFERENCE", "REFERENZ", "SVWZ", "EREF", "KREF",
        "MREF", "EUR", "USD", "GBP", "CHF", "THE", "OF", "DE", "LA", "LE", "LES", "DER", "DIE", "DAS",
        # Months change every month: "Miete März" and "Miete April" are one pattern.
        "JANUAR", "FEBRUAR", "MAERZ", "APRIL", "MAI", "JUNI", "JULI", "AUGUST", "SEPTEMBER", "OKTOBER",
        "NOVEMBER", "DEZEMBER", "JANUARY", "FEBRUARY", "MARCH", "MAY", "JUNE", "JULY", "OCTOBER",
        "DECEMBER", "JANVIER", "FEVRIER", "MARS", "AVRIL", "JUIN", "JUILLET", "AOUT", "SEPTEMBRE",
        "OCTOBRE", "NOVEMBRE", "DECEMBRE", "JAN", "FEB", "MAR", "APR", "JUN", "JUL", "AUG", "SEP",
        "SEPT", "OKT", "OCT", "NOV", "DEZ", "DEC",
    }
)  # fmt: skip
_KEY_WORDS = 8
_SPELLED_OUT = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS"})


def remittance_key(text: str) -> str | None:
    """A remittance text's pattern for learning: upper-case ASCII words without digits (numbers,
    dates and references change every month), common words ("Rechnung", "invoice") and months
    dropped, at most 8 words: "Miete Wohnung 3 / März 2026, RE 2026-17" -> "MIETE WOHNUNG". None
    when nothing distinctive is left (a person's confirmation of "Rechnung 4711" teaches nothing
    about a payer)."""
    spelled = text.upper().translate(_SPELLED_OUT)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    words = [
        word
        for word in re.findall(r"[A-Z0-9]+", ascii_text)
        if len(word) > 1 and word.isalpha() and word not in _COMMON_WORDS
    ]
    return " ".join(words[:_KEY_WORDS]) or None
