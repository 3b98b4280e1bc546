"""Subscriptions: create (validated in one place), read, list, pause and resume.

The first billing period. The anchor defaults to the first paid day (the start date, or the trial's
end when trialing), so the first period is a whole one. An explicit later anchor (within one interval
of the first paid day) makes a short first period [first paid day, anchor), charged by day
(domain/billing/subscriptions.py ``plan_start``, with its worked example). A trial issues no invoice:
the first one comes on the trial's last day + 1. One-off prices (no interval) may be combined with
recurring ones and are charged once, on the first paid invoice; at least one price must recur, and
every recurring price shares one interval.

Pause and resume. A pause stops invoicing from the tenant's today (the subscription leaves the due
index); the period already invoiced is not credited. Resuming within the period that was paid (or
the trial) just continues: the next invoice comes at its usual date. Resuming after it skips the
periods that started while paused: the period from the resume day to the next cycle boundary is
invoiced right away, prorated by day as a short first period is (the anchor is kept). Example:
anchored on the 1st, 30.00 EUR a month, paused 20 March, resumed 16 May: April is not invoiced,
[16 May, 1 Jun) is 16 of 31 days: 3000 x 16 / 31 = 1548.39 -> 15.48 EUR, then 30.00 EUR on 1 June.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial

from cashline.dal.billing_subscriptions import SubscriptionRepository, Unset
from cashline.dal.pagination import Page
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import Price, PriceTerms, UsageType, amount_for_quantity
from cashline.domain.billing.periods import Interval
from cashline.domain.billing.subscription_changes import ScheduledChange
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    Discount,
    Subscription,
    SubscriptionItem,
    SubscriptionRuleError,
    SubscriptionStatus,
    TransitionError,
    check_start_not_too_early,
    check_transition,
    new_subscription,
    plan_start,
    resumed,
    tenant_day_start,
    tenant_today,
)
from cashline.domain.money import AmountLimitError
from cashline.errors import CashlineError, ConflictError, NotFoundError, UnprocessableError
from cashline.ids import new_id
from cashline.observability import logger
from cashline.schemas.subscriptions import ItemRequest, NewSubscription
from cashline.services.billing import catalog, issuing
from cashline.services.billing.scheduled_changes import scheduled_change_of
from cashline.services.billing.settings import get_billing_settings
from cashline.services.tenancy import tenants

subscriptions = SubscriptionRepository()
counterparties = CounterpartyRepository()


@dataclass(frozen=True, slots=True)
class _Priced:
    """A requested item with the price it names and the terms the item keeps of it."""

    request: ItemRequest
    price: Price
    terms: PriceTerms


def _priced_items(tenant_id: str, items: list[ItemRequest]) -> list[_Priced]:
    """Each item's price and terms; an unknown, foreign, inactive or archived one names its item."""
    priced = []
    for index, item in enumerate(items):
        try:
            price, terms = catalog.price_with_terms(tenant_id, item.price_id)
        except (NotFoundError, UnprocessableError) as exc:
            raise type(exc)(exc.message, field=f"items.{index}.price_id") from exc
        if terms.usage_type is UsageType.LICENSED:
            try:
                amount_for_quantity(terms, item.quantity)
            except AmountLimitError as exc:
                raise UnprocessableError(str(exc), field=f"items.{index}.quantity") from exc
        priced.append(_Priced(item, price, terms))
    return priced


def _currency_and_cycle(priced: list[_Priced]) -> tuple[str, Interval, int]:
    """The one currency of all items and the one interval every recurring item shares."""
    currency = priced[0].terms.currency
    cycle: tuple[Interval, int] | None = None
    for index, item in enumerate(priced):
        terms = item.terms
        if terms.currency != currency:
            raise UnprocessableError(
                f"every price must be in {currency}; this one is in {terms.currency}",
                field=f"items.{index}.price_id",
            )
        if terms.interval is None:
            continue  # a one-off price: charged once, on the first paid invoice
        if cycle is None:
            cycle = (terms.interval, terms.interval_count)
        elif cycle != (terms.interval, terms.interval_count):
            raise UnprocessableError(
                f"every recurring price must bill every {cycle[1]} {cycle[0].value}",
                field=f"items.{index}.price_id",
            )
    if cycle is None:
        raise UnprocessableError("a subscription needs at least one recurring price", field="items")
    return currency, cycle[0], cycle[1]


def _discounts(request: NewSubscription) -> tuple[Discount, ...]:
    return tuple(
        Discount(
            discount_id=f"d{index + 1}",
            percent_basis_points=d.percent_basis_points,
            amount=d.amount,
            periods=d.periods,
        )
        for index, d in enumerate(request.discounts)
    )


def _days_until_due(tenant_id: str, request: NewSubscription) -> int | None:
    """send_invoice: as asked, else the tenant's billing setting; charged automatically: none."""
    if request.collection_method is CollectionMethod.CHARGE_AUTOMATICALLY:
        return None
    if request.days_until_due is not None:
        return request.days_until_due
    return get_billing_settings(tenant_id).days_until_due


def create_subscription(
    tenant_id: str, request: NewSubscription, *, actor: str, now: datetime
) -> Subscription:
    """Validate, mark the prices used and store the subscription in one transaction; when its first
    invoice is due by the tenant's today, issue it right away (the answer carries latest_invoice_id)."""
    timezone = tenants.get(tenant_id).timezone
    counterparties.get_profile(tenant_id, request.counterparty_id)  # 404 naming counterparty_id
    priced = _priced_items(tenant_id, request.items)
    currency, interval, count = _currency_and_cycle(priced)
    start_date = request.start_date or tenant_today(now, timezone)
    try:
        check_start_not_too_early(start_date, tenant_today(now, timezone), interval, count)
        start = plan_start(start_date, request.trial_end, request.billing_cycle_anchor, interval, count)
    except SubscriptionRuleError as exc:
        raise UnprocessableError(str(exc), field=exc.field) from exc
    sub = new_subscription(
        tenant_id=tenant_id,
        subscription_id=new_id("subscription"),
        counterparty_id=request.counterparty_id,
        currency=currency,
        status=SubscriptionStatus.TRIALING if request.trial_end else SubscriptionStatus.ACTIVE,
        items=tuple(
            SubscriptionItem(item_id=new_id("subscription_item"), terms=p.terms, quantity=p.request.quantity)
            for p in priced
        ),
        interval=interval,
        interval_count=count,
        start_date=start_date,
        trial_end=request.trial_end,
        billing_cycle_anchor=start.anchor,
        collection_method=request.collection_method,
        payment_method=request.payment_method.to_domain() if request.payment_method else None,
        days_until_due=_days_until_due(tenant_id, request),
        minimum_term_months=request.minimum_term_months,
        notice_days=request.notice_days,
        discounts=_discounts(request),
        metadata=dict(request.metadata or {}),
        current=start.current,
        next_invoice_on=start.next_invoice_on,
        now=now,
    )
    due_at = tenant_day_start(start.next_invoice_on, timezone)
    work = UnitOfWork("a price changed while the subscription was created; retry")
    work.add(lambda write: subscriptions.stage_create(write, sub, due_at=due_at))
    for p in priced:
        work.add(partial(catalog.stage_mark_used, price=p.price, now=now))
    work.commit()
    logger.info("subscription created", subscription_id=sub.subscription_id, actor=actor)
    return _issue_if_due(sub, due_at, now)


def _issue_if_due(sub: Subscription, due_at: datetime | None, now: datetime) -> Subscription:
    """Issue the invoice due by now (the sweep would, up to 15 minutes later) and read back.

    The subscription is stored by then and stays on the due index until its invoice exists, so an
    issue that fails here is not lost: the answer has no latest_invoice_id and the next sweep
    retries (a concurrent sweep that issued it first is the same case: the invoice exists once).
    """
    if due_at is not None and due_at <= now:
        try:
            issuing.issue_due_invoice(sub.tenant_id, sub.subscription_id, now=now)
        except CashlineError as exc:
            logger.warning(
                "invoice not issued at once; the sweep retries",
                subscription_id=sub.subscription_id,
                error=exc.error_type,
                reason=exc.message,
            )
    return subscriptions.get(sub.tenant_id, sub.subscription_id)


def get_subscription(tenant_id: str, subscription_id: str) -> Subscription:
    """NotFoundError naming `subscription_id` for an unknown or another tenant's id."""
    return subscriptions.get(tenant_id, subscription_id)


def subscription_with_scheduled_change(
    tenant_id: str, subscription_id: str
) -> tuple[Subscription, ScheduledChange | None]:
    """The subscription and its pending scheduled change or cancellation (one GetItem + one Query;
    for the single-subscription GET: lists leave the change out rather than Query per row)."""
    sub = subscriptions.get(tenant_id, subscription_id)
    return sub, scheduled_change_of(tenant_id, subscription_id)


def list_subscriptions(
    tenant_id: str,
    *,
    status: SubscriptionStatus | None = None,
    counterparty_id: str | None = None,
    limit: int = 20,
    starting_after: str | None = None,
) -> Page[Subscription]:
    return subscriptions.list(
        tenant_id, status=status, counterparty_id=counterparty_id, limit=limit, starting_after=starting_after
    )


def _checked(current: SubscriptionStatus, target: SubscriptionStatus) -> None:
    try:
        check_transition(current, target)
    except TransitionError as exc:
        raise ConflictError(str(exc), field="status") from exc


def _commit(before: Subscription, after: Subscription, *, due_at: datetime | Unset | None) -> None:
    work = UnitOfWork("the subscription was changed meanwhile; read it again")
    work.add(lambda write: subscriptions.stage_update(write, before, after, due_at=due_at))
    work.commit()


def pause_subscription(tenant_id: str, subscription_id: str, *, now: datetime) -> Subscription:
    """Status paused from the tenant's today; no invoice is issued while paused (module docstring).

    409 naming `status` from a status that cannot pause (canceled, incomplete, already paused), and
    naming `cancel_at` when a cancellation is scheduled (cancel it now instead).
    """
    before = subscriptions.get(tenant_id, subscription_id)
    _checked(before.status, SubscriptionStatus.PAUSED)
    if before.cancel_at is not None:
        raise ConflictError(
            f"the subscription is set to cancel on {before.cancel_at.isoformat()}; it cannot pause",
            field="cancel_at",
        )
    today = tenant_today(now, tenants.get(tenant_id).timezone)
    after = replace(
        before, status=SubscriptionStatus.PAUSED, paused_on=today, resumes_on=None, updated_at=now
    )
    _commit(before, after, due_at=None)
    return subscriptions.get(tenant_id, subscription_id)


def resume_subscription(
    tenant_id: str, subscription_id: str, *, on: date | None, now: datetime
) -> Subscription:
    """Back to active (or trialing) on `on`, default the tenant's today (module docstring).

    409 naming `status` unless paused; 422 naming `on` for a day before the pause or after today
    (a resume is done on its day: there is no scheduled resume).
    """
    before = subscriptions.get(tenant_id, subscription_id)
    if before.status is not SubscriptionStatus.PAUSED:
        raise ConflictError(
            f"only a paused subscription resumes; this one is {before.status.value}", field="status"
        )
    timezone = tenants.get(tenant_id).timezone
    today = tenant_today(now, timezone)
    day = on or today
    if day > today:
        raise UnprocessableError("on must not be after today; resume on the day itself", field="on")
    if before.paused_on is not None and day < before.paused_on:
        raise UnprocessableError(
            f"on must not be before the pause ({before.paused_on.isoformat()})", field="on"
        )
    after = resumed(before, day, now)
    due_at = None if after.next_invoice_on is None else tenant_day_start(after.next_invoice_on, timezone)
    _commit(before, after, due_at=due_at)
    return _issue_if_due(after, due_at, now)
