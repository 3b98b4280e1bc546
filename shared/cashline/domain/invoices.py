"""Invoices and bills: amounts from lines, the state machine, what an invoice contributes to its
counterparty's totals, and the value types the layers hand each other (a new invoice as asked for,
one checked and ready to store, one as read). Plain Python: no storage, no clock reads.

Rounding rule (documented in docs/api.md): a line's net amount is quantity x unit amount rounded
half-up to the minor unit; tax is computed per tax rate on the sum of the net amounts at that rate
(as EN 16931 does per VAT category), rounded half-up; total = subtotal + tax.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from cashline.domain.access import Tenant
from cashline.domain.counterparties import Counterparty
from cashline.domain.dunning import Collection
from cashline.domain.money import AmountLimitError, within_limit


class Direction(StrEnum):
    RECEIVABLE = "receivable"  # the tenant is owed: customers' invoices
    PAYABLE = "payable"  # the tenant owes: suppliers' bills


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    DISPUTED = "disputed"
    VOID = "void"
    WRITTEN_OFF = "written_off"


S = InvoiceStatus
# Legal transitions. `paid`/`partially_paid` come from payments and `overdue` from the scheduled
# check, never from a person; the API refuses them as targets (see MANUAL_TARGETS).
TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.DRAFT: frozenset({S.OPEN, S.OVERDUE, S.VOID}),  # finalized after its due date: overdue at once
    S.OPEN: frozenset({S.PARTIALLY_PAID, S.PAID, S.OVERDUE, S.DISPUTED, S.VOID, S.WRITTEN_OFF}),
    S.PARTIALLY_PAID: frozenset({S.PAID, S.OVERDUE, S.DISPUTED, S.WRITTEN_OFF, S.OPEN}),
    S.OVERDUE: frozenset({S.PARTIALLY_PAID, S.PAID, S.DISPUTED, S.WRITTEN_OFF, S.OPEN}),
    S.DISPUTED: frozenset({S.OPEN, S.OVERDUE, S.PARTIALLY_PAID, S.PAID, S.VOID, S.WRITTEN_OFF}),
    S.PAID: frozenset({S.PARTIALLY_PAID, S.OPEN, S.OVERDUE}),  # a refund or chargeback reopens
    S.VOID: frozenset(),
    S.WRITTEN_OFF: frozenset(),
}
MANUAL_TARGETS = frozenset({S.OPEN, S.DISPUTED, S.VOID, S.WRITTEN_OFF})
# States in which an unpaid invoice can fall overdue.
AWAITING_PAYMENT = frozenset({S.OPEN, S.PARTIALLY_PAID})


class TransitionError(ValueError):
    pass


def check_transition(current: InvoiceStatus, target: InvoiceStatus, *, by_person: bool) -> None:
    if by_person and target not in MANUAL_TARGETS:
        raise TransitionError(f"{target.value} is set by {_who_sets(target)}, not by hand")
    if target not in TRANSITIONS[current]:
        raise TransitionError(f"an invoice cannot go from {current.value} to {target.value}")


def _who_sets(target: InvoiceStatus) -> str:
    return "the scheduled overdue check" if target is S.OVERDUE else "recorded payments"


def settled_status(amount_due: int, amount_paid: int, due_date: date, today: date) -> InvoiceStatus:
    """The status an undisputed, finalized invoice has from its amounts and dates alone."""
    if amount_paid >= amount_due:
        return S.PAID
    if today > due_date:
        return S.OVERDUE
    return S.PARTIALLY_PAID if amount_paid > 0 else S.OPEN


def overdue_at(due_date: date, timezone: str) -> datetime:
    """The instant an unpaid invoice becomes overdue: the start of the day after the due date,
    in the tenant's time zone (a bill due on the 31st is still on time all of the 31st in Berlin)."""
    return datetime.combine(due_date + timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(timezone))


def days_past_due(due_date: date, today: date, status: InvoiceStatus) -> int:
    if status in {S.PAID, S.VOID, S.WRITTEN_OFF, S.DRAFT}:
        return 0
    return max(0, (today - due_date).days)


@dataclass(frozen=True, slots=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_amount: int  # minor units, before tax
    tax_rate: Decimal  # percent, e.g. Decimal("19") or Decimal("7.7")


@dataclass(frozen=True, slots=True)
class PricedLine:
    description: str
    quantity: Decimal
    unit_amount: int
    tax_rate: Decimal
    net_amount: int


@dataclass(frozen=True, slots=True)
class TaxAmount:
    rate: Decimal
    taxable_amount: int
    tax_amount: int


@dataclass(frozen=True, slots=True)
class Pricing:
    lines: list[PricedLine]
    subtotal: int
    taxes: list[TaxAmount]
    tax: int
    total: int


def _round_half_up(value: Decimal) -> int:
    # Enough digits for the largest quantity (18 digits) times the largest unit amount (16) or tax
    # rate: the default 28 would round the product, or refuse to quantize it, before the amount
    # can be compared with the limit.
    with localcontext() as context:
        context.prec = 60
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class LineAmountError(AmountLimitError):
    """A line makes its net amount, the subtotal, the tax or the total exceed `MAX_MINOR_UNITS`."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


def _taxes(by_rate: dict[Decimal, int]) -> list[TaxAmount]:
    return [
        TaxAmount(rate=rate, taxable_amount=taxable, tax_amount=_round_half_up(taxable * rate / 100))
        for rate, taxable in sorted(by_rate.items())
    ]


def price_lines(lines: list[LineInput]) -> Pricing:
    """Exact amounts in minor units from lines (see the module docstring for the rounding rule).

    Every amount stays within `MAX_MINOR_UNITS`: the first line that takes its own net amount, the
    subtotal, the tax or the total beyond it raises LineAmountError with its index.
    """
    priced: list[PricedLine] = []
    by_rate: dict[Decimal, int] = defaultdict(int)
    subtotal = 0
    for index, line in enumerate(lines):
        with localcontext() as context:
            context.prec = 60  # see _round_half_up
            net_amount = _round_half_up(line.quantity * line.unit_amount)
        priced.append(_priced(line, net_amount))
        by_rate[line.tax_rate.normalize()] += net_amount
        subtotal += net_amount
        tax = sum(t.tax_amount for t in _taxes(by_rate))
        try:
            within_limit(net_amount, "the line's net amount")
            within_limit(subtotal, "the subtotal")
            within_limit(tax, "the tax")
            within_limit(subtotal + tax, "the total")
        except AmountLimitError as exc:
            raise LineAmountError(f"line {index}: {exc}", index) from None
    taxes = _taxes(by_rate)
    subtotal = sum(line.net_amount for line in priced)
    tax = sum(t.tax_amount for t in taxes)
    return Pricing(lines=priced, subtotal=subtotal, taxes=taxes, tax=tax, total=subtotal + tax)


def _priced(line: LineInput, net_amount: int) -> PricedLine:
    return PricedLine(
        description=line.description,
        quantity=line.quantity,
        unit_amount=line.unit_amount,
        tax_rate=line.tax_rate,
        net_amount=net_amount,
    )


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one invoice adds to its counterparty's totals in its currency and direction."""

    billed: int = 0
    paid: int = 0
    outstanding: int = 0
    overdue: int = 0
    open_count: int = 0

    def minus(self, other: Contribution) -> Contribution:
        return Contribution(
            billed=self.billed - other.billed,
            paid=self.paid - other.paid,
            outstanding=self.outstanding - other.outstanding,
            overdue=self.overdue - other.overdue,
            open_count=self.open_count - other.open_count,
        )

    def is_zero(self) -> bool:
        return not any((self.billed, self.paid, self.outstanding, self.overdue, self.open_count))


def contribution(
    kind: DocumentKind, status: InvoiceStatus, amount_due: int, amount_paid: int
) -> Contribution:
    """Totals are derived, never edited: a change adds `contribution(after) - contribution(before)`.

    Drafts and void documents count for nothing; a written-off invoice keeps what was billed and paid
    but owes nothing more; a credit note counts against the counterparty's balance.
    """
    if status in {S.DRAFT, S.VOID}:
        return Contribution()
    sign = -1 if kind is DocumentKind.CREDIT_NOTE else 1
    remaining = 0 if status in {S.WRITTEN_OFF, S.PAID} else amount_due - amount_paid
    return Contribution(
        billed=sign * amount_due,
        paid=sign * amount_paid,
        outstanding=sign * remaining,
        overdue=sign * remaining if status is S.OVERDUE else 0,
        open_count=1 if remaining else 0,
    )


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice's header: everything but its lines, documents and audit trail."""

    tenant_id: str
    invoice_id: str
    direction: Direction
    document_kind: DocumentKind
    number: str
    counterparty_id: str
    counterparty_name: str
    segment: str | None
    issue_date: date
    due_date: date
    currency: str
    subtotal: int
    tax: int
    amount_due: int
    amount_paid: int
    status: InvoiceStatus
    status_before_dispute: InvoiceStatus | None
    description: str | None
    source: str
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int
    # Set when Cashline finances this bill: the business then owes the plan's installments instead.
    financing_plan_id: str | None = None

    @property
    def amount_outstanding(self) -> int:
        if self.status in {S.DRAFT, S.VOID, S.WRITTEN_OFF, S.PAID}:
            return 0
        return self.amount_due - self.amount_paid

    def contribution(self) -> Contribution:
        return contribution(self.document_kind, self.status, self.amount_due, self.amount_paid)

    def due_on_its_day(self) -> tuple[int, int]:
        """(amount, count) this invoice adds to what falls due on its due date: what is still owed,
        unless a financing plan took the debt over."""
        if self.financing_plan_id:
            return 0, 0
        owed = self.contribution()
        return owed.outstanding, owed.open_count


@dataclass(frozen=True, slots=True)
class InvoiceEvent:
    event_id: str
    invoice_id: str
    at: datetime
    actor: str  # "key:<key id>", "system:<job>", "import:<source>"
    action: str  # created, status_changed, document_added, document_quarantined, ...
    changes: dict[str, list[object]]  # field -> [before, after]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    invoice_id: str
    role: str  # attachment | source
    status: str  # pending | available | quarantined
    declared_content_type: str
    detected_content_type: str | None
    filename: str | None
    size_bytes: int | None
    max_bytes: int
    sha256: str | None
    s3_key: str
    problem: str | None
    created_at: datetime
    version: int = 0


def overdue_instant_of(tenant: Tenant, invoice: Invoice) -> datetime | None:
    """When the overdue check must look at this invoice: only while it awaits payment."""
    if invoice.status not in AWAITING_PAYMENT:
        return None
    return overdue_at(invoice.due_date, tenant.timezone)


# --- what the layers hand each other -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceBody:
    """Lines, tax breakdown and an imported e-invoice's details: written once with the invoice."""

    lines: list[dict[str, Any]]
    taxes: list[dict[str, Any]]
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class UniqueClaim:
    """A value the new invoice must be the only holder of, e.g. ("INVNO", "<cp>#<number>")."""

    scope: str
    value: str
    field: str  # the request field a conflict is reported on


@dataclass(frozen=True, slots=True)
class NewInvoice:
    """An invoice as asked for (API, CSV row, e-invoice), before any check."""

    direction: Direction
    number: str
    issue_date: date
    due_date: date
    currency: str
    counterparty_id: str | None = None
    # Inline: matched by external reference or tax id, else created.
    counterparty: dict[str, Any] | None = None
    amount_due: int | None = None
    lines: list[LineInput] | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    status: InvoiceStatus = InvoiceStatus.OPEN
    document_kind: DocumentKind = DocumentKind.INVOICE
    amount_paid: int = 0  # prepaid amounts stated by an imported document (BT-113)


@dataclass(frozen=True, slots=True)
class StatedAmounts:
    """Amounts a document states (an imported e-invoice), taken as they are once checked."""

    subtotal: int
    tax: int
    total: int
    lines: list[dict[str, Any]]
    taxes: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked invoice ready to store, for the API, CSV rows and e-invoice imports alike."""

    invoice: Invoice
    body: InvoiceBody
    claims: list[UniqueClaim]
    new_counterparty: Counterparty | None
    overdue_instant: datetime | None
    # Created overdue: the run it starts in its campaign, written with it (None: no campaign applies).
    collection: Collection | None = None


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """What a list of invoices (or its CSV export) is narrowed to; dal/invoice_queries.py picks the
    index that serves it."""

    direction: Direction | None = None
    statuses: tuple[InvoiceStatus, ...] = ()
    counterparty_id: str | None = None
    segment: str | None = None
    currency: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    issue_from: date | None = None
    issue_to: date | None = None
    amount_min: int | None = None
    amount_max: int | None = None


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """An invoice as read: its header, body and documents, and how late it is today."""

    invoice: Invoice
    body: InvoiceBody | None
    documents: list[Document]
    days_past_due: int
