"""Cancelling a subscription: at the period's end, now, or on a date (a scheduled cancellation).

- ``period_end``: ``cancel_at`` = the current period's end; the issuing sweep issues no new period
  and cancels at that boundary (D1). Nothing is credited: the period was bought in full.
- ``now`` (or today's date): canceled today. With ``prorate`` the unused licensed part of the
  current period is credited (a credit note, D1's ``issue_proration_invoice``); proration lines still
  waiting for the next invoice, and the metered usage of the current period so far (billed in
  arrears, by no invoice any more), are settled in the same document, since no next invoice comes.
  Example: 30.00 EUR a month + 0.02 EUR a call from 1 Jan, 200 calls, canceled now on 16 Jan with
  proration: credit 3000 x 16 / 31 = -15.48, usage +4.00: a credit note of net -11.48 EUR.
- a later date: kept as a scheduled cancellation and applied by the schedule on that day, as a
  cancellation ``now`` made that day would be. The current period's end itself is ``period_end``.

Refused with 422 (field ``at``) unless ``force``: an end inside the minimum term (start +
``minimum_term_months``) or at shorter notice than ``notice_days``. A cancellation removes the
pending scheduled change; a canceled subscription leaves the due index.

While paused only ``now`` (or today's date) is possible: canceled at once, nothing credited (a pause
credits nothing; resume first for the prorated credit). ``period_end`` or a later date is a 409
naming ``status`` ("resume first or cancel now"): a paused subscription is off the due index, so a
cancellation kept for later would never be carried out by the issuing sweep.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from cashline.dal.billing_scheduled_changes import ScheduledChangeRepository
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.billing.subscription_changes import (
    ChangeKind,
    ChangeRuleError,
    ScheduledChange,
    cancellation_credit,
    check_cancellation_date,
)
from cashline.domain.billing.subscriptions import (
    Subscription,
    SubscriptionStatus,
    TransitionError,
    check_transition,
    tenant_today,
)
from cashline.errors import ConflictError, UnprocessableError
from cashline.ids import new_id
from cashline.observability import logger
from cashline.schemas.subscription_changes import CancelOutput, CancelRequest, scheduled_change_output
from cashline.services.access import get_tenant
from cashline.services.billing.changes import ChangeOutcome, invoice_lines, removal_of, store_scheduled
from cashline.services.billing.usage import usage_so_far

subscriptions = SubscriptionRepository()
scheduled = ScheduledChangeRepository()


# A cancellation ends as a change does: the subscription, and the invoice, credit note or scheduled
# change it made (services/billing/changes.py).
CancelOutcome = ChangeOutcome


def cancel_output(outcome: CancelOutcome) -> CancelOutput:
    sub = outcome.subscription
    return CancelOutput(
        subscription_id=sub.subscription_id,
        status=sub.status.value,
        cancel_at=sub.cancel_at,
        canceled_on=sub.canceled_on,
        invoice_id=outcome.invoice_id,
        credit_note_id=outcome.credit_note_id,
        scheduled_change=None
        if outcome.scheduled_change is None
        else scheduled_change_output(outcome.scheduled_change),
    )


def cancel_subscription(
    tenant_id: str, subscription_id: str, request: CancelRequest, *, actor: str, now: datetime
) -> CancelOutcome:
    """Cancel at the period's end, now or on a date (module docstring). 409 when already canceled."""
    tenant = get_tenant(tenant_id)
    today = tenant_today(now, tenant.timezone)
    sub = subscriptions.get(tenant_id, subscription_id)
    if sub.status is SubscriptionStatus.CANCELED:
        raise ConflictError("the subscription is already canceled", field="subscription_id")
    ends_on = _end_of(sub, request.at, today)
    if sub.status is SubscriptionStatus.PAUSED and (request.at == "period_end" or ends_on != today):
        raise ConflictError("the subscription is paused: resume it first or cancel now", field="status")
    try:
        check_cancellation_date(sub, ends_on, today=today, force=request.force)
    except ChangeRuleError as exc:
        raise UnprocessableError(str(exc), field=exc.field) from exc
    pending = scheduled.pending(tenant_id, subscription_id)
    logger.info(
        "subscription cancel", subscription_id=subscription_id, actor=actor, ends_on=ends_on.isoformat()
    )
    if ends_on == today:
        return cancel_now(sub, today, prorate=request.prorate, settles=removal_of(pending), now=now)
    if ends_on == sub.current_period_end:
        after = replace(sub, cancel_at=ends_on, cancel_with_credit=False, updated_at=now)
        work = UnitOfWork("the subscription changed meanwhile; retry")
        work.add(lambda write: subscriptions.stage_update(write, sub, after))
        work.add(removal_of(pending))
        work.commit()
        return CancelOutcome(subscription=subscriptions.get(tenant_id, subscription_id))
    change = ScheduledChange(
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        change_id=new_id("scheduled_change"),
        kind=ChangeKind.CANCEL,
        effective_date=ends_on,
        items=(),
        proration=None,
        prorate=request.prorate,
        created_at=now,
        updated_at=now,
        version=0,
    )
    # An earlier "at period end" gives way to the dated cancellation (one pending end at a time).
    moved = (sub, replace(sub, cancel_at=None)) if sub.cancel_at is not None else None
    stored = store_scheduled(tenant, change, replaces=pending, now=now, moved=moved)
    return CancelOutcome(subscription=subscriptions.get(tenant_id, subscription_id), scheduled_change=stored)


def _end_of(sub: Subscription, at: str | date, today: date) -> date:
    """The first day the subscription no longer serves, as the request's `at` names it."""
    if isinstance(at, str):  # the schema allows only "period_end", "now" or a date
        return max(sub.current_period_end, today) if at == "period_end" else today
    if at < today:
        raise UnprocessableError("a cancellation date cannot be in the past", field="at")
    return at


def cancel_now(
    sub: Subscription, ends_on: date, *, prorate: bool, settles: Stage | None, now: datetime
) -> CancelOutcome:
    """Cancel `sub` as of `ends_on` (today, or a scheduled cancellation's day): status canceled, off
    the due index, the pending scheduled change settled in the same write (`settles`: the API
    deletes it, the sweep completes it); with `prorate`, the unused licensed part credited, and any
    pending proration lines and the metered usage of [current_period_start, `ends_on`) billed in the
    same document (its transaction conditioned on the usage totals read: a concurrent report makes
    it a 409, retried; a later one is refused, the subscription being canceled)."""
    try:
        check_transition(sub.status, SubscriptionStatus.CANCELED)
    except TransitionError as exc:
        raise ConflictError(str(exc), field="subscription_id") from exc
    credit = cancellation_credit(sub, ends_on, prorate=prorate)
    # No invoice follows: the current period's usage so far is billed now, with what is pending.
    used = usage_so_far(sub, sub.items, ends_on)
    lines = sub.pending_lines + used.lines + credit.lines
    after = replace(
        sub,
        status=SubscriptionStatus.CANCELED,
        canceled_on=ends_on,
        cancel_at=None,
        cancel_with_credit=prorate,
        next_invoice_on=None,
        pending_lines=(),
        period_charged=credit.period_charged,
        period_credited=credit.period_credited,
        updated_at=now,
    )
    if any(line.amount for line in lines):
        outcome = invoice_lines(sub, after, lines, settles=settles, also=[used.stage], now=now)
        return CancelOutcome(outcome.subscription, outcome.invoice_id, outcome.credit_note_id)
    work = UnitOfWork("the subscription changed meanwhile; retry")
    work.add(lambda write: subscriptions.stage_update(write, sub, after, due_at=None))
    work.add(settles)
    work.add(used.stage)
    work.commit()
    return CancelOutcome(subscription=subscriptions.get(sub.tenant_id, sub.subscription_id))
