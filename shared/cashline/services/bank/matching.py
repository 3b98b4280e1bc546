"""Matching bank lines to the books and applying what is sure enough.

`match_lines` proposes (cashline.domain.bank.matching.propose over the keyed lookups of
dal.bank_candidates.StoredCandidates) and applies the best proposal (services.bank.applying) when

- its score reaches the tenant's `auto_match_threshold` (default 90), and
- no runner-up within AMBIGUITY_POINTS (5) of it names other targets (two invoices owing the same
  amount, two combinations summing to it: a person chooses);

otherwise the line is `suggested` (its proposals kept for a person) or `unmatched` (none). Either way
it leaves the `bank_match` due index.

The same money twice: before anything is applied, the account's earlier lines of the same direction,
currency and amount booked in the DUPLICATE_WINDOW_DAYS (10) before it are read (one Query,
dal.bank_same_money) and `domain.bank.line_flags.duplicate_of` decides; a suspected duplicate is
flagged DUPLICATE on the line and never applied automatically: it waits as `suggested`.

`run_bank_match` is the sweep of the lines an import left there (services.bank.imports matches the
first lines of a file at once; the rest wait for the sweep).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from cashline.dal.bank_candidates import StoredCandidates
from cashline.dal.bank_repository import MATCH_JOB, bank
from cashline.dal.bank_same_money import same_money_lines
from cashline.dal.due import query_due
from cashline.dal.table import CashlineItem
from cashline.domain.access import today_for
from cashline.domain.bank.line_flags import DUPLICATE_WINDOW_DAYS, duplicate_of
from cashline.domain.bank.matching import propose
from cashline.domain.bank.reconciliation import BankTransaction, Candidates, Proposal
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.observability import logger
from cashline.services.bank.applying import AUTO, OPEN, Change, apply_match, save_proposals
from cashline.services.bank.match_money import TargetUnavailableError
from cashline.services.payments.context import Context, context_for
from cashline.services.sweeps import SweepResult, sweep

AMBIGUITY_POINTS = 5
SWEEP_SCHEDULE = "bank_match"
# A line the sweep took is its own for this long; if the worker dies, a later tick takes it again.
SWEEP_LEASE = timedelta(minutes=10)
# The function's timeout is 300 s (functions/.chalice/config.json): stop in time, the next tick goes on.
SWEEP_TIME_BUDGET_S = 240.0


def match_lines(tenant_id: str, txs: list[BankTransaction], *, now: datetime) -> list[BankTransaction]:
    """Propose and (when sure) apply a match for each open line; return the lines as stored after.
    A line matched or ignored meanwhile is returned as it is."""
    if not txs:
        return []
    threshold = bank.get_settings(tenant_id).auto_match_threshold
    ctx = context_for(tenant_id, now=now, actor=AUTO)  # the tenant and its payment settings, once
    today = today_for(ctx.tenant, now)
    books = StoredCandidates(tenant_id)
    return [_match_one(tx, books, ctx, threshold=threshold, today=today) for tx in txs]


def auto_choice(proposals: list[Proposal], threshold: int) -> Proposal | None:
    """The proposal to apply without a person, or None: the best must reach `threshold` and no
    runner-up within AMBIGUITY_POINTS may name other targets.

    >>> from cashline.domain.bank.reconciliation import MatchRule, MatchTarget, TargetType
    >>> a = Proposal(MatchRule.AMOUNT, 92, (MatchTarget(TargetType.INVOICE, "inv_a", 100),))
    >>> b = Proposal(MatchRule.AMOUNT, 88, (MatchTarget(TargetType.INVOICE, "inv_b", 100),))
    >>> auto_choice([a, b], 90) is None  # 88 is within 5 points of 92 and pays another invoice
    True
    """
    if not proposals or proposals[0].score < threshold:
        return None
    best = proposals[0]
    chosen = _target_set(best)
    for other in proposals[1:]:
        if other.score >= best.score - AMBIGUITY_POINTS and _target_set(other) != chosen:
            return None
    return best


def _target_set(proposal: Proposal) -> frozenset[tuple[str, str, int]]:
    return frozenset((t.type.value, t.id, t.amount) for t in proposal.targets)


def _match_one(
    tx: BankTransaction, books: Candidates, ctx: Context, *, threshold: int, today: date
) -> BankTransaction:
    now = ctx.now
    if tx.status not in OPEN:
        return tx
    proposals = propose(tx, books, today=today)
    duplicate = duplicate_of(tx, earlier_same_money(tx))
    best = auto_choice(proposals, threshold) if duplicate is None else None
    try:
        if best is not None:
            # No expected version: the line is pinned at the version read when applying; a worker
            # that changed it meanwhile wins and this attempt writes nothing.
            change = Change(tx.tenant_id, tx.transaction_id, expected_version=None, actor=AUTO, now=now)
            try:
                return apply_match(change, best, by_person=False, proposals=proposals, ctx=ctx)
            except (TargetUnavailableError, UnprocessableError, NotFoundError) as refused:
                # The best target cannot take it (a payout another line reconciled, an invoice paid
                # or deleted since it was proposed): a person decides, with the proposals in front.
                logger.info(
                    "best proposal not applicable", transaction_id=tx.transaction_id, why=refused.message
                )
        return save_proposals(tx, proposals, now=now, flag=duplicate)
    except ConflictError:
        # Another worker (the import, the sweep, a person) changed the line since it was read: what it
        # did stands; nothing of this attempt was written.
        logger.info("bank line changed meanwhile; left as it is", transaction_id=tx.transaction_id)
        return bank.get_transaction(tx.tenant_id, tx.transaction_id)


def earlier_same_money(tx: BankTransaction) -> list[BankTransaction]:
    """The account's lines booked before `tx` (the same day: imported before it, or in the same file
    ahead of it by id) within DUPLICATE_WINDOW_DAYS, of the same direction, currency and amount."""
    found = same_money_lines(
        tx.tenant_id,
        tx.bank_account_id,
        direction=tx.direction.value,
        currency=tx.currency,
        amount=tx.amount,
        first=tx.booking_date - timedelta(days=DUPLICATE_WINDOW_DAYS),
        last=tx.booking_date,
    )
    line_key = (tx.booking_date, tx.created_at, tx.transaction_id)
    return [
        other for other in found if (other.booking_date, other.created_at, other.transaction_id) < line_key
    ]


def match_due(now: datetime) -> int:
    """Match every line waiting on the `bank_match` due index at `now` (every tenant): each is leased
    first, so of two workers only one matches it. Returns how many lines were handled."""
    return sum(_handle_due(item, now) for item in _due_items(now))


def run_bank_match(*, tick_at: datetime, worker: str) -> SweepResult:
    """The bank_match schedule's sweep (chalicelib/bank_schedules.py)."""
    return sweep(
        schedule=SWEEP_SCHEDULE,
        job=MATCH_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=lambda item: _handle_due(item, tick_at),
        time_budget_s=SWEEP_TIME_BUDGET_S,
    )


def _due_items(now: datetime) -> list[CashlineItem]:
    return list(query_due(MATCH_JOB, now=now))


def _handle_due(item: CashlineItem, now: datetime) -> bool:
    tx = bank.due_transaction(item)
    if tx is None:
        return False
    leased = bank.lease_transaction(tx, until=now + SWEEP_LEASE, now=now)
    if leased is None:
        return False  # another worker has it
    match_lines(leased.tenant_id, [leased], now=now)
    return True
