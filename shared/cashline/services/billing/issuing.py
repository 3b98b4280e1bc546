"""The issuing engine: each subscription's billing period becomes one invoice, exactly once.

A subscription waits on the sharded `due` index (job SUBSCRIPTION_INVOICE_JOB) at the instant its
next period begins in the tenant's zone (`tenant_day_start(next_invoice_on)`), so a tick reads only
the subscriptions with an invoice to issue. For each one the engine plans the period's invoice
(domain/billing/invoice_plan.py), taxes it (domain/billing/tax.py), and writes in ONE transaction:

* the invoice as a draft (`DRAFT-<invoice id>`, a number is given when it is finalised) with its
  claim `SUBINV <sub>#<period start>`: a period has one invoice, whoever issues it and however often;
* the subscription moved on (versioned on what was read): current period, what each item was charged,
  proration lines and discount periods used up, latest invoice, due again at the next period's start;
* the subscription's invoice index entry, the credit balance it takes, and the finalise work item.

So a second tick, a concurrent one or a retry after a crash either finds the subscription no longer
due or fails on the claim or the version and changes nothing (the sweep skips a ConflictError). Only
then, if the tenant reviews no drafts (auto_finalise_hours 0), the invoice is finalised; the finalise
item written with it makes the `invoice_finalise` sweep finish the job if this process dies first.

A subscription that was not swept for a while (an outage) issues each missed period in order, one
invoice per period, up to MAX_PERIODS_PER_CALL per call; the rest is still due for the next tick.

No lease on the due item: the transaction's conditions already make the work happen once, and a
lease would cost one more write per invoice; two sweeps racing on one subscription waste one plan.

Rules decided here (docs: /work/notes/doc14_D1.md):
* a period whose lines sum to 0 (a 100 % discount) still issues a 0 invoice (it is finalised paid),
  so every period has its document; a period with no line at all (only metered items, no usage;
  a trial) issues nothing and only moves the subscription on;
* cancel at period end (`cancel_at` <= the next period's start): no advance charge; the usage and
  proration lines still owed are invoiced, then the subscription is canceled on `cancel_at`;
* paused or canceled: nothing is issued and the subscription leaves the due index (resume re-adds);
* a trial's end starts the first paid period; the subscription goes from trialing to active then;
* a period whose lines net negative (proration credits larger than the period's charges) never makes
  a negative invoice: its negative proration lines are issued first as a credit note (with the
  subscription that no longer holds them and the claim `SUBINV <sub>#<start>#credit`, one
  transaction), then the period's invoice of the rest, which takes the credit from the balance;
* a subscription cancelled after its last failed charge (charge_outcomes.py) is left due: this sweep
  bills what it still owes (waiting lines, usage so far) as a cancellation does, once;
* an amount beyond MAX_MINOR_UNITS is counted (metric SubscriptionInvoiceAmountLimit) and skipped,
  the subscription staying due, without a traceback each tick.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from cashline.dal.billing_settings import BillingSettings, stored_billing_settings
from cashline.dal.billing_subscriptions import (
    SUBSCRIPTION_INVOICE_JOB,
    UNCHANGED,
    SubscriptionRepository,
)
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import Stage
from cashline.domain.access import Tenant
from cashline.domain.billing.catalog import UsageType
from cashline.domain.billing.invoice_plan import (
    PlannedInvoice,
    is_trial,
    period_starting,
    plan_period_invoice,
    previous_period,
    split_credit,
)
from cashline.domain.billing.periods import Period
from cashline.domain.billing.subscriptions import (
    Subscription,
    SubscriptionStatus,
    check_transition,
    tenant_day_start,
)
from cashline.domain.invoices import UniqueClaim
from cashline.domain.money import AmountLimitError
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.billing.credit import issue_credit_note
from cashline.services.billing.drafts import compose_draft, prepare_draft, store_draft
from cashline.services.billing.proration_invoices import DORMANT, commit_update, stage_moved
from cashline.services.billing.proration_invoices import issue_proration_invoice as issue_proration_invoice
from cashline.services.billing.settings import with_tenant_defaults
from cashline.services.billing.usage import stage_usage_billed, usage_for_period, usage_so_far
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

subscriptions = SubscriptionRepository()

ISSUING_SCHEDULE = "subscription_invoice"
# A subscription not swept for this many of its periods catches up over several ticks.
MAX_PERIODS_PER_CALL = 50


# --- the sweep ------------------------------------------------------------------------------


def _entity_of(item: CashlineItem) -> tuple[str, str]:
    """(tenant id, subscription id) of a due item: its sort key is `<instant>#<tenant>#<entity>`."""
    _, tenant_id, subscription_id = str(item.due_sk).split("#", 2)
    return tenant_id, subscription_id


def run_subscription_invoices(*, tick_at: datetime, worker: str) -> SweepResult:
    """The issuing sweep: every subscription due at `tick_at` gets the invoices of its due periods
    (each exactly once; see the module docstring). Changed = subscriptions moved on."""

    def issue(item: CashlineItem) -> bool:
        tenant_id, subscription_id = _entity_of(item)
        try:
            return _issue_due(tenant_id, subscription_id, now=tick_at).changed
        except AmountLimitError as exc:
            # Data, not a fault: an amount beyond the limit (a huge usage total) fails the same way
            # every tick until someone corrects it. One counted, named error instead of a traceback;
            # the subscription stays due (alarm on SubscriptionInvoiceAmountLimit).
            logger.error(
                "subscription invoice beyond the amount limit; skipped",
                tenant_id=tenant_id,
                subscription_id=subscription_id,
                reason=str(exc),
            )
            metrics.add_metric(name="SubscriptionInvoiceAmountLimit", unit=MetricUnit.Count, value=1)
            return False

    return sweep(
        schedule=ISSUING_SCHEDULE, job=SUBSCRIPTION_INVOICE_JOB, tick_at=tick_at, worker=worker, handle=issue
    )


@dataclass(frozen=True, slots=True)
class _Issued:
    changed: bool
    last_invoice_id: str | None


def issue_due_invoice(tenant_id: str, subscription_id: str, *, now: datetime) -> str | None:
    """Issue what is due for the subscription at `now`, each period once (a repeated call issues
    nothing more); the id of the last invoice this call issued, or None."""
    return _issue_due(tenant_id, subscription_id, now=now).last_invoice_id


def _issue_due(tenant_id: str, subscription_id: str, *, now: datetime) -> _Issued:
    """Each due period in turn. Reads once per subscription handled: the tenant, its settings (with
    the tenant's defaults filled in from the tenant already read) and the subscription; the
    subscription again only when another period is due after the one issued (a catch-up) or a credit
    note went first. Finalising is handed what was read (drafts.py)."""
    tenant = tenants.get(tenant_id)
    settings: BillingSettings | None = None
    changed = False
    last: str | None = None
    sub: Subscription | None = subscriptions.get(tenant_id, subscription_id)
    for _ in range(MAX_PERIODS_PER_CALL):
        sub = sub or subscriptions.get(tenant_id, subscription_id)
        if sub.status is SubscriptionStatus.CANCELED and sub.canceled_on is not None:
            # Cancelled by the charge sweep after its last failure, left due for what it still owes.
            return _Issued(True, _final_bill(sub, now) or last)
        start = sub.next_invoice_on
        if start is None or tenant_day_start(start, tenant.timezone) > now:
            break
        if sub.status in DORMANT:
            # Nothing to issue while paused (resume puts it back on the index) or once canceled.
            commit_update([stage_moved(sub, sub, due_at=None)])
            return _Issued(True, last)
        settings = settings or with_tenant_defaults(
            stored_billing_settings(tenant_id) or BillingSettings(), tenant
        )
        issued = _issue_period(tenant, settings, sub, start, now)
        last = issued.document_id or last
        changed = True
        sub = issued.moved_to
        if sub is not None and (
            sub.next_invoice_on is None or tenant_day_start(sub.next_invoice_on, tenant.timezone) > now
        ):
            break  # nothing more due: no read to find that out
        sub = None  # read again: its stored version is the one the next write is conditioned on
    return _Issued(changed, last)


def _final_bill(sub: Subscription, now: datetime) -> str | None:
    """The last document of a subscription cancelled without one (after its last failed charge,
    services/billing/charge_outcomes.py, which cannot issue documents itself: the issuing chain
    imports the charging modules): the proration lines still waiting and the metered usage of
    [current_period_start, canceled_on), as a cancellation now bills them, written with the
    subscription (lines cleared, off the due index) in one transaction, claimed `SUBCHG <sub>#<version>`:
    once. Nothing owed: the subscription only leaves the index."""
    assert sub.canceled_on is not None
    used = usage_so_far(sub, sub.items, sub.canceled_on)
    lines = [*sub.pending_lines, *used.lines]
    after = replace(sub, pending_lines=(), updated_at=now)
    also = [] if used.stage is None else [used.stage]
    if not any(line.amount for line in lines):
        commit_update([stage_moved(sub, after, due_at=None), *also])
        return None
    return issue_proration_invoice(sub.tenant_id, sub, after, lines, now=now, also=also)


# --- one period -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _UsageRead:
    """The metered totals a plan billed (item id -> quantity) and the usage period they are of."""

    period_start: date
    totals: dict[str, int]

    def stage_unchanged(self, tenant_id: str) -> Stage:
        """For the issue's transaction: the totals are still these. A report committed between the
        read and the write fails the transaction (ConflictError; the next tick plans again) instead
        of landing in a period already invoiced, billed never."""
        return lambda write: stage_usage_billed(write, tenant_id, self.totals, self.period_start)


def _usage(tenant_id: str, sub: Subscription, period: Period) -> _UsageRead | None:
    """The metered items' usage of the period before `period` (billed in arrears), one read each."""
    before = previous_period(sub, period)
    metered = [item.item_id for item in sub.items if item.terms.usage_type is UsageType.METERED]
    if before is None or not metered:
        return None
    return _UsageRead(before.start, usage_for_period(tenant_id, metered, before.start))


def _plan(sub: Subscription, start: date) -> tuple[Period, PlannedInvoice, _UsageRead | None]:
    period = period_starting(sub, start)
    ending = sub.cancel_at is not None and sub.cancel_at <= period.start
    usage = _usage(sub.tenant_id, sub, period)
    totals = usage.totals if usage is not None else {}
    return period, plan_period_invoice(sub, period, totals, charge_in_advance=not ending), usage


def plan_next_invoice(sub: Subscription, *, start: date) -> tuple[Period, PlannedInvoice]:
    """The period starting `start` and its planned invoice (also the upcoming-invoice preview)."""
    period, plan, _ = _plan(sub, start)
    return period, plan


@dataclass(frozen=True, slots=True)
class _PeriodIssued:
    """A period handled: the document it issued (None: no line, the subscription only moved on) and
    the subscription as written (None: read it again, a credit note went first)."""

    document_id: str | None
    moved_to: Subscription | None


def _issue_period(
    tenant: Tenant, settings: BillingSettings, sub: Subscription, start: date, now: datetime
) -> _PeriodIssued:
    """Issue the period starting `start` (the subscription's next_invoice_on)."""
    period, plan, usage = _plan(sub, start)
    if split_credit(plan.lines)[1]:
        return _PeriodIssued(_credit_first(sub, period, now), None)
    after, due_at = _moved_on(sub, plan, tenant.timezone, now)
    checks = [] if usage is None else [usage.stage_unchanged(sub.tenant_id)]
    if not plan.lines:
        # Nothing to bill (a trial, metered items that were not used): the subscription moves on.
        commit_update([stage_moved(sub, after, due_at=due_at), *checks])
        return _PeriodIssued(None, after)
    draft = compose_draft(tenant, settings, sub, plan.lines, on=period.start, now=now)
    prepared = prepare_draft(
        tenant,
        settings,
        sub,
        draft,
        period,
        issue_day=period.start,
        now=now,
        claim=UniqueClaim("SUBINV", f"{sub.subscription_id}#{period.start.isoformat()}", "period"),
    )
    after = replace(after, latest_invoice_id=prepared.invoice.invoice_id)
    also = [stage_moved(sub, after, due_at=due_at), *checks]
    invoice_id = store_draft(tenant, settings, sub, prepared, draft, also, now)
    logger.info(
        "subscription invoice issued",
        tenant_id=sub.tenant_id,
        subscription_id=sub.subscription_id,
        invoice_id=invoice_id,
        period_start=period.start.isoformat(),
    )
    return _PeriodIssued(invoice_id, after)


def _credit_first(sub: Subscription, period: Period, now: datetime) -> str:
    """A period whose lines net negative: its waiting negative proration lines become a credit note
    first, written with the subscription that no longer holds them (versioned, still due) and the
    claim `SUBINV <sub>#<period start>#credit`, in one transaction, so it happens once. The caller's
    loop then reads the subscription again and issues the period's invoice of what is left (0 or
    more; its credit balance, now holding the credit note, taken off it first). A process dying in
    between leaves the subscription due: the next tick issues the invoice. Returns the note's id."""
    credits = tuple(line for line in sub.pending_lines if line.amount < 0)
    kept = replace(
        sub, pending_lines=tuple(line for line in sub.pending_lines if line.amount >= 0), updated_at=now
    )
    claim = UniqueClaim("SUBINV", f"{sub.subscription_id}#{period.start.isoformat()}#credit", "period")
    note_id = issue_credit_note(
        sub.tenant_id,
        sub,
        credits,
        now=now,
        also=[stage_moved(sub, kept, due_at=UNCHANGED)],
        extra_claims=[claim],
    )
    logger.info(
        "subscription credit note issued before its period invoice",
        tenant_id=sub.tenant_id,
        subscription_id=sub.subscription_id,
        invoice_id=note_id,
        period_start=period.start.isoformat(),
    )
    return note_id


def _moved_on(
    sub: Subscription, plan: PlannedInvoice, timezone: str, now: datetime
) -> tuple[Subscription, datetime | None]:
    """The subscription once `plan`'s period is issued, and when it is due next (None: never)."""
    period = plan.period
    if sub.cancel_at is not None and sub.cancel_at <= period.start:
        check_transition(sub.status, SubscriptionStatus.CANCELED)
        ended = replace(
            sub,
            status=SubscriptionStatus.CANCELED,
            canceled_on=sub.cancel_at,
            next_invoice_on=None,
            pending_lines=(),
            updated_at=now,
        )
        return ended, None
    status = sub.status
    if status is SubscriptionStatus.TRIALING and not is_trial(sub, period):
        check_transition(status, SubscriptionStatus.ACTIVE)
        status = SubscriptionStatus.ACTIVE
    next_on = period.end_exclusive
    if sub.cancel_at is not None and period.start < sub.cancel_at < next_on:
        next_on = sub.cancel_at  # the cancellation is carried out on its own day
    used = set(plan.discounts_applied)
    moved = replace(
        sub,
        status=status,
        current_period_start=period.start,
        current_period_end=period.end_exclusive,
        period_charged=dict(plan.period_charged),
        period_credited={},
        pending_lines=(),
        discounts=tuple(
            replace(d, applied_periods=d.applied_periods + 1) if d.discount_id in used else d
            for d in sub.discounts
        ),
        next_invoice_on=next_on,
        updated_at=now,
    )
    return moved, tenant_day_start(next_on, timezone)
