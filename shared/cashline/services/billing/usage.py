"""Metered usage: reports of a subscription item's usage (exactly once per idempotency key), and the
period totals the issuing engine bills in arrears.

A report's instant, as a business day in the tenant's zone, picks the billing period it counts in:
a day of the subscription's current period [current_period_start, current_period_end) is kept under
``current_period_start``, the key the issuing engine reads when it bills that period in arrears
(domain/billing/usage.py ``usage_period_start``: also the day after the period, before the sweep
opens the next one). Refused (422 naming the field): an item that is not metered (``item_id``); an
instant further ahead than five minutes, a day before the current period (already invoiced: a
period's usage is billed by the invoice that opens the next period), a day after it while paused or
from the cancellation day on (``timestamp``); ``increment`` on a last-value price (``action``).

A period's total is bounded: a report that would take it (or the amount it bills,
``amount_for_quantity``) past MAX_MINOR_UNITS is refused with 422 naming ``quantity``
(domain ``max_period_quantity``; an increment's transaction is conditioned on the total staying
within it, so concurrent reports cannot pass it together). Otherwise the next invoice could never be
issued. Example: 0.02 EUR a call allows 5 x 10^14 calls a period.

Exactly once: the idempotency key's claim and the total's change are one transaction. A repeat of
the key with the same body answers the first report (``replayed``); with another body it is a 409.
Concurrent reports on one item may cancel each other's transactions (DynamoDB's transaction
conflict): they are retried a few times, so 20 concurrent reports still add up exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial

from pynamodb.transactions import TransactWrite

from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.billing_usage import UsageRepository
from cashline.dal.transactions import Stage
from cashline.domain.billing.catalog import UsageAggregation, UsageType
from cashline.domain.billing.subscriptions import (
    PendingLine,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    tenant_today,
)
from cashline.domain.billing.usage import (
    UsageAction,
    UsagePeriodError,
    UsageRecord,
    max_period_quantity,
    request_hash,
    too_far_ahead,
    usage_billed_early,
    usage_lines,
    usage_period_start,
)
from cashline.errors import ConflictError, UnprocessableError, ValidationError
from cashline.ids import new_id
from cashline.schemas.subscription_changes import UsageRecordOutput, UsageRequest
from cashline.services.access import get_tenant

ATTEMPTS = 8

subscriptions = SubscriptionRepository()
usage = UsageRepository()


@dataclass(frozen=True, slots=True)
class UsageRecordView:
    record: UsageRecord
    replayed: bool  # True: a repeat of the key; the answer is the first report's


def usage_output(view: UsageRecordView) -> UsageRecordOutput:
    r = view.record
    return UsageRecordOutput(
        id=r.usage_id,
        subscription_item_id=r.item_id,
        subscription_id=r.subscription_id,
        quantity=r.quantity,
        action=r.action,
        timestamp=r.timestamp,
        period_start=r.period_start,
        idempotency_key=r.idempotency_key,
    )


def record_usage(
    tenant_id: str,
    item_id: str,
    request: UsageRequest,
    *,
    idempotency_key: str | None = None,
    now: datetime,
) -> UsageRecordView:
    """Record one usage report of a metered item (module docstring). `idempotency_key`: the
    Idempotency-Key header, else the body's field; one of them is required (400)."""
    key = _key_of(idempotency_key, request.idempotency_key)
    sub = subscriptions.subscription_of_item(tenant_id, item_id)
    item = _metered_item(sub, item_id)
    action = _action_of(item, request.action)
    fingerprint = request_hash(request.quantity, request.timestamp, action)
    first = usage.claim(tenant_id, item_id, key)
    if first is not None:
        return _replay(first, fingerprint)
    if sub.status is SubscriptionStatus.CANCELED:
        raise ConflictError("the subscription is canceled", field="item_id")
    if too_far_ahead(request.timestamp, now):
        raise UnprocessableError("the usage is dated more than five minutes ahead", field="timestamp")
    period_start = _open_period_start(sub, request.timestamp, get_tenant(tenant_id).timezone)
    record = UsageRecord(
        tenant_id=tenant_id,
        usage_id=new_id("usage_record"),
        subscription_id=sub.subscription_id,
        item_id=item_id,
        quantity=request.quantity,
        action=action,
        timestamp=request.timestamp.astimezone(UTC),  # as a repeat reads it back: the same answer
        period_start=period_start,
        idempotency_key=key,
        request_hash=fingerprint,
        created_at=now,
    )
    return _write(record, _max_total(item, request.quantity))


def usage_for_period(tenant_id: str, item_ids: Sequence[str], period_start: date) -> dict[str, int]:
    """item id -> usage reported for the period starting `period_start` (0 when none): one
    BatchGetItem per 100 items. For the issuing engine (metered items in arrears)."""
    return usage.totals(tenant_id, item_ids, period_start)


def stage_usage_billed(
    write: TransactWrite, tenant_id: str, totals: dict[str, int], period_start: date
) -> None:
    """For the issuing engine, in its invoice's transaction: the totals `usage_for_period` gave are
    still the totals (a report committed in between makes the issue a conflict, retried)."""
    usage.stage_totals_unchanged(write, tenant_id, totals, period_start)


@dataclass(frozen=True, slots=True)
class UsageSoFar:
    """The usage of metered items up to a day, as invoice lines, and the stage that conditions the
    caller's transaction on the totals it read (a report committed in between: a conflict, retry)."""

    lines: tuple[PendingLine, ...]
    stage: Stage | None


def usage_so_far(sub: Subscription, items: Sequence[SubscriptionItem], until: date) -> UsageSoFar:
    """The usage of ``items`` (the metered ones) in the current period up to ``until`` (exclusive),
    for a cancellation's final document or a deleted metered item's pending line: one BatchGetItem.
    Nothing during a trial (free) or without metered items."""
    metered = [item for item in items if item.terms.usage_type is UsageType.METERED]
    if not metered or not usage_billed_early(sub):
        return UsageSoFar((), None)
    start = sub.current_period_start
    totals = usage.totals(sub.tenant_id, [item.item_id for item in metered], start)
    lines = usage_lines(metered, totals, start, min(until, sub.current_period_end))
    return UsageSoFar(
        lines, partial(stage_usage_billed, tenant_id=sub.tenant_id, totals=totals, period_start=start)
    )


def _key_of(header: str | None, body: str | None) -> str:
    if header is not None and body is not None and header != body:
        raise ValidationError(
            "the Idempotency-Key header and idempotency_key differ", field="idempotency_key"
        )
    key = header if header is not None else body
    if not key:
        raise ValidationError(
            "an Idempotency-Key header or idempotency_key is required", field="idempotency_key"
        )
    if len(key) > 255 or not key.isascii() or not key.isprintable() or " " in key:
        raise ValidationError(
            "idempotency_key: up to 255 printable ASCII characters", field="idempotency_key"
        )
    return key


def _metered_item(sub: Subscription, item_id: str) -> SubscriptionItem:
    item = sub.item(item_id)
    if item is None:  # the lookup names a subscription that no longer holds the item
        raise UnprocessableError("the item is no longer part of its subscription", field="item_id")
    if item.terms.usage_type is not UsageType.METERED:
        raise UnprocessableError("usage is reported only for metered items", field="item_id")
    return item


def _action_of(item: SubscriptionItem, asked: str | None) -> UsageAction:
    last_value = item.terms.aggregation is UsageAggregation.LAST
    if asked is None:
        return UsageAction.SET if last_value else UsageAction.INCREMENT
    action = UsageAction(asked)
    if last_value and action is UsageAction.INCREMENT:
        raise UnprocessableError("the price bills the last value reported: use set", field="action")
    return action


def _open_period_start(sub: Subscription, timestamp: datetime, timezone: str) -> date:
    """The period the report counts in (its total's key); 422 naming `timestamp` when none is open."""
    try:
        return usage_period_start(sub, tenant_today(timestamp, timezone))
    except UsagePeriodError as exc:
        raise UnprocessableError(str(exc), field="timestamp") from exc


def _check_open(sub: Subscription, record: UsageRecord) -> None:
    """After a lost transaction: 409 when the subscription was canceled meanwhile, 422 when the item
    was deleted or the subscription has moved past the report's period (their invoices billed it)."""
    if sub.status is SubscriptionStatus.CANCELED:
        raise ConflictError("the subscription is canceled", field="item_id")
    _metered_item(sub, record.item_id)
    if record.period_start < sub.current_period_start:
        raise UnprocessableError(
            f"the usage period starting {record.period_start.isoformat()} is already invoiced",
            field="timestamp",
        )


def _replay(first: UsageRecord, fingerprint: str) -> UsageRecordView:
    if first.request_hash != fingerprint:
        raise ConflictError("the idempotency key was used for another usage report", field="idempotency_key")
    return UsageRecordView(first, replayed=True)


def _max_total(item: SubscriptionItem, quantity: int) -> int:
    """The item's largest period total (domain ``max_period_quantity``); 422 naming ``quantity``
    when this report alone passes it."""
    limit = max_period_quantity(item.terms)
    if quantity > limit:
        raise UnprocessableError(_too_much(limit), field="quantity")
    return limit


def _too_much(limit: int) -> str:
    return f"the period's usage would pass {limit} units, more than an invoice can bill"


def _write(record: UsageRecord, max_total: int) -> UsageRecordView:
    """Claim and count, retrying when a concurrent report's transaction cancelled ours."""
    for attempt in range(ATTEMPTS):
        try:
            usage.record(record, change_total=not _superseded(record), max_total=max_total)
            return UsageRecordView(record, replayed=False)
        except ConflictError:
            first = usage.claim(record.tenant_id, record.item_id, record.idempotency_key)
            if first is not None:
                return _replay(first, record.request_hash)
            # Perhaps the period was invoiced since the subscription was read: 422 if so.
            sub = subscriptions.get(record.tenant_id, record.subscription_id)
            _check_open(sub, record)
            _check_room(record, max_total)
            # Backoff with jitter: the reports that collided retry at different moments.
            time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311  (jitter, not a secret)
    raise ConflictError("usage reports on this item collide; retry", field="item_id")


def _check_room(record: UsageRecord, max_total: int) -> None:
    """After a lost transaction: 422 naming ``quantity`` when the increment no longer fits."""
    if record.action is not UsageAction.INCREMENT:
        return
    total = usage.totals(record.tenant_id, [record.item_id], record.period_start)[record.item_id]
    if total + record.quantity > max_total:
        raise UnprocessableError(_too_much(max_total), field="quantity")


def _superseded(record: UsageRecord) -> bool:
    """A set older than the one stored keeps the stored value (only its key is claimed)."""
    if record.action is not UsageAction.SET:
        return False
    last_at = usage.last_at(record.tenant_id, record.item_id, record.period_start)
    return last_at is not None and last_at >= record.timestamp
