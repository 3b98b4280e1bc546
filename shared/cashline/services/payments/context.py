"""What every payment use case shares: the context it runs in, its outcome, the retry when something
changed meanwhile, and `commit`, the one place a payment's change is written and its reactions run."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from cashline.adapters.payout_details import PayoutComposition
from cashline.dal.alert_repository import Alert, stage_alert
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.payment_repository import (
    EVENT_SCOPE,
    REFERENCE_SCOPE,
    PaymentRepository,
    PaymentWrites,
    event_claim_value,
    reference_claim_value,
)
from cashline.dal.payment_settings import PaymentSettings, get_payment_settings
from cashline.dal.transactions import UnitOfWork
from cashline.domain.access import Tenant, today_for
from cashline.domain.invoices import InvoiceStatus
from cashline.domain.payments import Payment, PaymentKind
from cashline.errors import ConflictError
from cashline.ids import new_id
from cashline.schemas.payment_events import PaymentEvent
from cashline.services import reactions
from cashline.services.tenancy import tenants

payments = PaymentRepository()
invoices = InvoiceRepository()
parties = CounterpartyRepository()

# Statuses a payment may be applied to automatically. A disputed invoice waits for a person.
PAYABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})
MAX_ATTEMPTS = 40
# Reads what a processor payout is made of (services.payments.payouts.payout_fetcher).
PayoutFetch = Callable[[PaymentEvent], PayoutComposition]
CONFLICT_MESSAGE = "payment or invoice changed at the same time"


@dataclass(frozen=True, slots=True)
class Context:
    tenant: Tenant
    settings: PaymentSettings
    now: datetime
    actor: str
    connection_id: str | None = None
    raw_payload_key: str | None = None
    # How many times the queue has delivered this event (SQS ApproximateReceiveCount).
    delivery_attempt: int = 1
    # Alerts written by this context's transactions, for the caller to deliver at once (the outbox
    # sweep delivers any it does not).
    committed_alerts: list[Alert] = field(default_factory=list)
    # Set for a payout event when the connection has an API credential: its composition is read first.
    payout_details: PayoutFetch | None = None

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # applied | duplicate | merged | ignored | held | recorded
    payment_id: str | None = None


def context_for(tenant_id: str, *, now: datetime, actor: str, **extra: str | None) -> Context:
    return Context(
        tenant=tenants.get(tenant_id),
        settings=get_payment_settings(tenant_id),
        now=now,
        actor=actor,
        connection_id=extra.get("connection_id"),
        raw_payload_key=extra.get("raw_payload_key"),
        delivery_attempt=int(extra.get("delivery_attempt") or 1),
    )


def retrying(work: Callable[[], Outcome], *, done_already: Callable[[], Outcome | None]) -> Outcome:
    """Run `work` until it commits. A conflict means something changed since it was read (or the same
    event was processed meanwhile, which `done_already` tells): read again and decide again."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return work()
        except ConflictError:
            finished = done_already()
            if finished is not None:
                return finished
            # Jittered backoff: 20 payments on one invoice must not retry in lockstep.
            time.sleep(
                random.uniform(  # noqa: S311  (jitter, not a secret)
                    0, min(0.4, 0.01 * 2 ** min(attempt, 6))
                )
            )
    raise ConflictError("too many concurrent changes; the payment will be retried")


def event_seen(tenant_id: str, event: PaymentEvent) -> bool:
    return payments.event_seen(tenant_id, event.source, event.event_id)


def claim(writes: PaymentWrites, event: PaymentEvent, payment_id: str, *, new_reference: str | None) -> None:
    """Claim the event (and a new money movement's reference) for `payment_id` in the same write:
    a second delivery fails the claim and changes nothing."""
    writes.claims.append((EVENT_SCOPE, event_claim_value(event.source.value, event.event_id), payment_id))
    if new_reference:
        writes.claims.append(
            (REFERENCE_SCOPE, reference_claim_value(event.source.value, new_reference), payment_id)
        )


def commit(ctx: Context, writes: PaymentWrites) -> None:
    """Write the change in one unit of work (payments and claims, invoices and credits, alerts), then
    run what else happens when invoices change (reminders pause or resume, risk updates)."""
    work = UnitOfWork(CONFLICT_MESSAGE).add(partial(payments.stage, writes=writes))
    work.add(
        partial(
            invoices.stage_changes,
            changes=writes.invoice_changes,
            credits=writes.credits,
            tenant_id=writes.tenant_id,
            now=writes.now,
        )
    )
    for alert in writes.alerts:
        work.add(partial(stage_alert, alert=alert))
    for stage in writes.also:
        work.add(stage)
    work.commit()
    ctx.committed_alerts.extend(writes.alerts)
    # Paid when the money arrived (its value date), not when it was recorded.
    today = today_for(ctx.tenant, ctx.now)
    paid_on = min([today, *(p.value_date for _, p in writes.payments if p.kind is PaymentKind.PAYMENT)])
    reactions.invoices_changed(
        ctx.tenant_id, [(c.before, c.after) for c in writes.invoice_changes], now=ctx.now, paid_on=paid_on
    )


def add_alert(writes: PaymentWrites, ctx: Context, alert_type: str, detail: dict[str, object]) -> None:
    writes.alerts.append(
        Alert(
            tenant_id=ctx.tenant_id,
            alert_id=new_id("alert"),
            alert_type=alert_type,
            detail=detail,
            at=ctx.now,
        )
    )


def alert_if_large(ctx: Context, payment: Payment, writes: PaymentWrites) -> None:
    threshold = ctx.settings.alert_thresholds.get(payment.currency)
    if threshold is not None and payment.amount >= threshold:
        add_alert(writes, ctx, "payment.received_large", payment_detail(payment))


def payment_detail(payment: Payment) -> dict[str, object]:
    return {
        "payment_id": payment.id,
        "source": payment.source.value,
        "kind": payment.kind.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "counterparty_id": payment.counterparty_id,
        "invoice_ids": payment.invoice_ids(),
    }
