"""Recording what a processor said about a charge attempt, with what it moves, in one transaction:
the attempt, the subscription's status (`active` again, `past_due`, `incomplete`, or `canceled`
after the last failure when the tenant says so), the next scheduled attempt (domain.billing.charges
`next_retry_at`), and on a success the invoice's other waiting attempts cancelled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from cashline.dal.billing_charges import ChargeRepository
from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.access import today_for
from cashline.domain.billing.catalog import UsageType
from cashline.domain.billing.charges import (
    INVOICE_SETTLED,
    ChargeAttempt,
    ChargeStatus,
    is_last_round,
    next_retry_at,
)
from cashline.domain.billing.subscriptions import Subscription, SubscriptionStatus, check_transition
from cashline.errors import ConflictError
from cashline.ids import new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.billing.settings import BillingSettings, get_billing_settings
from cashline.services.tenancy import tenants

if TYPE_CHECKING:
    from cashline.services.processor_clients import Outcome

# An unknown outcome (timeout, processor down) is asked again this much later, with the same key.
UNKNOWN_OUTCOME_RETRY = timedelta(minutes=30)
# A charge the processor accepted but has not settled (GoCardless) is looked at again in an hour.
POLL_AFTER = timedelta(hours=1)
# Statuses a charge's outcome moves; paused and canceled subscriptions keep theirs.
MOVABLE = frozenset(
    {
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.INCOMPLETE,
    }
)
# How often an outcome is written again on a fresh read of the subscription (changed meanwhile).
OUTCOME_TRIES = 3

charges = ChargeRepository()
subscriptions = SubscriptionRepository()
invoices = InvoiceRepository()

OutcomeStatus = Literal["succeeded", "pending", "failed", "unknown", "canceled", "deferred", "skipped"]


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    """What one look at a charge came to. `attempt`: the attempt's number (None: none was made)."""

    status: OutcomeStatus
    attempt: int | None
    reason: str | None = None


def settle(claimed: ChargeAttempt, outcome: Outcome, now: datetime) -> ChargeOutcome:
    """Record what the processor said: the attempt, the subscription's status, the next attempt."""
    # defer the processor SDKs (stripe, gocardless_pro: ~100 ms) to the first charge
    from cashline.adapters.processors import DebitRefusedError, DebitResult

    if isinstance(outcome, DebitResult) and outcome.status == "succeeded":
        paid = replace(
            claimed, status=ChargeStatus.SUCCEEDED, processor_reference=outcome.reference, failure_reason=None
        )
        _record_with_subscription(claimed, paid, None, now)
        metrics.add_metric(name="InvoiceChargeSucceeded", unit=MetricUnit.Count, value=1)
        return ChargeOutcome("succeeded", claimed.attempt)
    if isinstance(outcome, DebitResult) and outcome.status == "pending":
        waiting = replace(claimed, phase="poll", processor_reference=outcome.reference)
        write_attempt(claimed, waiting, now + POLL_AFTER, now)
        return ChargeOutcome("pending", claimed.attempt)
    if isinstance(outcome, DebitResult | DebitRefusedError):
        reason = (
            outcome.reason if isinstance(outcome, DebitRefusedError) else (outcome.failure_reason or "failed")
        )
        failed = replace(
            claimed,
            status=ChargeStatus.FAILED,
            phase="start",
            failure_reason=reason,
            # Stripe keeps a declined charge's PaymentIntent: its id, for whoever looks it up.
            processor_reference=_reference_of(outcome) or claimed.processor_reference,
            first_failed_at=claimed.first_failed_at or now,
        )
        _record_with_subscription(claimed, failed, reason, now)
        metrics.add_metric(name="InvoiceChargeFailed", unit=MetricUnit.Count, value=1)
        return ChargeOutcome("failed", claimed.attempt, reason)
    # Timeout or processor down: same attempt, same key, asked again later.
    unknown = replace(claimed, failure_reason=type(outcome).__name__)
    write_attempt(claimed, unknown, now + UNKNOWN_OUTCOME_RETRY, now)
    return ChargeOutcome("unknown", claimed.attempt, type(outcome).__name__)


def outcome_stage(
    before: ChargeAttempt, after: ChargeAttempt, due_at: datetime | None, now: datetime
) -> Stage:
    return lambda write: charges.stage_outcome(write, before, after, due_at=due_at, now=now)


def _reference_of(outcome: Outcome) -> str | None:
    return getattr(outcome, "reference", None)


def write_attempt(
    claimed: ChargeAttempt, after: ChargeAttempt, due_at: datetime | None, now: datetime
) -> None:
    UnitOfWork("the charge attempt changed meanwhile").add(
        outcome_stage(claimed, after, due_at, now)
    ).commit()


def _record_with_subscription(
    claimed: ChargeAttempt, after: ChargeAttempt, failure: str | None, now: datetime
) -> None:
    """A definite outcome, written with what it moves, in one transaction: the subscription's status
    (on the version read), the next scheduled attempt or the last failure's consequence, and, on a
    success, the invoice's other waiting attempts cancelled. A subscription changed meanwhile (an
    invoice issued) is read again; the attempt's own version (the claim's) does not move."""
    t = claimed.tenant_id
    # Only a failure asks what comes next (the retry days, the last failure's consequence).
    settings = get_billing_settings(t) if failure is not None else None
    for remaining in range(OUTCOME_TRIES, 0, -1):
        sub = subscriptions.get(t, claimed.subscription_id) if claimed.subscription_id else None
        work = UnitOfWork("the subscription changed meanwhile")
        work.add(lambda write: charges.stage_outcome(write, claimed, after, due_at=None, now=now))
        if settings is None:
            _add_success(work, claimed, sub, now)
        else:
            _add_failure(work, after, sub, settings, now)
        try:
            work.commit()
            return
        except ConflictError:
            if remaining == 1:
                raise
            logger.info(
                "subscription changed while a charge was recorded; read again", charge_id=claimed.charge_id
            )


def _add_success(work: UnitOfWork, claimed: ChargeAttempt, sub: Subscription | None, now: datetime) -> None:
    for waiting in charges.attempts_of(claimed.tenant_id, claimed.invoice_id):
        if waiting.attempt != claimed.attempt and waiting.status is ChargeStatus.SCHEDULED:
            canceled = replace(waiting, status=ChargeStatus.CANCELED, failure_reason=INVOICE_SETTLED)
            work.add(outcome_stage(waiting, canceled, None, now))
    if sub is not None and sub.status in {SubscriptionStatus.PAST_DUE, SubscriptionStatus.INCOMPLETE}:
        check_transition(sub.status, SubscriptionStatus.ACTIVE)
        active = replace(sub, status=SubscriptionStatus.ACTIVE, updated_at=now)
        work.add(lambda write: subscriptions.stage_update(write, sub, active))


def _add_failure(
    work: UnitOfWork,
    failed: ChargeAttempt,
    sub: Subscription | None,
    settings: BillingSettings,
    now: datetime,
) -> None:
    retry_at = None
    if failed.retry_round is not None and failed.first_failed_at is not None:
        retry_at = next_retry_at(settings.retry_days, failed.first_failed_at, failed.retry_round)
    if retry_at is not None:
        method = sub.payment_method if sub is not None and sub.payment_method else failed.payment_method
        following = replace(
            failed,
            charge_id=new_id("charge_attempt"),
            attempt=_next_number(failed),
            retry_round=(failed.retry_round or 0) + 1,
            status=ChargeStatus.SCHEDULED,
            payment_method=method,
            amount=None,
            due_at=retry_at,
            processor_reference=None,
            failure_reason=None,
            created_at=now,
            version=0,
        )
        work.add(lambda write: charges.stage_new(write, following, due_at=retry_at, now=now))
    if sub is None or sub.status not in MOVABLE:
        return
    last = retry_at is None and is_last_round(settings.retry_days, failed.retry_round)
    if last and settings.after_last_failure == "cancel":
        check_transition(sub.status, SubscriptionStatus.CANCELED)
        tenant = tenants.get(failed.tenant_id)
        canceled = replace(
            sub,
            status=SubscriptionStatus.CANCELED,
            canceled_on=today_for(tenant, now),
            next_invoice_on=None,
            updated_at=now,
        )
        # What it still owes (waiting proration lines, the period's usage so far) is billed as a
        # cancellation bills it, by the issuing sweep (issuing.py `_final_bill`, which then takes it
        # off the due index): due now when there may be any, else off the index at once.
        owed = bool(sub.pending_lines) or any(i.terms.usage_type is UsageType.METERED for i in sub.items)
        due_at = now if owed else None
        work.add(lambda write: subscriptions.stage_update(write, sub, canceled, due_at=due_at))
        logger.warning(
            "subscription cancelled after its last failed charge", subscription_id=sub.subscription_id
        )
        return
    target = _failed_status(sub, failed)
    if target is not sub.status:
        check_transition(sub.status, target)
        moved = replace(sub, status=target, updated_at=now)
        work.add(lambda write: subscriptions.stage_update(write, sub, moved))


def _failed_status(sub: Subscription, failed: ChargeAttempt) -> SubscriptionStatus:
    """`incomplete` while the subscription's first invoice has never been paid; `past_due` otherwise."""
    if sub.status is SubscriptionStatus.INCOMPLETE:
        return SubscriptionStatus.INCOMPLETE
    if sub.status in {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING} and _is_first_invoice(
        sub, failed
    ):
        return SubscriptionStatus.INCOMPLETE
    return SubscriptionStatus.PAST_DUE


def _is_first_invoice(sub: Subscription, attempt: ChargeAttempt) -> bool:
    first = sub.trial_end or sub.start_date
    invoice = invoices.get_header(attempt.tenant_id, attempt.invoice_id)
    return invoice.metadata.get("period_start") == first.isoformat()


def _next_number(failed: ChargeAttempt) -> int:
    attempts = charges.attempts_of(failed.tenant_id, failed.invoice_id)
    return max((a.attempt for a in attempts), default=failed.attempt) + 1
