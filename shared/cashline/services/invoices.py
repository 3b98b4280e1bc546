"""Invoices and bills: create, read, change status, list, audit trail, and the overdue sweep.

What else happens: an invoice that is overdue when it is created, finalized, back from a dispute or
found by the overdue check enters its campaign in the same transaction (`_campaign_entry`); once a
person's status change has committed, `reactions.invoices_changed` moves its reminders and risk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from cashline.dal.alert_repository import Alert, stage_alert
from cashline.dal.billing_credit import stage_return_credit
from cashline.dal.invoice_queries import plan, run
from cashline.dal.invoice_repository import OVERDUE_JOB, InvoiceRepository
from cashline.dal.pagination import Page
from cashline.dal.party_repository import CounterpartyRepository, claimed_by
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.access import Tenant, today_for
from cashline.domain.counterparties import Counterparty
from cashline.domain.date_window import WINDOW_TEXT, is_plausible
from cashline.domain.dunning import Collection
from cashline.domain.invoices import (
    AWAITING_PAYMENT,
    Document,
    DocumentKind,
    Invoice,
    InvoiceBody,
    InvoiceEvent,
    InvoiceFilter,
    InvoiceStatus,
    InvoiceView,
    NewInvoice,
    Prepared,
    StatedAmounts,
    TransitionError,
    UniqueClaim,
    check_transition,
    days_past_due,
    overdue_instant_of,
    price_lines,
    settled_status,
)
from cashline.domain.money import MAX_MINOR_UNITS, currency_exponent
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.ids import is_id_of, new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services import reactions
from cashline.services.collections import entry as collection_entry
from cashline.services.counterparties import new_counterparty
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

invoices = InvoiceRepository()
counterparties = CounterpartyRepository()

OVERDUE_SCHEDULE = "invoice_overdue_check"
# A document that states no due date is due this many days after issue (tenants may change it later).
DEFAULT_PAYMENT_DAYS = 30


def _resolve_counterparty(tenant_id: str, new: NewInvoice, now: datetime) -> tuple[Counterparty, bool]:
    """The invoice's counterparty and whether it is new (to be created in the same transaction)."""
    if new.counterparty_id:
        if not is_id_of("counterparty", new.counterparty_id):
            raise NotFoundError("counterparty not found", field="counterparty.id")
        try:
            return counterparties.get_profile(tenant_id, new.counterparty_id), False
        except NotFoundError as exc:
            raise NotFoundError("counterparty not found", field="counterparty.id") from exc
    if not new.counterparty:
        raise ValidationError("give counterparty.id or an inline counterparty", field="counterparty")
    candidate = new_counterparty(tenant_id, new.counterparty, now=now)
    for scope, value in (("CPREF", candidate.external_reference), ("CPTAX", candidate.tax_id)):
        existing = claimed_by(tenant_id, scope, value) if value else None
        if existing:
            return counterparties.get_profile(tenant_id, existing), False
    return candidate, True


def _amounts(new: NewInvoice) -> StatedAmounts:
    """subtotal, tax, total, lines and taxes (as stored) from either `lines` or `amount_due`."""
    if new.lines:
        priced = price_lines(new.lines)
        lines = [
            {
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_amount": line.unit_amount,
                "tax_rate": str(line.tax_rate),
                "net_amount": line.net_amount,
            }
            for line in priced.lines
        ]
        taxes = [
            {"rate": str(t.rate), "taxable_amount": t.taxable_amount, "tax_amount": t.tax_amount}
            for t in priced.taxes
        ]
        return StatedAmounts(priced.subtotal, priced.tax, priced.total, lines, taxes)
    if new.amount_due is None:
        raise ValidationError("give amount_due or lines", field="amount_due")
    return StatedAmounts(new.amount_due, 0, new.amount_due, [], [])


def _checked_amounts(new: NewInvoice, stated: StatedAmounts | None, source: str) -> StatedAmounts:
    # The API's schemas hold dates to the window already; imports (CSV, e-invoices) come through here.
    for name in ("issue_date", "due_date"):
        if not is_plausible(getattr(new, name)):
            raise ValidationError(f"{name} must be {WINDOW_TEXT}", field=name)
    if new.due_date < new.issue_date:
        raise ValidationError("due_date is before issue_date", field="due_date")
    currency_exponent(new.currency)  # raises for an unknown currency
    amounts = stated if stated is not None else _amounts(new)
    for name, amount in (
        ("amount_subtotal", amounts.subtotal),
        ("amount_tax", amounts.tax),
        ("amount_due", amounts.total),
    ):
        if abs(amount) > MAX_MINOR_UNITS:
            raise ValidationError(f"{name} would be beyond {MAX_MINOR_UNITS} minor units", field=name)
    if new.document_kind is DocumentKind.INVOICE and amounts.total <= 0 and source == "api":
        raise ValidationError(
            "an invoice's amount must be positive; use a credit note for refunds", field="amount_due"
        )
    return amounts


def prepare_invoice(
    tenant: Tenant,
    new: NewInvoice,
    *,
    now: datetime,
    source: str,
    details: dict[str, Any] | None = None,
    extra_claims: list[UniqueClaim] | None = None,
    stated: StatedAmounts | None = None,
    resolved: Counterparty | None = None,
) -> Prepared:
    """A checked invoice ready to store. `resolved`: a counterparty the caller found or will create
    itself (a CSV file's rows share one); otherwise it is resolved here and, if new, created with the
    invoice in one transaction. Created overdue, it brings the run it starts in its campaign."""
    amounts = _checked_amounts(new, stated, source)
    counterparty, is_new = (
        (resolved, False) if resolved else _resolve_counterparty(tenant.tenant_id, new, now)
    )
    number = new.number.strip()
    status = new.status
    if status is not InvoiceStatus.DRAFT:
        status = settled_status(amounts.total, new.amount_paid, new.due_date, today_for(tenant, now))
    invoice = Invoice(
        tenant_id=tenant.tenant_id,
        invoice_id=new_id("invoice"),
        direction=new.direction,
        document_kind=new.document_kind,
        number=number,
        counterparty_id=counterparty.counterparty_id,
        counterparty_name=counterparty.name,
        segment=counterparty.segment,
        issue_date=new.issue_date,
        due_date=new.due_date,
        currency=new.currency,
        subtotal=amounts.subtotal,
        tax=amounts.tax,
        amount_due=amounts.total,
        amount_paid=new.amount_paid,
        status=status,
        status_before_dispute=None,
        description=new.description,
        source=source,
        metadata=new.metadata or {},
        created_at=now,
        updated_at=now,
        version=0,
    )
    claims = [
        UniqueClaim("INVNO", f"{counterparty.counterparty_id}#{number}", "number"),
        *(extra_claims or []),
    ]
    return Prepared(
        invoice=invoice,
        body=InvoiceBody(lines=amounts.lines, taxes=amounts.taxes, details=details),
        claims=claims,
        new_counterparty=counterparty if is_new else None,
        overdue_instant=overdue_instant_of(tenant, invoice),
        collection=_run_to_start(tenant, invoice, now, counterparty),
    )


def store_prepared(
    prepared: Prepared,
    *,
    actor: str,
    documents: list[Document] | None = None,
    also: Sequence[Stage] = (),
) -> Invoice:
    """Write a prepared invoice in one transaction: the invoice with its claims, audit event, totals,
    documents and new counterparty, and (created overdue) its entry into its campaign. `also`: the
    caller's own changes that must commit with the invoice or not at all (subscription billing moves
    the subscription's period in the same transaction as the invoice of that period)."""
    invoice = prepared.invoice
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=invoice.invoice_id,
        at=invoice.created_at,
        actor=actor,
        action="created",
        changes={"status": [None, invoice.status.value], "amount_due": [None, invoice.amount_due]},
        note=f"source: {invoice.source}",
    )
    work = UnitOfWork("invoice conflicts with an existing one")
    work.add(lambda write: invoices.stage_create(write, prepared, event, documents or ()))
    work.add(_campaign_entry(prepared.collection, "system:created-overdue", invoice.created_at))
    for stage in also:
        work.add(stage)
    try:
        work.commit()
    except ConflictError:
        raise invoices.which_claim(invoice.tenant_id, prepared.claims) from None
    metrics.add_metric(name="InvoiceCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "invoice created",
        tenant_id=invoice.tenant_id,
        invoice_id=invoice.invoice_id,
        direction=invoice.direction.value,
        source=invoice.source,
    )
    return replace(invoice, version=1)  # the version its first write stored


def create_invoice(tenant_id: str, new: NewInvoice, *, actor: str, now: datetime) -> InvoiceView:
    tenant = tenants.get(tenant_id)
    stored = store_prepared(prepare_invoice(tenant, new, now=now, source="api"), actor=actor)
    return get_invoice(tenant_id, stored.invoice_id, now=now, tenant=tenant)


def get_invoice(
    tenant_id: str, invoice_id: str, *, now: datetime, tenant: Tenant | None = None
) -> InvoiceView:
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    invoice, body, documents = invoices.get(tenant_id, invoice_id)
    tenant = tenant or tenants.get(tenant_id)
    return InvoiceView(
        invoice, body, documents, days_past_due(invoice.due_date, today_for(tenant, now), invoice.status)
    )


def change_status(
    tenant_id: str,
    invoice_id: str,
    target: InvoiceStatus,
    *,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
    note: str | None = None,
) -> InvoiceView:
    """A person's status change: finalize (open), dispute, resolve (open), void, write off. Once it
    has committed, `reactions` brings the invoice's reminders and its counterparty's risk in step."""
    tenant = tenants.get(tenant_id)
    before = _header(tenant_id, invoice_id)
    if expected_version is not None and expected_version != before.version:
        raise ConflictError(
            "invoice was changed by someone else since this version; read it again", field="version"
        )
    after = _apply_target(before, target, today_for(tenant, now), now)
    # Finalized or back from a dispute after its due date: overdue, so it enters its campaign with it.
    entry = _campaign_entry(_run_to_start(tenant, after, now), "system:collections", now)
    also = [entry, _credit_returned(before, after, now)]
    _commit_status_change(tenant, before, after, actor=actor, note=note, now=now, also=also)
    reactions.invoices_changed(tenant_id, [(before, after)], now=now, paid_on=today_for(tenant, now))
    return get_invoice(tenant_id, invoice_id, now=now, tenant=tenant)


def _header(tenant_id: str, invoice_id: str) -> Invoice:
    if not is_id_of("invoice", invoice_id):
        raise NotFoundError("invoice not found", field="invoice_id")
    return invoices.get_header(tenant_id, invoice_id)


def numbered_at_finalisation(invoice: Invoice) -> bool:
    """A draft that gets its number (and, a subscription's, its delivery and first charge) only from
    `POST /v1/invoices/{id}/finalize` (services/billing/finalising.py): numbered `DRAFT-...` (the
    billing engine's placeholder, or a person's) or issued by subscription billing."""
    return invoice.status is InvoiceStatus.DRAFT and (
        invoice.number.startswith("DRAFT-") or invoice.source == "subscription"
    )


def _check_draft_target(before: Invoice, target: InvoiceStatus) -> None:
    """Opening such a draft through the status route would make a live invoice numbered `DRAFT-...`:
    no sequence number (gap-free numbering, GoBD), no delivery, no first charge. It is finalised
    instead. Voiding it stays allowed: a subscription draft voided means that period is not billed
    (its period claim stays, so the sweep does not issue it again), and the credit it took from the
    customer's balance goes back (`_credit_returned`)."""
    if numbered_at_finalisation(before) and target is InvoiceStatus.OPEN:
        raise ConflictError(
            "this draft is numbered when it is finalised; "
            f"finalize it: POST /v1/invoices/{before.invoice_id}/finalize",
            field="status",
        )


def returns_credit_on_void(invoice: Invoice) -> bool:
    """A subscription draft's `amount_paid` is the credit balance the issuing engine applied to it
    (services/billing/drafts.py): nothing else pays a draft. Voided, it gives that credit back."""
    return (
        invoice.status is InvoiceStatus.DRAFT and invoice.source == "subscription" and invoice.amount_paid > 0
    )


def _credit_returned(before: Invoice, after: Invoice, now: datetime) -> Stage | None:
    """The credit a voided subscription draft had taken, back on the customer's balance in the same
    transaction as the void (the void's version condition makes it happen once)."""
    if after.status is not InvoiceStatus.VOID or not returns_credit_on_void(before):
        return None
    return lambda write: stage_return_credit(
        write,
        before.tenant_id,
        before.counterparty_id,
        before.currency,
        before.amount_paid,
        before.invoice_id,
        now,
    )


def _apply_target(before: Invoice, target: InvoiceStatus, today: date, now: datetime) -> Invoice:
    _check_draft_target(before, target)
    status = target
    if target is InvoiceStatus.OPEN:
        # "open" from a person means "back in play": the amounts and the date decide the real state.
        status = settled_status(before.amount_due, before.amount_paid, before.due_date, today)
    try:
        check_transition(before.status, status, by_person=target is not InvoiceStatus.OPEN)
    except TransitionError as exc:
        raise ConflictError(str(exc), field="status") from exc
    if before.financing_plan_id and target in {InvoiceStatus.VOID, InvoiceStatus.WRITTEN_OFF}:
        raise ConflictError(
            f"this bill is financed by plan {before.financing_plan_id}: cancel the financing first",
            field="status",
        )
    credit_back = target is InvoiceStatus.VOID and returns_credit_on_void(before)
    if target is InvoiceStatus.VOID and before.amount_paid and not credit_back:
        raise ConflictError(
            "an invoice with payments cannot be voided; refund or write it off", field="status"
        )
    return replace(
        before,
        status=status,
        amount_paid=0 if credit_back else before.amount_paid,
        status_before_dispute=before.status if status is InvoiceStatus.DISPUTED else None,
        updated_at=now,
    )


def _commit_status_change(
    tenant: Tenant,
    before: Invoice,
    after: Invoice,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    also: list[Stage | None],
) -> None:
    """Write `after` on the version `before` was read at, with its audit event and whatever `also`
    stages (an alert, an entry into a campaign), in one transaction."""
    event = InvoiceEvent(
        event_id=new_id("event"),
        invoice_id=after.invoice_id,
        at=now,
        actor=actor,
        action="status_changed",
        changes={"status": [before.status.value, after.status.value]},
        note=note,
    )
    overdue_instant = overdue_instant_of(tenant, after)
    work = UnitOfWork("invoice was changed by someone else; read it again")
    work.add(
        lambda write: invoices.stage_change(write, before, after, event, overdue_instant=overdue_instant)
    )
    for stage in also:
        work.add(stage)
    work.commit()
    metrics.add_metric(name=f"InvoiceTo_{after.status.value}", unit=MetricUnit.Count, value=1)


def list_invoices(
    tenant_id: str, invoice_filter: InvoiceFilter, *, limit: int, starting_after: str | None
) -> Page[Invoice]:
    return run(plan(tenant_id, invoice_filter), limit=limit, starting_after=starting_after)


def invoice_events(
    tenant_id: str, invoice_id: str, *, limit: int, starting_after: str | None
) -> Page[InvoiceEvent]:
    _header(tenant_id, invoice_id)  # another tenant's invoice is a 404 here too
    return invoices.events(tenant_id, invoice_id, limit=limit, starting_after=starting_after)


# --- entering a campaign: the run an overdue receivable starts, written with what made it overdue


def _run_to_start(
    tenant: Tenant, invoice: Invoice, now: datetime, counterparty: Counterparty | None = None
) -> Collection | None:
    """The run an invoice that is overdue now starts in its campaign (None: not overdue, no campaign
    applies, or it has a run already). `counterparty`: a new invoice's, which may not be stored yet."""
    if invoice.status is not InvoiceStatus.OVERDUE:
        return None
    return collection_entry.prepare_entry(tenant, invoice, now, counterparty=counterparty)


def _campaign_entry(entry: Collection | None, actor: str, now: datetime) -> Stage | None:
    """The stage that writes a run's entry (run, statistics, audit event), for the same transaction
    that makes its invoice overdue."""
    return collection_entry.entry_stage(entry, actor, now)


def _overdue_alert(invoice: Invoice, at: datetime) -> Alert:
    return Alert(
        tenant_id=invoice.tenant_id,
        alert_id=new_id("alert"),
        alert_type="invoice.overdue",
        detail={
            "invoice_id": invoice.invoice_id,
            "number": invoice.number,
            "direction": invoice.direction.value,
            "counterparty_id": invoice.counterparty_id,
            "counterparty_name": invoice.counterparty_name,
            "due_date": invoice.due_date.isoformat(),
            "amount_outstanding": invoice.amount_outstanding,
            "currency": invoice.currency,
        },
        at=at,
    )


def run_overdue_check(*, tick_at: datetime, worker: str) -> SweepResult:
    """Invoices whose due date has passed become `overdue` (the day after it, in the tenant's zone),
    with an alert and, for a receivable, its entry into its campaign, in one transaction each."""
    tenants_seen: dict[str, Tenant] = {}

    def mark_overdue(item: object) -> bool:
        before = invoices.header_of(item)
        if before is None or before.status not in AWAITING_PAYMENT:
            return False
        tenant = tenants_seen.get(before.tenant_id) or tenants.get(before.tenant_id)
        tenants_seen[before.tenant_id] = tenant
        after = replace(before, status=InvoiceStatus.OVERDUE, updated_at=tick_at)
        alert = _overdue_alert(after, tick_at)
        _commit_status_change(
            tenant,
            before,
            after,
            actor="system:overdue-check",
            note=None,
            now=tick_at,
            also=[
                lambda write: stage_alert(write, alert),
                _campaign_entry(_run_to_start(tenant, after, tick_at), "system:overdue-check", tick_at),
            ],
        )
        return True

    return sweep(
        schedule=OVERDUE_SCHEDULE,
        job=OVERDUE_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=mark_overdue,
    )
