"""Scheduled subscription changes and cancellations: the pending one of a subscription, and the sweep
that applies each on its day.

Exactly once: the sweep leases the scheduled change (dal.due.lease, one conditional write) and applies
it with the subscription's versioned update and the scheduled change's completion (status applied,
off the due index, conditioned on the leased version) in one transaction, so two concurrent ticks,
or a tick repeated after a crash, apply it once. The sweep deletes nothing (the `subscription_billing`
function may not: only the API deletes); completed changes stay in the subscription's partition and
`scheduled_change_of` skips them. The sweep runs in the
`subscription_billing` function before the issuing sweep of the same tick, so a downgrade at the
period's end changes the items before the new period is invoiced.

A scheduled change that no longer fits when its day comes (its item deleted meanwhile, its price
deactivated, the subscription canceled) is dropped with a warning rather than retried at every tick
(completed with status dropped).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from cashline.dal.billing_scheduled_changes import (
    SUBSCRIPTION_CHANGE_JOB,
    ScheduledChangeRecord,
    ScheduledChangeRepository,
    from_record,
)
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.due import lease
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.subscription_changes import ChangeKind, ChangeRuleError, ScheduledChange
from cashline.domain.billing.subscriptions import SubscriptionStatus
from cashline.errors import NotFoundError, UnprocessableError
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.access import get_tenant
from cashline.services.billing.cancellation import cancel_now
from cashline.services.billing.changes import apply_change
from cashline.services.sweeps import SweepResult, sweep

CHANGE_SCHEDULE = "subscription_change"
# Long enough for one change (a few reads, one transaction, maybe an invoice); a worker that dies
# holding it lets the next tick take it once the lease ends.
LEASE = timedelta(minutes=10)

subscriptions = SubscriptionRepository()
scheduled = ScheduledChangeRepository()


def scheduled_change_of(tenant_id: str, subscription_id: str) -> ScheduledChange | None:
    """The subscription's pending scheduled change or cancellation (one Query; applied and dropped
    ones are skipped), or None."""
    return scheduled.pending(tenant_id, subscription_id)


def run_subscription_changes(*, tick_at: datetime, worker: str) -> SweepResult:
    """Apply every scheduled change due at `tick_at` (its day has begun in the tenant's zone)."""
    return sweep(
        schedule=CHANGE_SCHEDULE,
        job=SUBSCRIPTION_CHANGE_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=lambda item: _apply_due(item, tick_at=tick_at, worker=worker),
    )


def _apply_due(item: object, *, tick_at: datetime, worker: str) -> bool:
    if not isinstance(item, ScheduledChangeRecord):
        return False
    if not lease(
        item,
        job=SUBSCRIPTION_CHANGE_JOB,
        tenant_id=item.tenant_id,
        entity_id=item.change_id,
        until=tick_at + LEASE,
        now=tick_at,
    ):
        return False
    change = from_record(item)  # the leased version: the completion below is conditioned on it
    try:
        apply_scheduled(change, now=tick_at)
    except (ChangeRuleError, NotFoundError, UnprocessableError) as exc:
        logger.warning(
            "scheduled change no longer fits; dropped",
            tenant_id=change.tenant_id,
            subscription_id=change.subscription_id,
            change_id=change.change_id,
            reason=str(exc),
            worker=worker,
        )
        metrics.add_metric(name="ScheduledChangeDropped", unit=MetricUnit.Count, value=1)
        _drop(change, now=tick_at)
    return True


def apply_scheduled(change: ScheduledChange, *, now: datetime) -> None:
    """Apply `change` as a request made on its effective day would be."""
    tenant = get_tenant(change.tenant_id)
    sub = subscriptions.get(change.tenant_id, change.subscription_id)
    if sub.status is SubscriptionStatus.CANCELED:
        _drop(change, now=now)
        return
    if change.kind is ChangeKind.CANCEL:
        applied = partial(scheduled.stage_complete, change=change, outcome="applied", now=now)
        cancel_now(sub, change.effective_date, prorate=change.prorate, settles=applied, now=now)
    else:
        apply_change(tenant, sub, change, change.effective_date, now)
    logger.info(
        "scheduled change applied",
        tenant_id=change.tenant_id,
        subscription_id=change.subscription_id,
        change_id=change.change_id,
        kind=change.kind.value,
    )
    metrics.add_metric(name="ScheduledChangeApplied", unit=MetricUnit.Count, value=1)


def _drop(change: ScheduledChange, *, now: datetime) -> None:
    """Done with a change that no longer fits: completed as dropped (off the due index, kept)."""
    UnitOfWork("the scheduled change changed meanwhile").add(
        partial(scheduled.stage_complete, change=change, outcome="dropped", now=now)
    ).commit()
