"""The queue a person works: read the lines, match one (one of its proposals, or targets of their
choosing), ignore one with a reason, or undo a match. Each action is one transaction with the line's
history entry (the audit trail) and is refused with a 409 when the line moved since the person read it
(`expected_version`) or is not in a state the action applies to."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.bank_repository import TransactionFilter as TransactionFilter  # the routes' filter
from cashline.dal.bank_repository import bank
from cashline.dal.pagination import Page
from cashline.domain.bank.discrepancies import shortfall
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    MatchRule,
    MatchTarget,
    Proposal,
    TargetType,
)
from cashline.errors import NotFoundError, UnprocessableError
from cashline.ids import is_id_of
from cashline.services.bank.applying import Change, apply_match, ignore_line, unmatch_line
from cashline.services.payments.context import invoices, payments

# What a person may name for a line of each direction.
TARGETS_FOR = {
    Direction.CREDIT: frozenset({TargetType.INVOICE, TargetType.PAYOUT, TargetType.FEES}),
    Direction.DEBIT: frozenset(
        {TargetType.BILL, TargetType.INSTALLMENT, TargetType.PAYMENT, TargetType.FEES}
    ),
}
PERSON_SCORE = 100  # a person's choice is certain by definition


def get_transaction(tenant_id: str, transaction_id: str) -> BankTransaction:
    """One bank transaction of the tenant (NotFoundError for an unknown or another tenant's id)."""
    if not is_id_of("bank_transaction", transaction_id):
        raise NotFoundError("bank transaction not found", field="transaction_id")
    return bank.get_transaction(tenant_id, transaction_id)


def list_transactions(
    tenant_id: str, flt: TransactionFilter, *, limit: int, starting_after: str | None
) -> Page[BankTransaction]:
    """A page of the tenant's bank transactions through the index the filter names (no Scan)."""
    return bank.list_transactions(tenant_id, flt, limit=limit, starting_after=starting_after)


def match_transaction(
    tenant_id: str,
    transaction_id: str,
    *,
    proposal: int | None,
    targets: list[MatchTarget] | None,
    keep_rest_as_credit: bool,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> BankTransaction:
    """A person matches a line: one of its proposals (by index, best first) or targets of their
    choosing, whose amounts add up to the line's amount (or less, with `keep_rest_as_credit`, for a
    credit: the rest is the payer's credit). The payments it makes, the learning (the payer's IBAN and
    remittance pattern are the matched counterparty's) and the history entry are one write."""
    tx = get_transaction(tenant_id, transaction_id)
    chosen = _chosen(tx, proposal, targets, keep_rest_as_credit=keep_rest_as_credit)
    # Pinned to the version the proposal was taken from: a line re-proposed meanwhile is a 409.
    pinned = tx.version if expected_version is None else expected_version
    return apply_match(Change(tenant_id, transaction_id, pinned, actor, now), chosen, by_person=True)


def ignore_transaction(
    tenant_id: str,
    transaction_id: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> BankTransaction:
    """A person says the line needs no match; the reason is kept on it and in its history."""
    get_transaction(tenant_id, transaction_id)
    if not reason.strip():
        raise UnprocessableError("say why the line needs no match", field="reason")
    return ignore_line(Change(tenant_id, transaction_id, expected_version, actor, now), reason.strip())


def unmatch_transaction(
    tenant_id: str,
    transaction_id: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> BankTransaction:
    """Undo a match (or an ignore): the payments the match created are reversed, so the invoices owe
    again; the line waits for a person again."""
    get_transaction(tenant_id, transaction_id)
    return unmatch_line(Change(tenant_id, transaction_id, expected_version, actor, now), reason.strip())


def _chosen(
    tx: BankTransaction,
    proposal: int | None,
    targets: list[MatchTarget] | None,
    *,
    keep_rest_as_credit: bool,
) -> Proposal:
    if (proposal is None) == (targets is None):
        raise UnprocessableError("name either a proposal or targets", field="proposal")
    if proposal is not None:
        if not 0 <= proposal < len(tx.proposals):
            raise UnprocessableError(
                f"the line has {len(tx.proposals)} proposals; {proposal} is not one of them", field="proposal"
            )
        return tx.proposals[proposal]
    return _person_proposal(tx, targets or [], keep_rest_as_credit=keep_rest_as_credit)


def _person_proposal(
    tx: BankTransaction, targets: list[MatchTarget], *, keep_rest_as_credit: bool
) -> Proposal:
    """The targets a person chose, checked against the line: kinds that fit its direction, amounts
    adding up to it (a credit may leave a rest as the payer's credit when the person says so)."""
    if not targets:
        raise UnprocessableError("name at least one target", field="targets")
    allowed, seen = TARGETS_FOR[tx.direction], set()
    for index, target in enumerate(targets):
        if target.type not in allowed:
            raise UnprocessableError(
                f"a {tx.direction.value} line cannot pay a {target.type.value}",
                field=f"targets[{index}].type",
            )
        if (target.type, target.id) in seen:  # one item cannot change twice in one transaction
            raise UnprocessableError(f"{target.id} is named twice", field=f"targets[{index}].id")
        seen.add((target.type, target.id))
    if keep_rest_as_credit and not any(t.type is TargetType.INVOICE for t in targets):
        # The rest is kept as the credit of the payer of an invoice the line pays: with no invoice
        # there is no payment to hold it, and the money would be matched but nowhere.
        raise UnprocessableError(
            "keep_rest_as_credit needs at least one invoice target on a credit line",
            field="keep_rest_as_credit",
        )
    total = sum(t.amount for t in targets)
    rest_allowed = keep_rest_as_credit and tx.direction is Direction.CREDIT
    if total > tx.amount or (total < tx.amount and not rest_allowed):
        raise UnprocessableError(
            f"the targets add up to {total} but the line is {tx.amount}"
            + ("" if rest_allowed or total > tx.amount else " (keep_rest_as_credit keeps the rest)"),
            field="targets",
        )
    found = shortfall(total, tx.amount, tx.currency) if total < tx.amount else None
    return Proposal(
        rule=MatchRule.PERSON,
        score=PERSON_SCORE,
        targets=tuple(_labelled(tx.tenant_id, target) for target in targets),
        discrepancies=(found,) if found is not None else (),
        reason="chosen by a person",
    )


def _labelled(tenant_id: str, target: MatchTarget) -> MatchTarget:
    """A target a person typed by id, with what a person recognises it by (the invoice's number, the
    payout's reference), as the matcher's own proposals carry. One read per target; an id that does
    not resolve is left as it is (applying the match refuses it, naming the field)."""
    if target.label:
        return target
    try:
        if target.type in {TargetType.INVOICE, TargetType.BILL} and is_id_of("invoice", target.id):
            return replace(target, label=invoices.get_header(tenant_id, target.id).number)
        if target.type in {TargetType.PAYOUT, TargetType.PAYMENT} and is_id_of("payment", target.id):
            return replace(target, label=payments.get(tenant_id, target.id).source_reference or "")
    except NotFoundError:
        pass
    return target
