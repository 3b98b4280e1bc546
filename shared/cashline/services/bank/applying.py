"""Applying a match to a bank line, and taking it back: the money moves and the line changes in one
DynamoDB transaction (services.payments.context.commit with the line's stages in `PaymentWrites.also`).

What a match writes, by the targets of the proposal:
- invoices (a credit) or bills (a debit): one `bank_transfer` payment of the line's amount (less any
  `fees` target), allocated to exactly those targets; what is left is the payer's credit. Its source
  reference is the line's id (`<btx>`, `<btx>#2` after an unmatch), claimed with the payment
  (`PAYREF`): of two workers applying the same line, one commits and the other changes nothing;
- a processor payout, or a refund/chargeback Cashline recorded (`payment`): no new payment; the
  existing one gets a `bank_reconciled` history entry on its version (a second line reconciling it is
  refused until the first is unmatched); the line keeps it in `reconciled_payment_ids`;
- an installment: Cashline's own debit. One still waiting for the processor's word is settled in
  this transaction, and its payment recorded with the line, under the processor's reference when the
  processor started the debit (an unmatch releases that payment; the installment stays paid); one
  already paid reconciles the payment the processor's "paid" recorded (services.bank.match_money);
- invoices or bills never share a line with a payout, refund or installment
  (services.bank.match_targets checks every target first);
- `fees`: booked on the line only.
With it, on the line's version: status, match, who matched, the payments, discrepancies, history;
the statement's counters and the day totals moved from `open` to `auto` or `person`; a person's
match teaches matching the payer's IBAN and remittance pattern; each discrepancy is stored and its
id kept on the line (services.bank.flags: an unmatch resolves them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from cashline.dal.bank_repository import bank
from cashline.dal.payment_repository import PaymentWrites
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.matching import remittance_key
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    Discrepancy,
    HistoryEntry,
    Proposal,
    TransactionStatus,
)
from cashline.errors import ConflictError
from cashline.services.bank.flags import (
    UNMATCHED_NOTE,
    flags_of,
    line_flags,
    match_flag_ids,
    new_flag_ids,
    resolve_stages,
    store_flags,
)
from cashline.services.bank.match_money import TargetUnavailableError, stage_money, stage_undo_payment
from cashline.services.payments.context import Context, Outcome, commit, context_for, retrying

MAX_PROPOSALS = 5
AUTO = "auto"  # `matched_by` of a line matched without a person
OPEN = frozenset({TransactionStatus.UNMATCHED, TransactionStatus.SUGGESTED})
LINE_CHANGED = "the bank transaction was changed by someone else; read it again"


@dataclass(frozen=True, slots=True)
class Change:
    """What a person or the matcher asks of one line, on the version they read."""

    tenant_id: str
    transaction_id: str
    expected_version: int | None  # None: whatever version is there, as long as the status allows
    actor: str
    now: datetime


def apply_match(
    change: Change,
    proposal: Proposal,
    *,
    by_person: bool,
    proposals: list[Proposal] | None = None,
    ctx: Context | None = None,
) -> BankTransaction:
    """Match the line to `proposal` (see the module docstring); `proposals`, when given, replace the
    line's stored ones (the matcher's fresh list); `ctx`, the payment context of a batch of lines (the
    tenant and its payment settings read once). ConflictError when the line is no longer open or
    moved past `expected_version`."""
    ctx = ctx or context_for(change.tenant_id, now=change.now, actor=change.actor)

    def work(before: BankTransaction) -> Outcome:
        writes = PaymentWrites(change.tenant_id, change.now)
        moves = stage_money(ctx, before, proposal, writes)
        payment_ids = [*moves.created, *moves.reconciled]
        flag_ids = new_flag_ids(proposal.discrepancies)
        after = _matched(before, proposal, payment_ids, flag_ids, by_person=by_person, change=change)
        after = replace(after, reconciled_payment_ids=moves.reconciled)
        if proposals is not None:
            after = replace(after, proposals=tuple(proposals[:MAX_PROPOSALS]))
        writes.also.extend(_line_stages(before, after))
        first_payment = payment_ids[0] if payment_ids else None
        writes.also.extend(
            store_flags(after, proposal.discrepancies, flag_ids, payment_id=first_payment, now=change.now)
        )
        if by_person and moves.counterparty_id:
            writes.also.append(_learning(before, moves.counterparty_id, change.now))
        commit(ctx, writes)
        return Outcome("applied")

    return _run(change, OPEN, work)


def ignore_line(change: Change, reason: str) -> BankTransaction:
    """The line needs no match (a transfer between the tenant's own accounts, a salary...)."""
    ctx = context_for(change.tenant_id, now=change.now, actor=change.actor)

    def work(before: BankTransaction) -> Outcome:
        entry = HistoryEntry(at=change.now, action="ignored", actor=change.actor, note=reason)
        after = _moved(
            before, status=TransactionStatus.IGNORED, entry=entry, now=change.now, ignore_reason=reason
        )
        writes = PaymentWrites(change.tenant_id, change.now)
        writes.also.extend(_line_stages(before, after))
        commit(ctx, writes)
        return Outcome("ignored")

    return _run(change, OPEN, work)


def unmatch_line(change: Change, reason: str) -> BankTransaction:
    """Take a match back: the payments it created are reversed (the invoices owe again, a credit it
    left is taken back), a payout or refund it reconciled (`reconciled_payment_ids`) is no longer,
    the discrepancies it flagged are resolved ("unmatched") and no longer counted; the line waits
    again (`suggested` when it has proposals, else `unmatched`). An ignored line simply waits again."""
    ctx = context_for(change.tenant_id, now=change.now, actor=change.actor)

    def work(before: BankTransaction) -> Outcome:
        writes = PaymentWrites(change.tenant_id, change.now)
        for payment_id in before.payment_ids:
            reconciled = payment_id in before.reconciled_payment_ids
            stage_undo_payment(ctx, before, payment_id, writes, reason, reconciled=reconciled)
        writes.also.extend(
            resolve_stages(
                change.tenant_id,
                match_flag_ids(before),
                now=change.now,
                actor=change.actor,
                note=UNMATCHED_NOTE,
            )
        )
        waiting = TransactionStatus.SUGGESTED if before.proposals else TransactionStatus.UNMATCHED
        entry = HistoryEntry(at=change.now, action="unmatched", actor=change.actor, note=reason)
        after = _moved(before, status=waiting, entry=entry, now=change.now)
        writes.also.extend(_line_stages(before, after))
        commit(ctx, writes)
        return Outcome("unmatched")

    return _run(change, frozenset({TransactionStatus.MATCHED, TransactionStatus.IGNORED}), work)


def save_proposals(
    tx: BankTransaction, proposals: list[Proposal], *, now: datetime, flag: Discrepancy | None = None
) -> BankTransaction:
    """A line nothing could be applied to: its proposals are kept for a person (`suggested`), or it is
    `unmatched`; it leaves the bank_match due index either way. Counters do not move (open stays open).
    `flag` (a suspected duplicate) is put on the line, stored and counted in the same transaction,
    unless the line carries one of its kind already; the line then waits as `suggested`."""
    current = bank.get_transaction(tx.tenant_id, tx.transaction_id)
    if current.status not in OPEN:
        return current  # matched or ignored meanwhile: that stands
    tx = current
    flagged_before = flag is not None and any(found.kind is flag.kind for found in tx.discrepancies)
    if flagged_before:
        flag = None  # flagged by an earlier attempt (or a worker racing this one): once is enough
    # A suspected duplicate waits for a person whoever flagged it.
    waits = bool(proposals) or flag is not None or flagged_before
    status = TransactionStatus.SUGGESTED if waits else TransactionStatus.UNMATCHED
    note = _best_note(proposals) + (f"; {flag.kind.value}: {flag.detail}" if flag else "")
    entry = HistoryEntry(at=now, action=status.value, actor=AUTO, note=note)
    after = replace(
        tx,
        status=status,
        proposals=tuple(proposals[:MAX_PROPOSALS]),
        history=(*tx.history, entry),
        updated_at=now,
    )
    if flag is None:
        return bank.save_transaction(tx, after, due_at=None)
    ids = new_flag_ids((flag,))
    after = replace(after, discrepancies=(*tx.discrepancies, flag), discrepancy_ids=(*_ids_of(tx), *ids))
    work = UnitOfWork(LINE_CHANGED)
    for stage in [*_line_stages(tx, after), *store_flags(after, (flag,), ids, payment_id=None, now=now)]:
        work.add(stage)
    work.commit()
    return replace(after, version=tx.version + 1)


# --------------------------------------------------------------------------- the line


def _run(
    change: Change, allowed: frozenset[TransactionStatus], work: Callable[[BankTransaction], Outcome]
) -> BankTransaction:
    """Run `work` on the line until it commits. The line's version is pinned at the first read: a
    conflict elsewhere (another payment on the same invoice) is read again and decided again, but a
    line that moved meanwhile (another person, another worker) is the caller's ConflictError."""
    first = bank.get_transaction(change.tenant_id, change.transaction_id)
    pinned = first.version if change.expected_version is None else change.expected_version
    _check_version(first, pinned)
    if first.status not in allowed:
        raise ConflictError(
            f"the bank transaction is {first.status.value}",
            field="status",
            details={"status": first.status.value},
        )

    refused: list[TargetUnavailableError] = []
    fresh = [first]  # the first attempt works on the line just read; a retry reads it again

    def attempt() -> Outcome:
        before = fresh.pop() if fresh else bank.get_transaction(change.tenant_id, change.transaction_id)
        _check_version(before, pinned)
        try:
            return work(before)
        except TargetUnavailableError as final:
            refused.append(final)
            raise

    def line_moved() -> Outcome | None:
        if refused:
            raise refused[-1]  # decided, not raced: trying again would decide the same
        _check_version(bank.get_transaction(change.tenant_id, change.transaction_id), pinned)
        return None

    retrying(attempt, done_already=line_moved)
    return bank.get_transaction(change.tenant_id, change.transaction_id)


def _check_version(tx: BankTransaction, version: int) -> None:
    if tx.version != version:
        raise ConflictError(LINE_CHANGED, field="version", details={"version": tx.version})


def _learning(tx: BankTransaction, counterparty_id: str, now: datetime) -> Callable[..., None]:
    """What a person's match teaches: this IBAN and this remittance pattern are this counterparty's."""
    return partial(
        bank.stage_learned,
        tenant_id=tx.tenant_id,
        iban=tx.counterparty_iban,
        remittance_key=remittance_key(tx.remittance) if tx.remittance else None,
        counterparty_id=counterparty_id,
        now=now,
    )


def _matched(
    before: BankTransaction,
    proposal: Proposal,
    payment_ids: list[str],
    flag_ids: tuple[str, ...],
    *,
    by_person: bool,
    change: Change,
) -> BankTransaction:
    """The line matched to `proposal`: its own flags kept, the proposal's discrepancies (stored as
    `flag_ids`) added."""
    action = "matched" if by_person else "auto_matched"
    note = f"{proposal.rule.value} ({proposal.score}): {proposal.reason}".rstrip(": ")
    moved = _moved(
        before,
        status=TransactionStatus.MATCHED,
        entry=HistoryEntry(at=change.now, action=action, actor=change.actor, note=note),
        now=change.now,
    )
    return replace(
        moved,
        match=proposal,
        matched_by=change.actor if by_person else AUTO,
        payment_ids=tuple(payment_ids),
        discrepancies=(*moved.discrepancies, *proposal.discrepancies),
        discrepancy_ids=(*moved.discrepancy_ids, *flag_ids),
    )


def _moved(
    before: BankTransaction,
    *,
    status: TransactionStatus,
    entry: HistoryEntry,
    now: datetime,
    ignore_reason: str | None = None,
) -> BankTransaction:
    """The line in a new status with nothing of its previous match left (a match sets its own); the
    line's own flags (a suspected duplicate) stay."""
    kept, kept_ids = line_flags(before)
    return replace(
        before,
        status=status,
        match=None,
        matched_by=None,
        payment_ids=(),
        reconciled_payment_ids=(),
        ignore_reason=ignore_reason,
        discrepancies=kept,
        discrepancy_ids=kept_ids,
        history=(*before.history, entry),
        updated_at=now,
    )


def _ids_of(tx: BankTransaction) -> tuple[str, ...]:
    return tuple(bdc for _, bdc in flags_of(tx))


def bucket(tx: BankTransaction) -> str:
    """The day-totals bucket a line counts in: open, auto, person or ignored."""
    if tx.status is TransactionStatus.MATCHED:
        return "auto" if tx.matched_by == AUTO else "person"
    if tx.status is TransactionStatus.IGNORED:
        return "ignored"
    return "open"


# Which statement count a day-totals bucket is part of (an ignored line counts in neither).
STATEMENT_COUNT = {"open": "unmatched", "auto": "matched", "person": "matched"}


def _line_stages(before: BankTransaction, after: BankTransaction) -> list[Callable[..., None]]:
    """The line on its version, its statement's matched/unmatched counts, and the day totals moved
    from the old bucket to the new one, with the discrepancies it gains or loses."""
    old, new = bucket(before), bucket(after)
    stages: list[Callable[..., None]] = [
        partial(bank.stage_transaction_change, before=before, after=after, due_at=None)
    ]
    moved = _count_moves(old, new)
    if moved != (0, 0):
        stages.append(
            partial(
                bank.stage_statement_counts,
                tenant_id=before.tenant_id,
                statement_id=before.statement_id,
                matched=moved[0],
                unmatched=moved[1],
            )
        )
    deltas = _totals_deltas(before, after)
    if deltas:
        stages.append(
            partial(
                bank.stage_totals,
                tenant_id=before.tenant_id,
                bank_account_id=before.bank_account_id,
                day=before.booking_date,
                currency=before.currency,
                deltas=deltas,
            )
        )
    return stages


def _count_moves(old: str, new: str) -> tuple[int, int]:
    """(matched, unmatched) changes of the statement's counts when a line moves between buckets."""
    moves = {"matched": 0, "unmatched": 0, None: 0}
    moves[STATEMENT_COUNT.get(old)] -= 1
    moves[STATEMENT_COUNT.get(new)] += 1
    return moves["matched"], moves["unmatched"]


def _totals_deltas(before: BankTransaction, after: BankTransaction) -> dict[str, int]:
    """Day-totals counters: the line's count and amount out of its old bucket into its new one; the
    discrepancies it loses subtracted and those it gains added."""
    old, new = bucket(before), bucket(after)
    deltas: dict[str, int] = {}
    if old != new:
        deltas = {
            f"{old}_count": -1,
            f"{old}_amount": -before.amount,
            f"{new}_count": 1,
            f"{new}_amount": after.amount,
        }
    for sign, tx in ((-1, before), (1, after)):
        for found in tx.discrepancies:
            kind = found.kind.value
            deltas[f"disc_{kind}_count"] = deltas.get(f"disc_{kind}_count", 0) + sign
            deltas[f"disc_{kind}_amount"] = deltas.get(f"disc_{kind}_amount", 0) + sign * found.amount
    return {name: value for name, value in deltas.items() if value}


def _best_note(proposals: list[Proposal]) -> str:
    if not proposals:
        return "no proposal"
    best = proposals[0]
    return f"best: {best.rule.value} ({best.score})"
