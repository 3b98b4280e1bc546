"""What a subscription's invoice for one period holds, before tax: the pure composition the issuing
engine uses and the oracle its tests compare against.

Plain Python: no storage, no clock reads (the caller passes the period and the usage it read).

An invoice for the period P of a subscription holds, in this order:

1. **licensed** items for P, in advance: ``amount_for_quantity(terms, quantity)``. When P is a short
   first period (the start date lies before the billing-cycle anchor: P runs from the start date to
   the anchor), the amount is ``prorate(amount, P.days, full.days)`` where ``full`` is the whole
   cycle period containing P's start, half-up once (domain/billing/proration.py). One-off prices (no
   interval) are charged once, on the first paid invoice.
2. **metered** items in arrears: the usage of the period invoiced before P (the subscription's
   current period; the caller passes it, item id -> aggregated quantity), priced with
   ``amount_for_quantity``. Nothing for usage during a trial.
3. **proration** lines waiting on the subscription (``pending_lines``), as they are.
4. **discount** lines, negative, on the licensed + metered base only (never on proration lines).

Discounts. Each discount not yet exhausted reduces the base, one after the other in the
subscription's order, on what the discounts before it left:

* percent: ``remaining x basis_points / 10000``, rounded half-up once per invoice;
* amount: the amount, capped at what remains, so the base never goes below 0.

A base mixing tax categories or tax behaviours gets one discount line per (category, behaviour)
group, so each rate is taxed on its own reduced net: the discount is split over the groups in
proportion to their base, half-up, the last group taking the remainder so the lines sum exactly to
the discount. Worked example: licensed 30.00 + metered 12.35 = 42.35, 25 % off -> 42.35 x 2500 /
10000 = 10.5875 -> -10.59; then 5.00 off -> -5.00; base after discounts 26.76 EUR.

A discount counts as applied (``discounts_applied``; the subscription adds one to its
``applied_periods``) on every invoice whose base is positive, even when its own share is 0 because
earlier discounts used the base up. In a trial period the plan holds no line at all.

``period_charged`` is what the plan charges each licensed item in advance for P, net of its share of
the discounts: later proration in P credits at most that, so a credit never exceeds what the customer
was charged. Each (tax category, behaviour) group's discount is allocated over that group's licensed
and metered lines in proportion to their amounts by largest remainder (``allocate``): exact, the
shares sum to the group's discount. Worked example: licensed A 30.00 and B 10.00, 25 % off -> -10.00
-> A 7.50, B 2.50 -> charged A 22.50, B 7.50; a 100 % discount charges every item 0, so cancelling
with a prorated credit credits nothing.

A plan netting negative (proration credits larger than the period's charges) is split by
``split_credit``: its negative proration lines become a credit note, the rest the invoice (never an
invoice with a negative total; services/billing/issuing.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from cashline.domain.billing.catalog import (
    PriceTerms,
    TaxBehavior,
    TaxCategory,
    UsageType,
    amount_for_quantity,
)
from cashline.domain.billing.discount_shares import net_charged
from cashline.domain.billing.periods import Period, period_containing
from cashline.domain.billing.proration import BASIS_POINTS, prorate
from cashline.domain.billing.subscription_changes import (
    ChangeKind,
    ItemChange,
    ScheduledChange,
    changed_items,
)
from cashline.domain.billing.subscriptions import Discount, PendingLine, Subscription, SubscriptionItem
from cashline.domain.money import AmountLimitError

LineKind = Literal["licensed", "metered", "proration", "discount"]


class ItemAmountLimitError(AmountLimitError):
    """An item's amount beyond MAX_MINOR_UNITS (a huge quantity or usage), naming the item: the
    preview answers 422 on it, the issuing sweep counts it and skips the subscription."""

    def __init__(self, item_id: str, reason: str) -> None:
        super().__init__(f"subscription item {item_id}: {reason}")
        self.item_id = item_id


def _item_amount(item: SubscriptionItem, quantity: int) -> int:
    try:
        return amount_for_quantity(item.terms, quantity)
    except AmountLimitError as exc:
        raise ItemAmountLimitError(item.item_id, str(exc)) from exc


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One invoice line before tax. ``amount`` is net for an exclusive price, gross for an inclusive
    one, signed (credits and discounts negative); ``service_end`` is exclusive."""

    description: str
    quantity: int
    unit_amount: int
    amount: int
    item_id: str | None
    price_id: str | None
    tax_category: TaxCategory
    tax_behavior: TaxBehavior
    service_start: date
    service_end: date
    kind: LineKind


@dataclass(frozen=True, slots=True)
class PlannedInvoice:
    """The invoice of ``period``: its lines, the discounts it used and what it charged each item."""

    period: Period
    lines: tuple[PlannedLine, ...]
    discounts_applied: tuple[str, ...]
    period_charged: dict[str, int]

    @property
    def amount(self) -> int:
        """Sum of the lines (net and gross mixed when behaviours are mixed; before tax)."""
        return sum(line.amount for line in self.lines)


def first_paid_day(sub: Subscription) -> date:
    """The first day the subscription is charged for: the trial's end, else its start."""
    return sub.trial_end if sub.trial_end is not None and sub.trial_end > sub.start_date else sub.start_date


def is_trial(sub: Subscription, period: Period) -> bool:
    """Whether ``period`` lies inside the subscription's trial (nothing is charged for it)."""
    return period.start < first_paid_day(sub)


def period_starting(sub: Subscription, start: date) -> Period:
    """The billing period that starts on ``start``: up to the next cycle boundary, so a start before
    the anchor gives the short first period [start, anchor)."""
    cycle = period_containing(sub.billing_cycle_anchor, sub.interval, sub.interval_count, start)
    return Period(start, cycle.end_exclusive)


def previous_period(sub: Subscription, period: Period) -> Period | None:
    """The period whose metered usage ``period``'s invoice bills in arrears: the subscription's
    current period, the one last invoiced (usage is kept under its start), or None when there is none
    before ``period`` (the first paid period) or it was the trial (usage in a trial is free).

    Normally it ends where ``period`` begins. After a pause it ended earlier (its usage is billed by
    the first invoice after the resume); a cancellation inside it bills it on the cancellation day."""
    current_start, current_end = sub.current_period_start, sub.current_period_end
    if current_start >= period.start or current_end <= current_start or current_start < first_paid_day(sub):
        return None
    return Period(current_start, current_end)


def plan_period_invoice(
    sub: Subscription,
    period: Period,
    usage: Mapping[str, int],
    *,
    charge_in_advance: bool = True,
) -> PlannedInvoice:
    """The lines of ``sub``'s invoice for ``period`` (module docstring). ``usage``: item id ->
    quantity used in the period before (items not in it used nothing). ``charge_in_advance`` False
    (a subscription ending at ``period.start``) leaves out the licensed items of ``period`` and
    bills only what is owed for the past: usage and pending proration lines."""
    if is_trial(sub, period):
        return PlannedInvoice(period, (), (), {})
    licensed = _licensed_lines(sub, period) if charge_in_advance else []
    metered = _metered_lines(sub, period, usage)
    base = [*licensed, *metered]
    discount_lines, applied = _discount_lines(sub.discounts, base, period)
    prorations = [planned_from_pending(line) for line in sub.pending_lines]
    charged = net_charged(base, discount_lines)
    return PlannedInvoice(
        period=period,
        lines=(*licensed, *metered, *prorations, *discount_lines),
        discounts_applied=applied,
        period_charged=charged,
    )


def split_credit(lines: Sequence[PlannedLine]) -> tuple[tuple[PlannedLine, ...], tuple[PlannedLine, ...]]:
    """(invoice lines, credit lines) of a plan. Lines netting 0 or more are all the invoice's. When
    they net negative, the negative proration lines are credited on their own (a credit note) and the
    rest is the invoice, which then nets 0 or more (discounts never take its base below 0). Worked
    example: a -60.00 proration waiting and the next month's 30.00 -> invoice 30.00 + VAT, credit note
    60.00 + VAT, its total taken off the invoice first through the credit balance."""
    if sum(line.amount for line in lines) >= 0:
        return tuple(lines), ()
    credits = tuple(line for line in lines if line.kind == "proration" and line.amount < 0)
    rest = tuple(line for line in lines if not (line.kind == "proration" and line.amount < 0))
    return rest, credits


def _quantity_and_unit(quantity: int, amount: int, terms: PriceTerms) -> tuple[int, int]:
    """Quantity and unit price to print: the price's own when they multiply to the amount exactly
    (an e-invoice checks quantity x price = line amount), else 1 x the amount."""
    if terms.unit_amount is not None and quantity * terms.unit_amount == amount:
        return quantity, terms.unit_amount
    return 1, amount


def _line(
    terms: PriceTerms, item_id: str, quantity: int, amount: int, span: Period, kind: LineKind, label: str
) -> PlannedLine:
    shown_quantity, unit = _quantity_and_unit(quantity, amount, terms)
    return PlannedLine(
        description=label,
        quantity=shown_quantity,
        unit_amount=unit,
        amount=amount,
        item_id=item_id,
        price_id=terms.price_id,
        tax_category=terms.tax_category,
        tax_behavior=terms.tax_behavior,
        service_start=span.start,
        service_end=span.end_exclusive,
        kind=kind,
    )


def _span_text(span: Period) -> str:
    return f"{span.start.isoformat()} to {span.last_day.isoformat()}"


def _licensed_lines(sub: Subscription, period: Period) -> list[PlannedLine]:
    cycle = period_containing(sub.billing_cycle_anchor, sub.interval, sub.interval_count, period.start)
    lines: list[PlannedLine] = []
    for item in sub.items:
        terms = item.terms
        if terms.usage_type is not UsageType.LICENSED:
            continue
        full = _item_amount(item, item.quantity)
        if terms.interval is None:
            # A one-off price (a setup fee, an add-on bought once): on the first paid invoice only.
            if period.start != first_paid_day(sub):
                continue
            amount, label = full, f"{terms.product_name} x {item.quantity}"
        elif period.days < cycle.days:
            amount = prorate(full, period.days, cycle.days)
            label = (
                f"{terms.product_name} x {item.quantity}, {_span_text(period)} "
                f"({period.days} of {cycle.days} days)"
            )
        else:
            amount, label = full, f"{terms.product_name} x {item.quantity}, {_span_text(period)}"
        lines.append(_line(terms, item.item_id, item.quantity, amount, period, "licensed", label))
    return lines


def _metered_lines(sub: Subscription, period: Period, usage: Mapping[str, int]) -> list[PlannedLine]:
    before = previous_period(sub, period)
    if before is None:
        return []
    lines: list[PlannedLine] = []
    for item in sub.items:
        quantity = usage.get(item.item_id, 0)
        if item.terms.usage_type is not UsageType.METERED or quantity <= 0:
            continue
        amount = _item_amount(item, quantity)
        label = f"{item.terms.product_name}: {quantity} used {_span_text(before)}"
        lines.append(_line(item.terms, item.item_id, quantity, amount, before, "metered", label))
    return lines


def planned_from_pending(line: PendingLine, *, sign: int = 1) -> PlannedLine:
    """A subscription's pending (proration) line as a planned line; ``sign=-1`` turns it into the
    credit a credit note carries (services/billing/credit.py)."""
    return PlannedLine(
        description=line.description,
        quantity=1,
        unit_amount=sign * line.amount,
        amount=sign * line.amount,
        item_id=line.item_id,
        price_id=line.price_id,
        tax_category=line.tax_category,
        tax_behavior=line.tax_behavior,
        service_start=line.service_start,
        service_end=line.service_end,
        kind="proration",
    )


def discount_amount(discount: Discount, remaining: int) -> int:
    """What ``discount`` takes off a base of which ``remaining`` (>= 0) is left: percent half-up
    once, amount capped at ``remaining``. 2500 bp of 4235 -> 1059 (1058.75 rounded half-up)."""
    if discount.percent_basis_points is not None:
        return min(
            (2 * remaining * discount.percent_basis_points + BASIS_POINTS) // (2 * BASIS_POINTS), remaining
        )
    return min(discount.amount or 0, remaining)


def _discount_lines(
    discounts: Sequence[Discount], base: Sequence[PlannedLine], period: Period
) -> tuple[list[PlannedLine], tuple[str, ...]]:
    remaining = sum(line.amount for line in base)
    if remaining <= 0:
        return [], ()
    groups = _groups(base)
    lines: list[PlannedLine] = []
    applied: list[str] = []
    for discount in discounts:
        if discount.exhausted:
            continue
        applied.append(discount.discount_id)
        taken = discount_amount(discount, remaining)
        if taken == 0:
            continue
        for (category, behavior), share in _split(taken, groups):
            lines.append(_discount_line(discount, category, behavior, share, period))
        remaining -= taken
    return lines, tuple(applied)


def _groups(base: Sequence[PlannedLine]) -> dict[tuple[TaxCategory, TaxBehavior], int]:
    """Base amount per (tax category, tax behaviour), in order of first appearance."""
    groups: dict[tuple[TaxCategory, TaxBehavior], int] = {}
    for line in base:
        key = (line.tax_category, line.tax_behavior)
        groups[key] = groups.get(key, 0) + line.amount
    return groups


def _split(
    amount: int, groups: Mapping[tuple[TaxCategory, TaxBehavior], int]
) -> list[tuple[tuple[TaxCategory, TaxBehavior], int]]:
    """``amount`` split over the groups in proportion to their base, half-up; the last group takes
    the remainder so the shares sum to ``amount`` exactly. Groups with no base get nothing."""
    keys = [key for key, value in groups.items() if value > 0]
    total = sum(groups[key] for key in keys)
    shares: list[tuple[tuple[TaxCategory, TaxBehavior], int]] = []
    left = amount
    for index, key in enumerate(keys):
        share = left if index == len(keys) - 1 else min(prorate(amount, groups[key], total), left)
        shares.append((key, share))
        left -= share
    return [(key, share) for key, share in shares if share]


def _discount_line(
    discount: Discount, category: TaxCategory, behavior: TaxBehavior, share: int, period: Period
) -> PlannedLine:
    what = (
        f"{_percent_text(discount.percent_basis_points)} % off"
        if discount.percent_basis_points is not None
        else "amount off"
    )
    return PlannedLine(
        description=f"Discount {discount.discount_id} ({what})",
        quantity=1,
        unit_amount=-share,
        amount=-share,
        item_id=None,
        price_id=None,
        tax_category=category,
        tax_behavior=behavior,
        service_start=period.start,
        service_end=period.end_exclusive,
        kind="discount",
    )


def _percent_text(basis_points: int) -> str:
    """2500 -> "25", 1250 -> "12.5", 333 -> "3.33" (integer arithmetic: no float near money)."""
    whole, hundredths = divmod(basis_points, 100)
    return f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".")


def with_scheduled(
    sub: Subscription, change: ScheduledChange | None, resolved: Sequence[ItemChange] = ()
) -> Subscription:
    """The subscription as its next invoice will see it once the pending scheduled change or
    cancellation dated on or before ``next_invoice_on`` is applied (the upcoming-invoice preview).

    A cancellation: ``cancel_at`` its day, so the next invoice charges nothing in advance and bills
    only what is owed (usage, waiting proration lines). A change: the items as ``resolved`` (the
    change's lines against the catalog) makes them; a change on the boundary itself (a downgrade at
    the period's end) prorates nothing, so this is exact; one dated inside the current period will
    also add its proration lines when it applies, which the preview does not show. Later changes
    and other subscriptions' are not applied (the subscription is returned as it is)."""
    due = sub.next_invoice_on
    if change is None or due is None or change.effective_date > due:
        return sub
    if change.kind is ChangeKind.CANCEL:
        return (
            sub
            if sub.cancel_at is not None and sub.cancel_at <= change.effective_date
            else (replace(sub, cancel_at=change.effective_date))
        )
    counter = iter(range(1, len(resolved) + 1))
    items = changed_items(sub, resolved, lambda: f"si_upcoming_{next(counter)}")
    return replace(sub, items=items)
