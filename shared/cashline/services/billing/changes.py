"""Changing a subscription's items: now with proration, or later as a scheduled change.

Defaults (the issue's): an upgrade (the new items cost at least as much per period) takes effect
today with ``create_prorations``; a downgrade takes effect at the current period's end with
``none`` (a change on the period boundary has nothing to prorate anyway). An explicit
``effective_date`` or ``proration`` overrides either default. A date after today makes a scheduled
change, applied by services/billing/scheduled_changes.py on that day with the proration it has then.
A subscription holds at most one scheduled change: a new change, now or later, replaces it (the
API deletes the replaced one in the same write; the sweep, which may not delete, completes the one it
applies: ``settles`` below is whichever of the two the caller stages).

Proration (domain/billing/subscription_changes.py): ``create_prorations`` keeps the lines on the
subscription for its next invoice; ``always_invoice`` invoices them at once (D1's
``issue_proration_invoice``: an invoice, or a credit note when they net negative, written with the
subscription change in one transaction); ``none`` makes no lines.

Deleting a metered item bills its usage so far: the usage of [current_period_start, effective day)
becomes a pending line for the next invoice (``amount_for_quantity``), whatever the proration, in
the change's transaction conditioned on the total read (a concurrent report: 409, retry); a report
on the deleted item afterwards is refused (422 naming ``item_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from typing import TypeVar

from cashline.dal.billing_scheduled_changes import ScheduledChangeRepository
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.access import Tenant
from cashline.domain.billing.catalog import Price
from cashline.domain.billing.subscription_changes import (
    ChangeKind,
    ChangeRuleError,
    ItemChange,
    RequestedItem,
    ScheduledChange,
    changed_items,
    is_downgrade,
    prorate_change,
)
from cashline.domain.billing.subscriptions import (
    PendingLine,
    ProrationBehavior,
    Subscription,
    SubscriptionStatus,
    tenant_day_start,
    tenant_today,
)
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.ids import new_id
from cashline.observability import logger
from cashline.schemas.subscription_changes import ChangeOutput, ChangeRequest, scheduled_change_output
from cashline.services.access import get_tenant
from cashline.services.billing.catalog import price_with_terms, stage_mark_used
from cashline.services.billing.issuing import issue_proration_invoice
from cashline.services.billing.usage import usage_so_far

T = TypeVar("T")

subscriptions = SubscriptionRepository()
scheduled = ScheduledChangeRepository()


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    subscription: Subscription
    invoice_id: str | None = None
    credit_note_id: str | None = None
    scheduled_change: ScheduledChange | None = None

    @property
    def scheduled_change_id(self) -> str | None:
        return None if self.scheduled_change is None else self.scheduled_change.change_id


def change_output(outcome: ChangeOutcome) -> ChangeOutput:
    return ChangeOutput(
        subscription_id=outcome.subscription.subscription_id,
        invoice_id=outcome.invoice_id,
        credit_note_id=outcome.credit_note_id,
        scheduled_change=None
        if outcome.scheduled_change is None
        else scheduled_change_output(outcome.scheduled_change),
        pending_proration_amount=outcome.subscription.pending_proration_amount,
    )


def change_subscription(
    tenant_id: str, subscription_id: str, request: ChangeRequest, *, actor: str, now: datetime
) -> ChangeOutcome:
    """Change the items now (with proration) or schedule the change (see the module docstring).

    422 naming the field for an unknown item, a price in another currency or interval, no item left,
    or an effective date in the past; 409 on a canceled subscription or a concurrent change.
    """
    tenant = get_tenant(tenant_id)
    today = tenant_today(now, tenant.timezone)
    sub = _changeable(tenant_id, subscription_id)
    requested = tuple(
        RequestedItem(item_id=i.id, price_id=i.price_id, quantity=i.quantity, deleted=i.deleted)
        for i in request.items
    )
    changes, prices = resolve_items(tenant_id, requested)
    new_items = _checked(lambda: changed_items(sub, changes, _new_item_id))
    downgrade = is_downgrade(sub.items, new_items)
    proration = ProrationBehavior(request.proration) if request.proration else _default_proration(downgrade)
    effective = request.effective_date or (max(sub.current_period_end, today) if downgrade else today)
    if effective < today:
        raise UnprocessableError("the effective date is in the past", field="effective_date")
    pending = scheduled.pending(tenant_id, subscription_id)
    logger.info(
        "subscription change", subscription_id=subscription_id, actor=actor, effective=effective.isoformat()
    )
    if effective > today:
        change = ScheduledChange(
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            change_id=new_id("scheduled_change"),
            kind=ChangeKind.CHANGE,
            effective_date=effective,
            items=requested,
            proration=proration,
            prorate=proration is not ProrationBehavior.NONE,
            created_at=now,
            updated_at=now,
            version=0,
        )
        stored = store_scheduled(tenant, change, replaces=pending, now=now)
        return ChangeOutcome(subscription=sub, scheduled_change=stored)
    after = replace(sub, items=new_items)
    return apply_items(sub, after, prices, effective, proration, settles=removal_of(pending), now=now)


def apply_change(
    tenant: Tenant, sub: Subscription, change: ScheduledChange, effective: date, now: datetime
) -> ChangeOutcome:
    """Apply a scheduled change on its day (the sweep): the items resolved against the catalog as it
    is now, prorated as a change made that day would be; the scheduled change is completed (status
    applied, off the due index: no delete) in the same write. Raises
    ChangeRuleError/NotFoundError/UnprocessableError when it no longer fits."""
    changes, prices = resolve_items(tenant.tenant_id, change.items)
    new_items = _checked(lambda: changed_items(sub, changes, _new_item_id))
    proration = change.proration or _default_proration(is_downgrade(sub.items, new_items))
    settles = partial(scheduled.stage_complete, change=change, outcome="applied", now=now)
    return apply_items(
        sub, replace(sub, items=new_items), prices, effective, proration, settles=settles, now=now
    )


def removal_of(pending: ScheduledChange | None) -> Stage | None:
    """For the API's paths: the pending scheduled change a request replaces, deleted in its write."""
    return None if pending is None else partial(scheduled.stage_delete, change=pending)


def apply_items(
    sub: Subscription,
    after: Subscription,
    prices: Sequence[Price],
    effective: date,
    proration: ProrationBehavior,
    *,
    settles: Stage | None,
    now: datetime,
) -> ChangeOutcome:
    """Write `sub` -> `after` (its items changed) with the proration of `effective`, and `settles`
    (the replaced or applied scheduled change's delete or completion) in the same transaction."""
    prorated = prorate_change(sub, after.items, effective, prorate=proration is not ProrationBehavior.NONE)
    # A deleted metered item's usage so far goes on the next invoice as a pending line, whatever the
    # proration: no invoice would read its total any more.
    kept = {item.item_id for item in after.items}
    used = usage_so_far(sub, [item for item in sub.items if item.item_id not in kept], effective)
    after = replace(
        after,
        period_charged=prorated.period_charged,
        period_credited=prorated.period_credited,
        pending_lines=sub.pending_lines + used.lines,
        updated_at=now,
    )
    if proration is ProrationBehavior.CREATE_PRORATIONS:
        after = replace(after, pending_lines=after.pending_lines + prorated.lines)
    if proration is ProrationBehavior.ALWAYS_INVOICE and prorated.lines:
        return invoice_lines(
            sub, after, prorated.lines, prices=prices, settles=settles, also=[used.stage], now=now
        )
    work = UnitOfWork("the subscription changed meanwhile; retry")
    work.add(lambda write: subscriptions.stage_update(write, sub, after))
    for price in prices:
        work.add(partial(stage_mark_used, price=price, now=now))
    work.add(settles)
    work.add(used.stage)
    work.commit()
    return ChangeOutcome(subscription=subscriptions.get(sub.tenant_id, sub.subscription_id))


def invoice_lines(
    sub: Subscription,
    after: Subscription,
    lines: Sequence[PendingLine],
    *,
    prices: Sequence[Price] = (),
    settles: Stage | None = None,
    also: Sequence[Stage | None] = (),
    now: datetime,
) -> ChangeOutcome:
    """Invoice `lines` at once with the change `sub` -> `after`, the new prices marked used, the
    scheduled change settled (`settles`: deleted or completed) and the caller's `also` (the usage
    totals billed), all in D1's one transaction."""
    stages: list[Stage] = [partial(stage_mark_used, price=price, now=now) for price in prices]
    stages += [stage for stage in (settles, *also) if stage is not None]
    document_id = issue_proration_invoice(sub.tenant_id, sub, after, list(lines), now=now, also=stages)
    negative = sum(line.amount for line in lines) < 0
    return ChangeOutcome(
        subscription=subscriptions.get(sub.tenant_id, sub.subscription_id),
        invoice_id=None if negative else document_id,
        credit_note_id=document_id if negative else None,
    )


def store_scheduled(
    tenant: Tenant,
    change: ScheduledChange,
    *,
    replaces: ScheduledChange | None,
    now: datetime,
    moved: tuple[Subscription, Subscription] | None = None,
) -> ScheduledChange:
    """Keep `change` until its day, replacing the subscription's pending one in the same write.

    `moved`: the subscription's (before, after) written alongside (a dated cancellation clears
    cancel_at); its versioned write makes the second of two concurrent requests a 409.
    """
    due_at = tenant_day_start(change.effective_date, tenant.timezone)
    work = UnitOfWork("the subscription's scheduled change changed meanwhile; retry")
    if replaces is not None:
        work.add(partial(scheduled.stage_delete, change=replaces))
    work.add(partial(scheduled.stage_put, change=change, due_at=due_at))
    if moved is not None:
        before, after = moved
        work.add(lambda write: subscriptions.stage_update(write, before, replace(after, updated_at=now)))
    work.commit()
    return replace(change, version=1)  # a versioned record's first write stores version 1


def resolve_items(tenant_id: str, requested: Sequence[RequestedItem]) -> tuple[list[ItemChange], list[Price]]:
    """The requested lines with their prices' terms (one read per price), and the prices a change
    makes used. NotFoundError/UnprocessableError name `items.<n>.price_id`."""
    changes: list[ItemChange] = []
    prices: dict[str, Price] = {}
    for index, item in enumerate(requested):
        terms = None
        if item.price_id is not None:
            try:
                price, terms = price_with_terms(tenant_id, item.price_id)
            except (NotFoundError, UnprocessableError) as exc:
                raise type(exc)(exc.message, field=f"items.{index}.price_id") from exc
            prices[price.price_id] = price
        changes.append(ItemChange(item.item_id, terms, item.quantity, item.deleted))
    return changes, list(prices.values())


def _changeable(tenant_id: str, subscription_id: str) -> Subscription:
    sub = subscriptions.get(tenant_id, subscription_id)
    if sub.status is SubscriptionStatus.CANCELED:
        raise ConflictError("the subscription is canceled", field="subscription_id")
    return sub


def _checked(build: Callable[[], T]) -> T:
    try:
        return build()
    except ChangeRuleError as exc:
        raise UnprocessableError(str(exc), field=exc.field) from exc


def _default_proration(downgrade: bool) -> ProrationBehavior:
    return ProrationBehavior.NONE if downgrade else ProrationBehavior.CREATE_PRORATIONS


def _new_item_id() -> str:
    return new_id("subscription_item")
