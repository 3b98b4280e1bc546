"""A counterparty's statement of account for a period (PDF or CSV in S3, a short-lived link), and
the monthly run that writes one for every counterparty with activity and can e-mail it.

What it reads: the counterparty's invoices (its invoice index) and payments (its payment index),
once each: a statement's cost follows that counterparty's history, not the tenant's.
Opening balance: what was billed before the period less what was paid, refunded or charged back
before it. Open items and aging: as the invoices stand when the statement is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cashline.adapters.documents import DocumentStore
from cashline.adapters.messaging import Attachment, EmailChannel, OutgoingEmail
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.payment_repository import PaymentFilter, PaymentRepository
from cashline.dal.statement_records import STATEMENT_JOB, due_activity, take
from cashline.dal.table import CashlineItem
from cashline.domain import statements
from cashline.domain.counterparties import address_lines
from cashline.domain.invoices import Direction, DocumentKind, Invoice, InvoiceStatus
from cashline.domain.locales import locale_for
from cashline.domain.payments import Payment, PaymentKind, PaymentStatus
from cashline.domain.statements import LineKind, StatementLine
from cashline.errors import NotFoundError, ValidationError
from cashline.ids import is_id_of, new_id
from cashline.services import campaigns
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

parties = CounterpartyRepository()
invoice_store = InvoiceRepository()
payment_store = PaymentRepository()
# A statement reads all of a counterparty's payments, this many per Query.
PAYMENTS_PAGE = 100
LINK_SECONDS = 900
MAX_DAYS = 400


@dataclass(frozen=True, slots=True)
class StatementFile:
    statement_id: str
    counterparty_id: str
    format: str
    currency: str
    opening_balance: int
    closing_balance: int
    lines: int
    key: str
    url: str
    content: bytes


def _invoices(tenant_id: str, counterparty_id: str) -> list[Invoice]:
    return invoice_store.of_counterparty(tenant_id, counterparty_id, Direction.RECEIVABLE)


def _payments(tenant_id: str, counterparty_id: str) -> list[Payment]:
    """Every payment of the counterparty, oldest first (the list pages newest first)."""
    found: list[Payment] = []
    cursor: str | None = None
    while True:
        page = payment_store.list(
            tenant_id,
            PaymentFilter(counterparty_id=counterparty_id),
            limit=PAYMENTS_PAGE,
            starting_after=cursor,
        )
        found += page.items
        if page.next_cursor is None:
            return found[::-1]
        cursor = page.next_cursor


def _lines(invoices: list[Invoice], payments: list[Payment], currency: str) -> list[StatementLine]:
    lines: list[StatementLine] = []
    for i in invoices:
        if i.currency != currency or i.status in {InvoiceStatus.DRAFT, InvoiceStatus.VOID}:
            continue
        credit_note = i.document_kind is DocumentKind.CREDIT_NOTE
        lines.append(
            StatementLine(
                day=i.issue_date,
                kind="credit_note" if credit_note else "invoice",
                reference=i.number,
                description=i.description
                or ("credit note" if credit_note else f"due {i.due_date.isoformat()}"),
                debit=0 if credit_note else i.amount_due,
                credit=i.amount_due if credit_note else 0,
            )
        )
    for p in payments:
        if p.currency != currency or p.status not in {PaymentStatus.SUCCEEDED, PaymentStatus.REVERSED}:
            continue
        kind: LineKind
        if p.kind is PaymentKind.REFUND:
            kind = "refund"
        elif p.kind is PaymentKind.CHARGEBACK:
            kind = "chargeback"
        elif p.kind is PaymentKind.PAYMENT:
            kind = "payment"
        else:
            continue  # payouts and fees are not the counterparty's
        given_back = kind != "payment"
        lines.append(
            StatementLine(
                day=p.value_date,
                kind=kind,
                reference=p.source_reference or p.id,
                description=(p.method.value if p.method else p.source.value).replace("_", " "),
                debit=p.amount if given_back else 0,
                credit=0 if given_back else p.amount,
            )
        )
    return lines


def make_statement(
    tenant_id: str,
    counterparty_id: str,
    *,
    first: date,
    last: date,
    fmt: str,
    language: str | None,
    currency: str | None,
    store: DocumentStore,
    now: datetime,
) -> StatementFile:
    # defer the PDF library (fpdf2, ~300 ms with the fonts) to the first statement
    from cashline.adapters.statement_documents import statement_csv, statement_pdf

    if last < first:
        raise ValidationError("to is before from", field="to")
    if (last - first).days > MAX_DAYS:
        raise ValidationError(f"at most {MAX_DAYS} days per statement", field="to")
    if not is_id_of("counterparty", counterparty_id):
        raise NotFoundError("counterparty not found", field="counterparty_id")
    counterparty = parties.get_profile(tenant_id, counterparty_id)
    tenant = tenants.get(tenant_id)
    invoices, payments = _invoices(tenant_id, counterparty_id), _payments(tenant_id, counterparty_id)
    currency = currency or _main_currency(invoices, tenant.base_currency)
    every = _lines(invoices, payments, currency)
    before = [line for line in every if line.day < first]
    within = [line for line in every if first <= line.day <= last]
    opening = sum(line.debit - line.credit for line in before)
    open_items = [
        statements.OpenItem(reference=i.number, due_date=i.due_date, outstanding=i.due_on_its_day()[0])
        for i in invoices
        if i.currency == currency and i.due_on_its_day()[0] and i.issue_date <= last
    ]
    config = campaigns.settings(tenant_id)
    creditor = config.creditor
    statement = statements.build_statement(
        counterparty=statements.Counterparty(
            name=counterparty.name,
            address_lines=tuple(address_lines(counterparty, with_country=False)),
            reference=counterparty_id,
        ),
        creditor=statements.Creditor(
            name=str(creditor.get("name") or tenant.name),
            address_lines=tuple(str(x) for x in creditor.get("address") or ()),
            iban=str(creditor.get("iban") or ""),
        ),
        currency=currency,
        first_day=first,
        last_day=last,
        opening_balance=opening,
        lines=within,
        open_items=open_items,
    )
    lang = language or (counterparty.preferred_language or "en")[:2]
    locale = locale_for(lang, counterparty.country or tenant.country)
    if fmt == "csv":
        content, content_type = statement_csv(statement, locale=locale).encode("utf-8"), "text/csv"
    else:
        content, content_type = statement_pdf(statement, locale=locale, language=lang), "application/pdf"
    statement_id = new_id("document")
    key = f"statements/{tenant_id}/{counterparty_id}/{first}_{last}_{statement_id}.{fmt}"
    store.put(key, content, content_type=content_type)
    filename = f"statement_{first.isoformat()}_{last.isoformat()}.{fmt}"
    return StatementFile(
        statement_id=statement_id,
        counterparty_id=counterparty_id,
        format=fmt,
        currency=currency,
        opening_balance=statement.opening_balance,
        closing_balance=statement.closing_balance,
        lines=len(statement.entries),
        key=key,
        url=store.presign_download(key, filename=filename, expires_in_seconds=LINK_SECONDS),
        content=content,
    )


def _main_currency(invoices: list[Invoice], fallback: str) -> str:
    counts: dict[str, int] = {}
    for i in invoices:
        counts[i.currency] = counts.get(i.currency, 0) + 1
    return max(counts, key=lambda c: counts[c]) if counts else fallback


STATEMENT_SCHEDULE = "monthly_statements"


def run_monthly(
    *, tick_at: datetime, worker: str, store: DocumentStore, email: EmailChannel | None
) -> SweepResult:
    """On the first of the month: a PDF statement of the month before for every counterparty with
    activity in it, e-mailed when the tenant's collection settings say so and the counterparty has an
    address. Reads only the activity markers that fell due."""

    def handle(item: CashlineItem) -> bool:
        activity = due_activity(item)
        if activity is None or not take(activity, tick_at):
            return False
        first = date.fromisoformat(activity.month + "-01")
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        made = make_statement(
            activity.tenant_id,
            activity.counterparty_id,
            first=first,
            last=last,
            fmt="pdf",
            language=None,
            currency=None,
            store=store,
            now=tick_at,
        )
        if email is not None and campaigns.settings(activity.tenant_id).email_statements:
            _email(activity.tenant_id, activity.counterparty_id, made, first, email)
        return True

    return sweep(
        schedule=STATEMENT_SCHEDULE,
        job=STATEMENT_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=handle,
    )


def _email(
    tenant_id: str, counterparty_id: str, made: StatementFile, first: date, channel: EmailChannel
) -> None:
    counterparty = parties.get_profile(tenant_id, counterparty_id)
    if not counterparty.email:
        return
    tenant = tenants.get(tenant_id)
    german = (counterparty.preferred_language or "").startswith("de")
    month = first.strftime("%m/%Y")
    subject = (
        f"Kontoauszug {month}, {tenant.name}" if german else f"Statement of account {month}, {tenant.name}"
    )
    text = (
        f"Guten Tag,\n\nanbei Ihr Kontoauszug für {month}.\n\nMit freundlichen Grüßen\n{tenant.name}"
        if german
        else f"Hello,\n\nattached is your statement of account for {month}.\n\nKind regards\n{tenant.name}"
    )
    channel.send(
        OutgoingEmail(
            to=counterparty.email,
            subject=subject,
            text=text,
            tenant_id=tenant_id,
            attachments=(Attachment(f"statement_{first:%Y-%m}.pdf", "application/pdf", made.content),),
        )
    )
