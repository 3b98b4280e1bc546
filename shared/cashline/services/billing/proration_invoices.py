"""Proration invoices: the invoice (or credit note) of exactly the lines a subscription change makes,
written with the change in one transaction (`issue_proration_invoice`, used by services/billing/changes.py
and cancellation.py through issuing.py), and the subscription writes the issuing engine shares.

Split from issuing.py, which re-exports `issue_proration_invoice` (the contract's home).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from cashline.dal.billing_subscriptions import UNCHANGED, SubscriptionRepository, Unset
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.access import today_for
from cashline.domain.billing.invoice_plan import planned_from_pending
from cashline.domain.billing.periods import Period
from cashline.domain.billing.subscriptions import PendingLine, Subscription, SubscriptionStatus
from cashline.domain.invoices import UniqueClaim
from cashline.services.billing.credit import issue_credit_note
from cashline.services.billing.credit_settlement import settle_credited_invoice
from cashline.services.billing.drafts import compose_draft, prepare_draft, store_draft
from cashline.services.billing.settings import get_billing_settings
from cashline.services.tenancy import tenants

subscriptions = SubscriptionRepository()

# Subscriptions that are issued nothing: they only leave the due index.
DORMANT = frozenset({SubscriptionStatus.PAUSED, SubscriptionStatus.CANCELED})


def stage_moved(before: Subscription, after: Subscription, *, due_at: datetime | Unset | None) -> Stage:
    """The subscription's change, versioned on `before` (dal/billing_subscriptions.py)."""
    return lambda write: subscriptions.stage_update(write, before, after, due_at=due_at)


def commit_update(stages: Sequence[Stage]) -> None:
    """The subscription moved on alone (nothing to invoice), versioned on what was read."""
    work = UnitOfWork("the subscription was changed meanwhile")
    for stage in stages:
        work.add(stage)
    work.commit()


# --- proration invoices (always_invoice changes) -------------------------------------------


def _due_after_change(after: Subscription) -> datetime | Unset | None:
    """Off the due index once the change leaves nothing to issue (paused, canceled); else as it was."""
    return None if after.status in DORMANT else UNCHANGED


def issue_proration_invoice(
    tenant_id: str,
    before: Subscription,
    after: Subscription,
    lines: Sequence[PendingLine],
    *,
    now: datetime,
    also: Sequence[Stage] = (),
) -> str | None:
    """An invoice of exactly `lines` (a credit note when they net negative), written with the change
    `before` -> `after` (and the caller's `also`: the scheduled change it applies, say) in one
    transaction; its id, or None when there are no lines (the change alone is written). The claim
    `SUBCHG <sub>#<before.version>` makes a retried change invoice once (the subscription's version
    condition refuses it too): ConflictError, nothing written. An `after` that is paused or canceled
    (cancel now with a credit) leaves the due index: the issuing sweep has nothing more to read."""
    due_at = _due_after_change(after)
    change: list[Stage] = [stage_moved(before, after, due_at=due_at), *also]
    if not lines:
        commit_update(change)
        return None
    claim = UniqueClaim("SUBCHG", f"{before.subscription_id}#{before.version}", "subscription_id")
    tenant = tenants.get(tenant_id)
    today = today_for(tenant, now)
    settings = get_billing_settings(tenant_id)
    if sum(line.amount for line in lines) < 0:
        note_id = issue_credit_note(tenant_id, after, lines, now=now, also=change, extra_claims=[claim])
        # The credited invoice still owed (a cancellation's: no next invoice takes the balance) is
        # settled from the credit first; the rest stays in the balance (credit.py).
        settle_credited_invoice(tenant_id, note_id, now=now)
        return note_id
    draft = compose_draft(
        tenant, settings, after, [planned_from_pending(line) for line in lines], on=today, now=now
    )
    period = Period(
        after.current_period_start,
        max(after.current_period_end, after.current_period_start + timedelta(days=1)),
    )
    prepared = prepare_draft(tenant, settings, after, draft, period, issue_day=today, now=now, claim=claim)
    updated = replace(after, latest_invoice_id=prepared.invoice.invoice_id)
    also = [stage_moved(before, updated, due_at=due_at), *also]
    return store_draft(tenant, settings, after, prepared, draft, also, now)
