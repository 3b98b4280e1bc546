"""Payments: every source's event becomes one normalized `Payment`, applied to invoices or
installments by the tenant's rules, exactly once.

Exactly once: each event's effect (payment, allocations, invoices, counterparty totals and credit,
alerts) is one DynamoDB transaction that also claims the event's id (`PEVT`) and, for a new payment,
the source's reference of the money movement (`PAYREF`). The same event delivered again fails the
claim and is a no-op; two events about one money movement (Stripe's payment_intent.succeeded and
invoice.paid, GoCardless's confirmed and paid_out) meet on the reference. Concurrent payments on one
invoice conflict on the invoice's version: the loser reads again and allocates what is left.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from cashline.adapters.secrets import SecretStore
from cashline.dal.alert_repository import Alert
from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import InvoiceChange, InvoiceRepository, to_invoice
from cashline.dal.pagination import Page
from cashline.dal.party_repository import CounterpartyRepository, claimed_by
from cashline.dal.payment_repository import (
    EVENT_SCOPE,
    REFERENCE_SCOPE,
    PaymentFilter,
    PaymentRepository,
    PaymentWrites,
    event_claim_value,
    reference_claim_value,
)
from cashline.dal.payment_settings import PaymentSettings, get_payment_settings, save_payment_settings
from cashline.domain import allocation as rules
from cashline.domain.access import Tenant, today_for
from cashline.domain.invoices import (
    Direction,
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    check_transition,
    overdue_instant_of,
    settled_status,
)
from cashline.domain.references import (
    invoice_number_candidates,
    normalize_invoice_number,
    parse_creditor_references,
)
from cashline.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    UnprocessableError,
    ValidationError,
)
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.schemas.payment_events import (
    EventAction,
    PaymentEvent,
    PaymentKind,
    PaymentSource,
    PaymentStatus,
    Targets,
)
from cashline.schemas.payments import Allocation, HistoryEntry, Payment, PaymentSettingsRequest
from cashline.services import invoices as invoice_service
from cashline.services import reactions
from cashline.services.invoices import InvoiceView, NewInvoice
from cashline.services.tenancy import tenants

payments = PaymentRepository()
invoices = InvoiceRepository()
parties = CounterpartyRepository()

# Statuses a payment may be applied to automatically. A disputed invoice waits for a person.
PAYABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE})
# A transaction holds at most 100 items; an invoice costs 2 (header, audit event) plus its totals.
MAX_INVOICES_PER_PAYMENT = 25
MAX_ATTEMPTS = 40


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
    handler = HANDLERS.get(event.action, _ignore)
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


def _claims(
    writes: PaymentWrites, event: PaymentEvent, payment_id: str, *, new_reference: str | None
) -> None:
    writes.claims.append((EVENT_SCOPE, event_claim_value(event.source.value, event.event_id), payment_id))
    if new_reference:
        writes.claims.append(
            (REFERENCE_SCOPE, reference_claim_value(event.source.value, new_reference), payment_id)
        )


def _commit(ctx: Context, writes: PaymentWrites) -> None:
    payments.commit(writes)
    ctx.committed_alerts.extend(writes.alerts)
    # Paid when the money arrived (its value date), not when it was recorded.
    today = today_for(ctx.tenant, ctx.now)
    paid_on = min([today, *(p.value_date for _, p in writes.payments if p.kind is PaymentKind.PAYMENT)])
    reactions.invoices_changed(
        ctx.tenant_id, [(c.before, c.after) for c in writes.invoice_changes], now=ctx.now, paid_on=paid_on
    )


def _ignore(ctx: Context, event: PaymentEvent) -> Outcome:
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    _claims(writes, event, "-", new_reference=None)
    _commit(ctx, writes)
    return Outcome("ignored")


# ---------------------------------------------------------------------------------------------
# Money received


def _succeeded(ctx: Context, event: PaymentEvent) -> Outcome:
    reference = event.reference or event.event_id
    existing = payments.by_reference(ctx.tenant_id, event.source, reference)
    if existing is not None and existing.status is PaymentStatus.SUCCEEDED:
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        _claims(writes, event, existing.id, new_reference=None)
        _commit(ctx, writes)
        return Outcome("merged", existing.id)
    if event.amount is None or event.currency is None:
        raise UnprocessableError("the event carries no amount", field="amount")
    payment = _payment_of(ctx, event, existing, status=PaymentStatus.SUCCEEDED)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    installment = None
    if event.targets.installment_id and event.targets.plan_id:
        from cashline.services.payment_installments import installment_paid

        installment = installment_paid(ctx, event)
    if installment is not None:
        # The business repaying its financing: money out of its account, applied to the installment.
        share = Allocation(
            target_type="installment",
            target_id=installment.installment_id,
            amount=installment.amount,
            currency=installment.currency,
            at=ctx.now,
            actor=ctx.actor,
            plan_id=installment.plan_id,
        )
        payment = payment.model_copy(
            update={
                "direction": Direction.PAYABLE,
                "allocations": [share],
                "allocated_amount": payment.amount,
                "unallocated_amount": 0,
            }
        )
    else:
        payment = apply_payment(ctx, payment, writes)
    writes.payments.append((existing, payment))
    _claims(writes, event, payment.id, new_reference=None if existing else reference)
    _alert_if_large(ctx, payment, writes)
    _commit(ctx, writes)
    return Outcome("applied" if payment.allocated_amount else "held", payment.id)


def _pending(ctx: Context, event: PaymentEvent) -> Outcome:
    reference = event.reference or event.event_id
    existing = payments.by_reference(ctx.tenant_id, event.source, reference)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    if existing is not None or event.amount is None or event.currency is None:
        _claims(writes, event, existing.id if existing else "-", new_reference=None)
        _commit(ctx, writes)
        return Outcome("merged" if existing else "ignored", existing.id if existing else None)
    payment = _payment_of(ctx, event, None, status=PaymentStatus.PENDING)
    writes.payments.append((None, payment))
    _claims(writes, event, payment.id, new_reference=reference)
    _commit(ctx, writes)
    return Outcome("recorded", payment.id)


def _payment_of(
    ctx: Context, event: PaymentEvent, existing: Payment | None, *, status: PaymentStatus
) -> Payment:
    entry = HistoryEntry(
        at=ctx.now, action=f"event:{event.action.value}", actor=ctx.actor, event_id=event.event_id
    )
    if existing is not None:
        # A pending payment that settles, or a failed one the payer retried under the same reference
        # (Stripe keeps the PaymentIntent): what was taken back before is history, not a deduction.
        return existing.model_copy(
            update={
                "status": status,
                "reversed_amount": 0 if status is PaymentStatus.SUCCEEDED else existing.reversed_amount,
                "amount": event.amount if event.amount is not None else existing.amount,
                "value_date": event.value_date or existing.value_date,
                "method": event.method or existing.method,
                "targets": _merge_targets(existing.targets, event.targets),
                "history": [*existing.history, entry],
                "updated_at": ctx.now,
            }
        )
    return Payment(
        id=new_id("payment"),
        tenant_id=ctx.tenant_id,
        # An installment debit is the business paying Cashline; everything else is money received.
        direction=Direction.PAYABLE if event.targets.installment_id else Direction.RECEIVABLE,
        source=event.source,
        source_event_id=event.event_id,
        source_reference=event.reference or event.event_id,
        connection_id=ctx.connection_id,
        kind=PaymentKind.PAYOUT if event.action is EventAction.PAYOUT else PaymentKind.PAYMENT,
        status=status,
        amount=event.amount or 0,
        currency=event.currency or "EUR",
        value_date=event.value_date or ctx.now.date(),
        method=event.method,
        payer=event.payer,
        remittance_reference=event.remittance_reference,
        targets=event.targets,
        raw_payload_key=ctx.raw_payload_key,
        failure_reason=event.failure_reason,
        history=[entry],
        created_at=ctx.now,
        updated_at=ctx.now,
    )


def _merge_targets(a: Targets, b: Targets) -> Targets:
    return Targets(**{k: getattr(a, k) or getattr(b, k) for k in Targets.model_fields})


def _alert_if_large(ctx: Context, payment: Payment, writes: PaymentWrites) -> None:
    threshold = ctx.settings.alert_thresholds.get(payment.currency)
    if threshold is not None and payment.amount >= threshold:
        add_alert(writes, ctx, "payment.received_large", payment_detail(payment))


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


def payment_detail(payment: Payment) -> dict[str, object]:
    return {
        "payment_id": payment.id,
        "source": payment.source.value,
        "kind": payment.kind.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "counterparty_id": payment.counterparty_id,
        "invoice_ids": [a.target_id for a in payment.allocations if a.target_type == "invoice"],
    }


# ---------------------------------------------------------------------------------------------
# Allocation


@dataclass(frozen=True, slots=True)
class Resolution:
    counterparty_id: str | None
    named: list[Invoice]  # the invoices the payment names, in the order it names them
    hold_reason: str | None = None


def apply_payment(ctx: Context, payment: Payment, writes: PaymentWrites) -> Payment:
    """Allocate a succeeded payment's money (named invoices first, else the tenant's rule); what is
    left is the payer's credit. Adds the invoice changes to `writes`; returns the payment as it is then."""
    if payment.kind is not PaymentKind.PAYMENT or payment.direction is not Direction.RECEIVABLE:
        return payment  # payouts and fees move no invoice
    if any(a.target_type == "installment" for a in payment.allocations):
        return payment
    found = _resolve(ctx, payment)
    payment = payment.model_copy(update={"counterparty_id": found.counterparty_id or payment.counterparty_id})
    if payment.invoice_amount is not None and found.named:
        return _apply_cross_currency(ctx, payment, found.named[0], writes)
    candidates = [i for i in found.named if i.currency == payment.currency and i.status in PAYABLE]
    if found.named:
        plan = rules.plan_targeted(payment.amount, [_open_item(i) for i in candidates])
        hold = None if candidates else "the invoices it names are not open in this currency"
    elif found.counterparty_id is None:
        plan, hold = rules.AllocationPlan([], payment.amount), found.hold_reason or "payer not recognized"
    elif ctx.settings.allocation_rule is rules.AllocationRule.MANUAL:
        plan, hold = rules.AllocationPlan([], payment.amount), "the tenant allocates by hand (manual rule)"
    else:
        open_invoices = _open_invoices(ctx.tenant_id, found.counterparty_id, payment.currency)
        plan = rules.plan_allocation(
            payment.amount, [_open_item(i) for i in open_invoices], ctx.settings.allocation_rule
        )
        candidates, hold = open_invoices, None
    by_id = {i.invoice_id: i for i in candidates}
    payment = allocate(ctx, payment, [(by_id[a.item_id], a.amount) for a in plan.allocations], writes)
    if payment.unallocated_amount and hold is None:
        hold = "paid more than was owed: kept as the payer's credit"
    return payment.model_copy(update={"hold_reason": hold if payment.unallocated_amount else None})


def allocate(
    ctx: Context, payment: Payment, shares: list[tuple[Invoice, int]], writes: PaymentWrites
) -> Payment:
    """Apply `shares` of the payment (in the payment's currency) to invoices; moves the credit too."""
    allocations = list(payment.allocations)
    for invoice, amount in shares[:MAX_INVOICES_PER_PAYMENT]:
        writes.invoice_changes.append(_paid_change(ctx, invoice, amount, payment))
        allocations.append(
            Allocation(
                target_type="invoice",
                target_id=invoice.invoice_id,
                amount=amount,
                currency=invoice.currency,
                at=ctx.now,
                actor=ctx.actor,
                number=invoice.number,
            )
        )
    applied = sum(a.amount for a in allocations[len(payment.allocations) :])
    allocated = payment.allocated_amount + applied
    unallocated = payment.amount - payment.reversed_amount - allocated
    before_credit = payment.unallocated_amount if payment.status is PaymentStatus.SUCCEEDED else 0
    after = payment.model_copy(
        update={
            "allocations": allocations,
            "allocated_amount": allocated,
            "unallocated_amount": unallocated,
            "updated_at": ctx.now,
        }
    )
    if after.counterparty_id and unallocated != before_credit:
        writes.add_credit(_credit_key(after), unallocated - before_credit)
    return after


def _credit_key(payment: Payment) -> tuple[str, str, str]:
    return (payment.counterparty_id or "", payment.direction.value, payment.currency)


def _apply_cross_currency(ctx: Context, payment: Payment, invoice: Invoice, writes: PaymentWrites) -> Payment:
    amount = payment.invoice_amount or 0
    if invoice.status not in PAYABLE or amount > invoice.amount_outstanding:
        raise UnprocessableError(
            f"invoice_amount exceeds what invoice {invoice.invoice_id} still owes "
            f"({invoice.amount_outstanding} {invoice.currency})",
            field="invoice_amount",
        )
    writes.invoice_changes.append(_paid_change(ctx, invoice, amount, payment))
    rate = (Decimal(amount) / Decimal(payment.amount)).quantize(Decimal("0.000001"))
    allocation = Allocation(
        target_type="invoice",
        target_id=invoice.invoice_id,
        amount=amount,
        currency=invoice.currency,
        at=ctx.now,
        actor=ctx.actor,
        number=invoice.number,
    )
    return payment.model_copy(
        update={
            "allocations": [*payment.allocations, allocation],
            "allocated_amount": payment.amount,
            "unallocated_amount": 0,
            "invoice_currency": invoice.currency,
            "fx_rate": str(rate),
            "counterparty_id": invoice.counterparty_id,
        }
    )


def _open_item(invoice: Invoice) -> rules.OpenItem:
    return rules.OpenItem(
        item_id=invoice.invoice_id,
        due_date=invoice.due_date,
        issue_date=invoice.issue_date,
        outstanding=invoice.amount_outstanding,
        currency=invoice.currency,
    )


def _paid_change(ctx: Context, before: Invoice, amount: int, payment: Payment) -> InvoiceChange:
    paid = before.amount_paid + amount
    today = today_for(ctx.tenant, ctx.now)
    status = settled_status(before.amount_due, paid, before.due_date, today)
    if (
        before.status in {InvoiceStatus.DISPUTED, InvoiceStatus.WRITTEN_OFF}
        and status is not InvoiceStatus.PAID
    ):
        status = before.status  # a dispute or write-off stays until a person resolves it
    if status is not before.status:
        check_transition(before.status, status, by_person=False)
    after = replace(before, amount_paid=paid, status=status, updated_at=ctx.now)
    return _change(ctx, before, after, "payment_applied", f"payment {payment.id}: {amount} {before.currency}")


def _change(ctx: Context, before: Invoice, after: Invoice, action: str, note: str) -> InvoiceChange:
    changes: dict[str, list[object]] = {"amount_paid": [before.amount_paid, after.amount_paid]}
    if after.status is not before.status:
        changes["status"] = [before.status.value, after.status.value]
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=after.invoice_id,
        at=ctx.now,
        actor=ctx.actor,
        action=action,
        changes=changes,
        note=note,
    )
    return InvoiceChange(before, after, event, overdue_instant_of(ctx.tenant, after))


def _resolve(ctx: Context, payment: Payment) -> Resolution:
    """Who paid and for what: explicit ids first, then invoice numbers or creditor references in the
    remittance text, then the payer's reference or name."""
    named = _named_invoices(ctx.tenant_id, payment)
    counterparty_id = (
        payment.targets.counterparty_id
        or payment.payer.counterparty_id
        or payment.counterparty_id
        or (named[0].counterparty_id if named else None)
    )
    if counterparty_id and not _counterparty_exists(ctx.tenant_id, counterparty_id):
        counterparty_id = None
    if counterparty_id is None and payment.payer.reference:
        counterparty_id = claimed_by(ctx.tenant_id, "CPREF", payment.payer.reference)
    if counterparty_id is None and payment.payer.name:
        matches = parties.find_by_name(ctx.tenant_id, payment.payer.name)
        counterparty_id = matches[0].counterparty_id if len(matches) == 1 else None
    if named and counterparty_id:
        named = [i for i in named if i.counterparty_id == counterparty_id] or named
    return Resolution(counterparty_id, named)


def _counterparty_exists(tenant_id: str, counterparty_id: str) -> bool:
    if not is_id_of("counterparty", counterparty_id):
        return False
    try:
        parties.get_profile(tenant_id, counterparty_id)
    except NotFoundError:
        return False
    return True


def _named_invoices(tenant_id: str, payment: Payment) -> list[Invoice]:
    ids: list[str] = []
    if payment.targets.invoice_id and is_id_of("invoice", payment.targets.invoice_id):
        ids.append(payment.targets.invoice_id)
    texts = [payment.targets.invoice_number, payment.remittance_reference]
    numbers: list[str] = []
    for text in filter(None, texts):
        numbers += parse_creditor_references(text) + invoice_number_candidates(text)
    seen: set[str] = set()
    for number in numbers:
        key = normalize_invoice_number(number)
        if not key or key in seen:
            continue
        seen.add(key)
        ids += [i for i, _ in payments.invoices_by_number(tenant_id, payment.direction.value, key)]
    found: list[Invoice] = []
    for invoice_id in dict.fromkeys(ids):
        try:
            invoice = invoices.get_header(tenant_id, invoice_id)
        except NotFoundError:
            continue
        if invoice.direction is payment.direction and invoice.document_kind is DocumentKind.INVOICE:
            found.append(invoice)
    return found


def _open_invoices(tenant_id: str, counterparty_id: str, currency: str) -> list[Invoice]:
    """The counterparty's unpaid invoices in one currency: one Query on its invoice index, filtered."""
    r = InvoiceRecord
    results = r.gsi3.query(
        f"T#{tenant_id}#CP#{counterparty_id}#INV#receivable",
        filter_condition=r.status.is_in(*[s.value for s in PAYABLE])
        & (r.currency == currency)
        & (r.document_kind == DocumentKind.INVOICE.value),
    )
    found = [to_invoice(item) for item in results if isinstance(item, InvoiceRecord)]
    return [i for i in found if not i.financing_plan_id][:MAX_INVOICES_PER_PAYMENT]


# ---------------------------------------------------------------------------------------------
# Money given back: refunds, chargebacks, failures after success


def _failed(ctx: Context, event: PaymentEvent) -> Outcome:
    reference = event.reference or event.event_id
    existing = payments.by_reference(ctx.tenant_id, event.source, reference)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    status = PaymentStatus.FAILED
    if event.targets.installment_id and event.targets.plan_id:
        from cashline.services.payment_installments import installment_failed

        installment_failed(ctx, event, writes)
    if existing is None:
        payment = _payment_of(ctx, event, None, status=status)
        writes.payments.append((None, payment))
        _claims(writes, event, payment.id, new_reference=reference)
    else:
        payment = existing
        if existing.status is PaymentStatus.SUCCEEDED:
            payment = reverse(ctx, existing, existing.amount - existing.reversed_amount, writes)
        entry = HistoryEntry(
            at=ctx.now, action="failed", actor=ctx.actor, event_id=event.event_id, note=event.failure_reason
        )
        payment = payment.model_copy(
            update={
                "status": status,
                "failure_reason": event.failure_reason,
                "history": [*payment.history, entry],
                "unallocated_amount": 0,
                "updated_at": ctx.now,
            }
        )
        writes.payments.append((existing, payment))
        _claims(writes, event, payment.id, new_reference=None)
    # A customer's Direct Debit that failed is news for finance; an installment's failure raised its
    # own alert with the installment's outcome (services/debits.py).
    debit = (payment.method or "") in DEBIT_METHODS and not event.targets.installment_id
    if event.action is EventAction.FAILED and debit:
        add_alert(writes, ctx, "debit.failed", {**payment_detail(payment), "reason": event.failure_reason})
    _commit(ctx, writes)
    return Outcome("recorded", payment.id)


def _given_back(ctx: Context, event: PaymentEvent) -> Outcome:
    """A refund or chargeback: a payment of its own kind, linked to the original, whose allocations
    it takes back (credit first, then the most recent allocation first) and reopens."""
    original_ref = event.original_reference or event.reference
    original = payments.by_reference(ctx.tenant_id, event.source, original_ref) if original_ref else None
    kind = PaymentKind.REFUND if event.action is EventAction.REFUNDED else PaymentKind.CHARGEBACK
    if original is None and ctx.delivery_attempt < ORIGINAL_WAIT_ATTEMPTS:
        # Deliveries come out of order: the payment it gives back may be a message behind. Wait for
        # it (the queue delivers again after its visibility timeout); after that, record it unlinked.
        raise OriginalNotSeenError(f"{kind.value} for {original_ref}: the payment is not recorded yet")
    amount = event.amount or 0
    if original is not None and event.amount_is_cumulative:
        amount = max(0, amount - original.reversed_amount)  # what this event adds to what was given back
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    # A cumulative amount (Stripe) is safe to see again: each event gives back only what is new, so
    # each event is its own record. Otherwise the refund's own id is the one money movement.
    claim = f"{event.event_id if event.amount_is_cumulative else (event.reference or event.event_id)}:{kind}"
    if amount == 0 or payments.by_reference(ctx.tenant_id, event.source, claim) is not None:
        _claims(writes, event, original.id if original else "-", new_reference=None)
        _commit(ctx, writes)
        return Outcome("merged", original.id if original else None)
    record = _payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED).model_copy(
        update={
            "kind": kind,
            "amount": amount,
            "related_payment_id": original.id if original else None,
            "counterparty_id": original.counterparty_id if original else None,
            "hold_reason": None if original else "the original payment is not known to Cashline",
        }
    )
    if original is not None and amount > 0 and original.status is PaymentStatus.SUCCEEDED:
        after = reverse(ctx, original, amount, writes, note=f"{kind.value} {record.id}")
        writes.payments.append((original, after))
    writes.payments.append((None, record))
    _claims(writes, event, record.id, new_reference=claim)
    if kind is PaymentKind.CHARGEBACK:
        add_alert(writes, ctx, "payment.disputed", {**payment_detail(record), "reason": event.failure_reason})
    _commit(ctx, writes)
    return Outcome("recorded", record.id)


def reverse(
    ctx: Context, payment: Payment, amount: int, writes: PaymentWrites, *, note: str = "failed"
) -> Payment:
    """Take `amount` back from a succeeded payment: its unapplied credit first, then its allocations,
    the most recent first; the invoices reopen with the audit trail showing it."""
    from_credit = min(amount, payment.unallocated_amount)
    standing = [
        rules.Allocation(item_id=f"{i}", amount=a.standing)
        for i, a in enumerate(payment.allocations)
        if a.standing > 0 and a.target_type == "invoice"
    ]
    taken = rules.plan_reversal(amount - from_credit, standing)
    allocations = list(payment.allocations)
    for share in taken:
        index = int(share.item_id)
        allocation = allocations[index]
        before = invoices.get_header(ctx.tenant_id, allocation.target_id)
        writes.invoice_changes.append(_unpaid_change(ctx, before, share.amount, note))
        allocations[index] = allocation.model_copy(
            update={"reversed_amount": allocation.reversed_amount + share.amount}
        )
    returned = from_credit + sum(s.amount for s in taken)
    if payment.counterparty_id and from_credit:
        writes.add_credit(_credit_key(payment), -from_credit)
    reversed_total = payment.reversed_amount + returned
    entry = HistoryEntry(
        at=ctx.now, action="reversed", actor=ctx.actor, note=f"{returned} taken back: {note}"
    )
    return payment.model_copy(
        update={
            "allocations": allocations,
            "allocated_amount": payment.allocated_amount - (returned - from_credit),
            "unallocated_amount": payment.unallocated_amount - from_credit,
            "reversed_amount": reversed_total,
            "status": PaymentStatus.REVERSED if reversed_total >= payment.amount else payment.status,
            "history": [*payment.history, entry],
            "updated_at": ctx.now,
        }
    )


def _unpaid_change(ctx: Context, before: Invoice, amount: int, note: str) -> InvoiceChange:
    paid = before.amount_paid - amount
    status = before.status
    if before.status in {
        InvoiceStatus.PAID,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.OVERDUE,
        InvoiceStatus.OPEN,
    }:
        status = settled_status(before.amount_due, paid, before.due_date, today_for(ctx.tenant, ctx.now))
    after = replace(before, amount_paid=paid, status=status, updated_at=ctx.now)
    return _change(ctx, before, after, "payment_reversed", f"{amount} {before.currency} taken back: {note}")


def _dispute_won(ctx: Context, event: PaymentEvent) -> Outcome:
    """The money a chargeback took returns: a new payment aimed at what the chargeback reopened."""
    original = (
        payments.by_reference(ctx.tenant_id, event.source, event.original_reference)
        if event.original_reference
        else None
    )
    targets = event.targets
    if original is not None:
        reopened = [
            a.target_id for a in original.allocations if a.reversed_amount and a.target_type == "invoice"
        ]
        targets = Targets(
            invoice_id=reopened[0] if reopened else None, counterparty_id=original.counterparty_id
        )
    won = event.model_copy(
        update={
            "reference": f"{event.reference or event.event_id}:won",
            "targets": targets,
            "action": EventAction.SUCCEEDED,
        }
    )
    return _succeeded(ctx, won)


def _alert_only(alert_type: str) -> Callable[[Context, PaymentEvent], Outcome]:
    def handle(ctx: Context, event: PaymentEvent) -> Outcome:
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        _claims(writes, event, "-", new_reference=None)
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
        _commit(ctx, writes)
        return Outcome("recorded")

    return handle


def _payout(ctx: Context, event: PaymentEvent) -> Outcome:
    if event.amount is None or event.currency is None:
        return _ignore(ctx, event)  # GoCardless payouts carry no amount; they are a bank matter
    return _pending_or_recorded_payout(ctx, event)


def _pending_or_recorded_payout(ctx: Context, event: PaymentEvent) -> Outcome:
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    payment = _payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED)
    writes.payments.append((None, payment))
    _claims(writes, event, payment.id, new_reference=f"{event.reference or event.event_id}:payout")
    _commit(ctx, writes)
    return Outcome("recorded", payment.id)


ORIGINAL_WAIT_ATTEMPTS = 3


class OriginalNotSeenError(DependencyUnavailableError):
    """Retry later: the event refers to a payment Cashline has not recorded yet."""


DEBIT_METHODS = frozenset({"sepa_debit", "bacs_debit", "ach_debit", "becs_debit", "autogiro"})
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
HANDLERS: dict[EventAction, Callable[[Context, PaymentEvent], Outcome]] = {
    EventAction.SUCCEEDED: _succeeded,
    EventAction.PENDING: _pending,
    EventAction.FAILED: _failed,
    EventAction.CANCELLED: _failed,
    EventAction.REFUNDED: _given_back,
    EventAction.CHARGED_BACK: _given_back,
    EventAction.CHARGEBACK_REVERSED: _dispute_won,
    EventAction.DISPUTE_OPENED: _alert_only("payment.disputed"),
    EventAction.MANDATE_ENDED: _alert_only("mandate.ended"),
    EventAction.PAYOUT: _payout,
    EventAction.IGNORED: _ignore,
}


# ---------------------------------------------------------------------------------------------
# The API's side: record by hand, assign by hand, read


def record_payment(
    ctx: Context,
    event: PaymentEvent,
    *,
    invoice_amount: int | None,
    counterparty_id: str | None,
    direction: Direction = Direction.RECEIVABLE,
) -> Payment:
    """A payment a person or the bank-transfer channel reports: the same path as a webhook's."""
    if event.targets.invoice_id:
        invoices.get_header(ctx.tenant_id, event.targets.invoice_id)  # 404 for an unknown or foreign invoice
    if counterparty_id and not _counterparty_exists(ctx.tenant_id, counterparty_id):
        raise NotFoundError("counterparty not found", field="counterparty_id")
    reference = event.reference or event.event_id
    # Only a bank's own reference can arrive twice; a fresh id claims nothing (a retried request is the
    # Idempotency-Key's to answer), which saves two claim writes per payment.
    banked = reference != event.event_id

    def work() -> Outcome:
        existing = payments.by_reference(ctx.tenant_id, event.source, reference) if banked else None
        if existing is not None:
            return Outcome("duplicate", existing.id)
        payment = _payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED).model_copy(
            update={
                "invoice_amount": invoice_amount,
                "counterparty_id": counterparty_id,
                "direction": direction,
            }
        )
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        payment = apply_payment(ctx, payment, writes)
        writes.payments.append((None, payment))
        if banked:
            _claims(writes, event, payment.id, new_reference=reference)
        _alert_if_large(ctx, payment, writes)
        _commit(ctx, writes)
        return Outcome("applied", payment.id)

    def done() -> Outcome | None:
        if not banked:
            return None
        existing = payments.by_reference(ctx.tenant_id, event.source, reference)
        return Outcome("duplicate", existing.id) if existing else None

    outcome = retrying(work, done_already=done)
    if outcome.result == "duplicate" and event.source is PaymentSource.BANK_TRANSFER:
        raise ConflictError(
            "this bank transfer is recorded already",
            field="bank_reference",
            details={"existing_id": outcome.payment_id},
        )
    return payments.get(ctx.tenant_id, outcome.payment_id or "")


def assign(ctx: Context, payment_id: str, shares: list[tuple[str, int]]) -> Payment:
    """A person applies a payment's unapplied money (held, or the payer's credit) to invoices."""
    if not is_id_of("payment", payment_id):
        raise NotFoundError("payment not found", field="payment_id")

    def work() -> Outcome:
        before = payments.get(ctx.tenant_id, payment_id)
        if before.status is not PaymentStatus.SUCCEEDED or before.kind is not PaymentKind.PAYMENT:
            raise ConflictError(
                f"a {before.status.value} {before.kind.value} cannot be allocated", field="payment_id"
            )
        total = sum(amount for _, amount in shares)
        if total > before.unallocated_amount:
            raise UnprocessableError(
                f"allocations total {total} but only {before.unallocated_amount} is unallocated",
                field="allocations",
            )
        chosen = [
            (_invoice_for_assignment(ctx.tenant_id, invoice_id, index, before, amount), amount)
            for index, (invoice_id, amount) in enumerate(shares)
        ]
        payment = before.model_copy(
            update={"counterparty_id": before.counterparty_id or chosen[0][0].counterparty_id}
        )
        writes = PaymentWrites(ctx.tenant_id, ctx.now)
        if payment.counterparty_id and not before.counterparty_id:
            # Held money of an unknown payer becomes this counterparty's credit, then is used.
            writes.add_credit(_credit_key(payment), payment.unallocated_amount)
        after = allocate(ctx, payment, chosen, writes)
        hold = after.hold_reason if after.unallocated_amount else None
        writes.payments.append((before, after.model_copy(update={"hold_reason": hold})))
        _commit(ctx, writes)
        return Outcome("applied", payment_id)

    retrying(work, done_already=lambda: None)
    return payments.get(ctx.tenant_id, payment_id)


def _invoice_for_assignment(
    tenant_id: str, invoice_id: str, index: int, payment: Payment, amount: int
) -> Invoice:
    field = f"allocations[{index}].invoice_id"
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field=field)
    try:
        invoice = invoices.get_header(tenant_id, invoice_id)
    except NotFoundError:
        raise NotFoundError("invoice not found", field=field) from None
    if invoice.currency != payment.currency or invoice.direction is not payment.direction:
        raise UnprocessableError("the invoice is in another currency or direction", field=field)
    if invoice.status not in PAYABLE | {InvoiceStatus.DISPUTED}:
        raise ConflictError(f"a {invoice.status.value} invoice takes no payment", field=field)
    if amount > invoice.amount_outstanding:
        raise UnprocessableError(
            f"more than the invoice still owes ({invoice.amount_outstanding})",
            field=f"allocations[{index}].amount",
        )
    return invoice


def apply_credit(tenant_id: str, invoice: Invoice, *, now: datetime, actor: str) -> int:
    """Use the payer's credit (earlier overpayments, oldest first) for a new invoice; returns how much."""
    settings = get_payment_settings(tenant_id)
    if not settings.auto_apply_credit or invoice.direction is not Direction.RECEIVABLE:
        return 0
    if invoice.document_kind is not DocumentKind.INVOICE or invoice.status not in PAYABLE:
        return 0
    ctx = Context(tenant=tenants.get(tenant_id), settings=settings, now=now, actor=actor)
    used = 0
    for payment in payments.credit_payments(tenant_id, invoice.counterparty_id, invoice.currency):
        current = invoices.get_header(tenant_id, invoice.invoice_id)
        if current.amount_outstanding <= 0 or current.status not in PAYABLE:
            break
        amount = min(payment.unallocated_amount, current.amount_outstanding)
        try:
            assign(ctx, payment.id, [(invoice.invoice_id, amount)])
            used += amount
        except (ConflictError, UnprocessableError):
            continue  # the credit was used meanwhile: the next payment's may still be there
    return used


def get_payment(tenant_id: str, payment_id: str) -> Payment:
    if not is_id_of("payment", payment_id):
        raise NotFoundError("payment not found", field="payment_id")
    return payments.get(tenant_id, payment_id)


def list_payments(
    tenant_id: str, flt: PaymentFilter, *, limit: int, starting_after: str | None
) -> Page[Payment]:
    return payments.list(tenant_id, flt, limit=limit, starting_after=starting_after)


def manual_event(
    *,
    source: PaymentSource,
    amount: int,
    currency: str,
    value_date: date,
    method: str,
    payer_name: str | None,
    payer_iban: str | None,
    remittance_reference: str | None,
    invoice_id: str | None,
    bank_reference: str | None,
    event_id: str,
    now: datetime,
) -> PaymentEvent:
    return PaymentEvent.model_validate(
        {
            "source": source,
            "event_id": event_id,
            "event_type": "payment.recorded",
            "occurred_at": now,
            "action": EventAction.SUCCEEDED,
            "reference": bank_reference or event_id,
            "amount": amount,
            "currency": currency,
            "method": method,
            "value_date": value_date,
            "payer": {"name": payer_name, "iban": payer_iban},
            "remittance_reference": remittance_reference,
            "targets": {"invoice_id": invoice_id},
        }
    )


def update_settings(
    tenant_id: str,
    request: PaymentSettingsRequest,
    store: SecretStore,
    *,
    allow_private: bool,
    now: datetime,
) -> tuple[PaymentSettings, str | None]:
    """Save the settings; a new webhook URL gets a new signing secret, returned once."""
    current = get_payment_settings(tenant_id)
    if request.version != current.version:
        raise ConflictError(
            "payment settings were changed since this version; read them again", field="version"
        )
    url = str(request.webhook_url) if request.webhook_url else None
    secret, secret_id = None, current.webhook_secret_id
    if url:
        from cashline.adapters.outbound_webhooks import check_destination  # requests: not at cold start

        try:
            check_destination(url, allow_private=allow_private)
        except ValueError as exc:
            raise ValidationError(str(exc), field="webhook_url") from None
        if url != current.webhook_url or not secret_id:
            secret = "whsec_" + secrets.token_urlsafe(32)
            secret_id = store.name_for("webhooks", tenant_id)
            store.put(secret_id, {"secret": secret})
    wanted = PaymentSettings(
        allocation_rule=request.allocation_rule,
        alert_thresholds=dict(request.alert_thresholds),
        finance_emails=tuple(request.finance_emails),
        webhook_url=url,
        webhook_secret_id=secret_id if url else None,
        auto_apply_credit=request.auto_apply_credit,
        version=current.version,
    )
    return save_payment_settings(tenant_id, wanted, now), secret


def create_invoice_using_credit(tenant_id: str, new: NewInvoice, *, actor: str, now: datetime) -> InvoiceView:
    """Create an invoice; a customer's credit from earlier overpayments pays it at once (when the
    tenant's settings say so), with the allocation on the payments and in the invoice's trail."""
    view = invoice_service.create_invoice(tenant_id, new, actor=actor, now=now)
    if apply_credit(tenant_id, view.invoice, now=now, actor=actor):
        return invoice_service.get_invoice(tenant_id, view.invoice.invoice_id, now=now)
    return view
