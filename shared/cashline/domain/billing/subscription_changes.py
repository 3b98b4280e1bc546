"""Changing a subscription's items mid-period, and cancelling it: the proration lines, by calendar day.

Plain Python: no storage, no clock reads (the caller passes the effective day).

Proration follows domain/billing/proration.py (``change_lines``): for every licensed item whose price
or quantity changes on day ``effective`` of the current period, the unused part of the old
full-period amount is credited and the rest of the period of the new one charged, each
``amount x R / N`` half-up once (R = days from ``effective`` to the current period's end, N = days of
the anchor's whole cycle period containing ``effective``: a short first or resumed period is
prorated against the full cycle, as it was charged; ``proration_basis``). A credit is capped
by what the subscription records as actually charged for the item in the period
(``period_charged``) minus what earlier changes already credited (``period_credited``), so a chain of
changes in one period never credits more than was billed. The new charge is added to
``period_charged`` and the credit to ``period_credited``, so the next change prorates from them.

Metered items are billed in arrears from reported usage and are never prorated; the trial and a
period not invoiced yet charge nothing, so they credit and charge nothing either.

Worked example (the issue's, also a test): 30.00 EUR/month from 1 January, moved to 90.00 EUR/month
effective 16 January (R = 16, N = 31): credit -1548, charge 4645, net 3097 (+ VAT 19 % 588 = 3685).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from cashline.domain.billing.catalog import PriceTerms, UsageType, amount_for_quantity
from cashline.domain.billing.periods import Period, period_containing
from cashline.domain.billing.proration import ProrationLine, change_lines
from cashline.domain.billing.subscriptions import (
    PendingLine,
    ProrationBehavior,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
)


class ChangeKind(StrEnum):
    CHANGE = "change"
    CANCEL = "cancel"


class ChangeRuleError(ValueError):
    """A change the subscription cannot take; ``field`` names the request field at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RequestedItem:
    """One line of a change as the client asked for it (kept as is while the change is scheduled,
    resolved against the catalog when it applies)."""

    item_id: str | None
    price_id: str | None
    quantity: int | None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One line of a change resolved against the catalog: ``terms`` is the new price's (None keeps
    the item's own), ``quantity`` None keeps the item's quantity (1 for a new item)."""

    item_id: str | None
    terms: PriceTerms | None
    quantity: int | None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ScheduledChange:
    """A change or cancellation kept until ``effective_date`` (at most one per subscription)."""

    tenant_id: str
    subscription_id: str
    change_id: str
    kind: ChangeKind
    effective_date: date
    items: tuple[RequestedItem, ...]
    proration: ProrationBehavior | None  # a change's; None: the default when it applies
    prorate: bool  # a cancellation's: credit the unused licensed part
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class ProratedChange:
    """The subscription's items after a change, the proration lines it makes, and the updated
    per-item charged/credited sums of the current period."""

    items: tuple[SubscriptionItem, ...]
    lines: tuple[PendingLine, ...]
    period_charged: dict[str, int]
    period_credited: dict[str, int]

    @property
    def net(self) -> int:
        return sum(line.amount for line in self.lines)


def _prorated(item: SubscriptionItem) -> bool:
    return item.terms.usage_type is UsageType.LICENSED and item.terms.interval is not None


def _period_amount_of(item: SubscriptionItem | None) -> int:
    if item is None or not _prorated(item):
        return 0
    return amount_for_quantity(item.terms, item.quantity)


def period_amount(items: Sequence[SubscriptionItem]) -> int:
    """The full-period amount of the licensed recurring items (what an upgrade is measured by)."""
    return sum(_period_amount_of(item) for item in items)


def is_downgrade(before: Sequence[SubscriptionItem], after: Sequence[SubscriptionItem]) -> bool:
    """True when the new items cost less per period than the old ones (a downgrade defaults to the
    period's end without proration; anything else, upgrades included, to today)."""
    return period_amount(after) < period_amount(before)


def changed_items(
    sub: Subscription, changes: Sequence[ItemChange], new_item_id: Callable[[], str]
) -> tuple[SubscriptionItem, ...]:
    """The subscription's items with ``changes`` applied (order kept, new items appended).

    Raises ChangeRuleError naming ``items.<n>.<field>``: an unknown item id, a price in another
    currency or billing interval, or no item left.
    """
    by_id = {item.item_id: item for item in sub.items}
    added: list[SubscriptionItem] = []
    for index, change in enumerate(changes):
        if change.terms is not None:
            _check_compatible(sub, change.terms, f"items.{index}.price_id")
        if change.item_id is None:
            if change.terms is None:
                raise ChangeRuleError("a new item needs a price_id", f"items.{index}.price_id")
            added.append(SubscriptionItem(new_item_id(), change.terms, change.quantity or 1))
            continue
        current = by_id.get(change.item_id)
        if current is None:
            raise ChangeRuleError("no such item on this subscription", f"items.{index}.id")
        if change.deleted:
            del by_id[change.item_id]
            continue
        by_id[change.item_id] = replace(
            current,
            terms=change.terms or current.terms,
            quantity=current.quantity if change.quantity is None else change.quantity,
        )
    items = tuple(item for item in (by_id.get(i.item_id) for i in sub.items) if item is not None)
    result = items + tuple(added)
    if not result:
        raise ChangeRuleError("a subscription keeps at least one item; cancel it instead", "items")
    _check_prices_once(result, changes)
    return result


def _check_prices_once(items: Sequence[SubscriptionItem], changes: Sequence[ItemChange]) -> None:
    """Each price once per subscription, as at its creation (a second seat is a quantity)."""
    prices = [item.terms.price_id for item in items]
    for index, change in enumerate(changes):
        if change.terms is not None and prices.count(change.terms.price_id) > 1:
            raise ChangeRuleError(
                "the subscription already has this price; change that item's quantity instead",
                f"items.{index}.price_id",
            )


def _check_compatible(sub: Subscription, terms: PriceTerms, field: str) -> None:
    if terms.currency != sub.currency:
        raise ChangeRuleError(f"the price is in {terms.currency}, the subscription in {sub.currency}", field)
    if terms.interval is None:
        raise ChangeRuleError("a one-off price cannot be added to a subscription by a change", field)
    if (terms.interval, terms.interval_count) != (sub.interval, sub.interval_count):
        raise ChangeRuleError(
            f"the price bills every {terms.interval_count} {terms.interval.value}, the subscription every "
            f"{sub.interval_count} {sub.interval.value}",
            field,
        )


def current_period(sub: Subscription) -> Period:
    return Period(sub.current_period_start, sub.current_period_end)


def proration_basis(sub: Subscription, effective: date) -> Period:
    """The period whose day count N prorates a change on ``effective``: the whole cycle period of the
    anchor containing that day, not the current period itself, which is shorter when it is a short
    first period (start before the anchor) or began with a resume. Its end is the current period's
    end, so R = current_period_end - effective. Worked example: started 15 Mar, anchored 1 Apr,
    monthly, 30.00 EUR charged 3000 x 17 / 31 = 16.45 for [15 Mar, 1 Apr); quantity 1 -> 2 on 15 Mar:
    credit min(3000 x 17 / 31, 16.45) = -16.45, charge 6000 x 17 / 31 = 32.90, net 16.45 (not
    60.00 - 16.45 = 43.55, which N = 17 would give). Should the current period ever not end on a
    cycle boundary, it is its own basis (as before)."""
    period = current_period(sub)
    cycle = period_containing(sub.billing_cycle_anchor, sub.interval, sub.interval_count, effective)
    return cycle if cycle.end_exclusive == period.end_exclusive else period


def prorates_on(sub: Subscription, effective: date) -> bool:
    """Whether a change on ``effective`` has anything to prorate: the current period was invoiced
    (its advance charge exists), ``effective`` lies inside it, and the subscription is billing
    (not trialing, paused or canceled)."""
    billing = sub.status in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.INCOMPLETE,
    )
    invoiced = sub.next_invoice_on is None or sub.next_invoice_on >= sub.current_period_end
    return billing and invoiced and effective in current_period(sub)


def prorate_change(
    sub: Subscription, new_items: Sequence[SubscriptionItem], effective: date, *, prorate: bool
) -> ProratedChange:
    """The proration of moving ``sub`` from its items to ``new_items`` on ``effective``.

    With ``prorate`` False, or when nothing is prorated on that day (``prorates_on``), no lines.
    Lines are per item whose price or quantity changed: a credit (negative, the old price's tax
    behavior) and a charge (positive, the new price's), zero lines left out.
    """
    charged = dict(sub.period_charged)
    credited = dict(sub.period_credited)
    if not (prorate and prorates_on(sub, effective)):
        return ProratedChange(tuple(new_items), (), charged, credited)
    period = current_period(sub)
    basis = proration_basis(sub, effective)
    old_by_id = {item.item_id: item for item in sub.items}
    new_by_id = {item.item_id: item for item in new_items}
    lines: list[PendingLine] = []
    for item_id in [*old_by_id, *(i for i in new_by_id if i not in old_by_id)]:
        old, new = old_by_id.get(item_id), new_by_id.get(item_id)
        if _same_terms(old, new):
            continue
        credit, charge = change_lines(
            _period_amount_of(old),
            _period_amount_of(new),
            basis,
            effective,
            credited.get(item_id, 0),
            old_charged=charged.get(item_id, 0),
        )
        if old is not None and credit.amount:
            lines.append(_pending(old, credit, effective, period))
            credited[item_id] = credited.get(item_id, 0) - credit.amount
        if new is not None and charge.amount:
            lines.append(_pending(new, charge, effective, period))
            charged[item_id] = charged.get(item_id, 0) + charge.amount
    return ProratedChange(tuple(new_items), tuple(lines), charged, credited)


def _same_terms(old: SubscriptionItem | None, new: SubscriptionItem | None) -> bool:
    if old is None or new is None:
        return False
    return old.terms == new.terms and old.quantity == new.quantity


def _pending(item: SubscriptionItem, line: ProrationLine, effective: date, period: Period) -> PendingLine:
    quantity = f" x {item.quantity}" if item.quantity != 1 else ""
    return PendingLine(
        description=f"{item.terms.product_name}{quantity}: {line.description}",
        amount=line.amount,
        item_id=item.item_id,
        price_id=item.terms.price_id,
        tax_category=item.terms.tax_category,
        tax_behavior=item.terms.tax_behavior,
        service_start=effective,
        service_end=period.end_exclusive,
    )


def cancellation_credit(sub: Subscription, effective: date, *, prorate: bool) -> ProratedChange:
    """The credit for the unused licensed part when ``sub`` ends on ``effective`` (its first day no
    longer served). No items remain; the lines are credits only (capped as in ``prorate_change``)."""
    return prorate_change(sub, (), effective, prorate=prorate)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def minimum_term_end(sub: Subscription) -> date | None:
    """The first day the subscription may end on: start + minimum_term_months (month-end clamped:
    a 12-month term from 29 Feb 2028 ends on 28 Feb 2029), or None without a minimum term."""
    if not sub.minimum_term_months:
        return None
    return _add_months(sub.start_date, sub.minimum_term_months)


def check_cancellation_date(sub: Subscription, ends_on: date, *, today: date, force: bool) -> None:
    """Refuse (ChangeRuleError naming ``at``) an end inside the minimum term or the notice period,
    unless forced. Example: started 1 Jan 2027 with a 12-month term, ending on 1 Jul 2027 is refused,
    on 1 Jan 2028 accepted; with notice_days 30 on 10 Mar, the earliest end is 9 Apr."""
    if force:
        return
    term_end = minimum_term_end(sub)
    if term_end is not None and ends_on < term_end:
        raise ChangeRuleError(
            f"the minimum term runs until {term_end.isoformat()}; pass force to cancel earlier", "at"
        )
    if sub.notice_days and (ends_on - today).days < sub.notice_days:
        raise ChangeRuleError(
            f"the notice period is {sub.notice_days} days; pass force to cancel at shorter notice", "at"
        )
