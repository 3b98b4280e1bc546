"""A processor's event, applied once: `process_event` looks up the handler for the event's action in
the table right above it (the handlers live with their concern: `received`, `reversal`)."""

from __future__ import annotations

from collections.abc import Callable

from cashline.dal.payment_repository import PaymentWrites
from cashline.observability import MetricUnit, logger, metrics
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.payments.context import Context, Outcome, add_alert, claim, commit, payments, retrying
from cashline.services.payments.payouts import on_payout
from cashline.services.payments.received import on_ignored, on_pending, on_succeeded
from cashline.services.payments.reversal import on_dispute_won, on_failed, on_given_back

Handler = Callable[[Context, PaymentEvent], Outcome]


def alert_only(alert_type: str) -> Handler:
    """An event that moves no money yet (a dispute opened, a mandate ended): an alert, once."""

    def handle(ctx: Context, event: PaymentEvent) -> Outcome:
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        claim(writes, event, "-", new_reference=None)
        add_alert(
            writes,
            ctx,
            alert_type,
            {
                "source": event.source.value,
                "event_type": event.event_type,
                "reference": event.reference,
                "original_reference": event.original_reference,
                "amount": event.amount,
                "currency": event.currency,
                "reason": event.failure_reason,
            },
        )
        commit(ctx, writes)
        return Outcome("recorded")

    return handle


# Actions whose effect depends on the amount: an event without one (GoCardless) is completed first.
NEEDS_AMOUNT = frozenset(
    {
        EventAction.SUCCEEDED,
        EventAction.FAILED,
        EventAction.CHARGED_BACK,
        EventAction.PENDING,
        EventAction.CANCELLED,
        EventAction.CHARGEBACK_REVERSED,
    }
)


HANDLERS: dict[EventAction, Handler] = {
    EventAction.SUCCEEDED: on_succeeded,
    EventAction.PENDING: on_pending,
    EventAction.FAILED: on_failed,
    EventAction.CANCELLED: on_failed,
    EventAction.REFUNDED: on_given_back,
    EventAction.CHARGED_BACK: on_given_back,
    EventAction.CHARGEBACK_REVERSED: on_dispute_won,
    EventAction.DISPUTE_OPENED: alert_only("payment.disputed"),
    EventAction.MANDATE_ENDED: alert_only("mandate.ended"),
    EventAction.PAYOUT: on_payout,
    EventAction.IGNORED: on_ignored,
}


def process_event(
    ctx: Context, event: PaymentEvent, *, fetch_details: Callable[[PaymentEvent], PaymentEvent] | None = None
) -> Outcome:
    """Apply one provider event, once. Raises only when it must be retried later (the queue does)."""

    def seen() -> Outcome | None:
        return (
            Outcome("duplicate") if payments.event_seen(ctx.tenant_id, event.source, event.event_id) else None
        )

    if (already := seen()) is not None:
        metrics.add_metric(name="PaymentEventDuplicate", unit=MetricUnit.Count, value=1)
        return already
    if event.amount is None and fetch_details is not None and event.action in NEEDS_AMOUNT:
        event = fetch_details(event)
    handler = HANDLERS.get(event.action, on_ignored)
    outcome = retrying(lambda: handler(ctx, event), done_already=seen)
    logger.info(
        "payment event processed",
        tenant_id=ctx.tenant_id,
        source=event.source.value,
        event_id=event.event_id,
        event_type=event.event_type,
        result=outcome.result,
        payment_id=outcome.payment_id,
    )
    metrics.add_metric(name=f"PaymentEvent_{outcome.result}", unit=MetricUnit.Count, value=1)
    return outcome
