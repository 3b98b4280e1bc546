"""Invoice requests and responses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from cashline.domain.invoices import (
    Direction,
    Document,
    DocumentKind,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    InvoiceView,
    LineAmountError,
    LineInput,
    NewInvoice,
    price_lines,
)
from cashline.schemas.common import (
    FREE_TEXT,
    BusinessDate,
    CurrencyCode,
    FieldProblem,
    MinorUnits,
    OutputModel,
    RequestModel,
)
from cashline.schemas.parties import CreateCounterpartyRequest, Metadata

DecimalText = Annotated[str, Field(pattern=r"^-?\d{1,12}(\.\d{1,6})?$", examples=["2.5"])]


class CounterpartyReference(RequestModel):
    id: str = Field(description="An existing counterparty's id")


class LineRequest(RequestModel):
    description: Annotated[str, Field(min_length=1, max_length=500), FREE_TEXT]
    quantity: DecimalText = Field(description="Decimal as a string, e.g. '2.5'")
    unit_amount: MinorUnits = Field(description="Net price per unit, in minor units")
    tax_rate: DecimalText = Field(description="Percent as a string, e.g. '19' or '7.7'")


class CreateInvoiceRequest(RequestModel):
    # What `_amount_or_lines` checks, said in the schema so clients and generators know it.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["amount_due"], "properties": {"amount_due": {"type": "integer"}}},
                {"required": ["lines"], "properties": {"lines": {"type": "array"}}},
            ]
        }
    )

    direction: Direction
    counterparty: Annotated[
        Annotated[CounterpartyReference, Tag("Reference")]
        | Annotated[CreateCounterpartyRequest, Tag("Inline")],
        # Chosen by the `id` key, so an error names the field of the form the client meant instead of
        # listing what the other form would miss. Tags are capitalised: `field_of` drops them from paths.
        Discriminator(lambda value: "Reference" if isinstance(value, dict) and "id" in value else "Inline"),
    ] = Field(
        description="{'id': ...} of an existing one, or an inline counterparty (matched by "
        "external_reference or tax_id, else created)"
    )
    number: Annotated[str, Field(min_length=1, max_length=64)]
    issue_date: BusinessDate
    due_date: BusinessDate
    currency: CurrencyCode
    amount_due: MinorUnits | None = Field(default=None, gt=0, description="Total, when no lines are given")
    lines: Annotated[list[LineRequest], Field(min_length=1, max_length=500)] | None = None
    kind: DocumentKind = DocumentKind.INVOICE
    status: Literal["draft", "open"] = "open"
    description: Annotated[str, Field(max_length=1000), FREE_TEXT] | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _amount_or_lines(self) -> CreateInvoiceRequest:
        if (self.amount_due is None) == (self.lines is None):
            raise ValueError("give exactly one of amount_due and lines")
        return self

    @model_validator(mode="after")
    def _totals_within_limit(self) -> CreateInvoiceRequest:
        # The same arithmetic the invoice is priced with: a line that takes an amount beyond the limit
        # is named here, before anything is written.
        try:
            price_lines(self.line_inputs())
        except LineAmountError as exc:
            raise FieldProblem(str(exc), f"lines.{exc.index}.quantity") from None
        return self

    def line_inputs(self) -> list[LineInput]:
        return [
            LineInput(
                description=line.description,
                quantity=to_decimal(line.quantity),
                unit_amount=line.unit_amount,
                tax_rate=to_decimal(line.tax_rate),
            )
            for line in self.lines or []
        ]

    def to_new_invoice(self) -> NewInvoice:
        reference = self.counterparty if isinstance(self.counterparty, CounterpartyReference) else None
        inline = None if reference else self.counterparty.model_dump(exclude_none=True)
        lines = self.line_inputs() if self.lines else None
        return NewInvoice(
            direction=self.direction,
            number=self.number,
            issue_date=self.issue_date,
            due_date=self.due_date,
            currency=self.currency,
            counterparty_id=reference.id if reference else None,
            counterparty=inline,
            amount_due=self.amount_due,
            lines=lines,
            description=self.description,
            metadata=self.metadata,
            status=InvoiceStatus(self.status),
            document_kind=self.kind,
        )


class ChangeStatusRequest(RequestModel):
    status: Literal["open", "disputed", "void", "written_off"] = Field(
        description="open: finalize a draft or resolve a dispute (the amounts and dates then decide between "
        "open, partially_paid and overdue)"
    )
    version: int | None = Field(default=None, ge=0, description="When given, a stale version gives 409")
    note: Annotated[str, Field(max_length=1000), FREE_TEXT] | None = None


class DocumentOutput(OutputModel):
    id: str
    object: str = "document"
    role: str = Field(description="attachment, or source: the e-invoice file the invoice was imported from")
    status: str = Field(description="pending (upload not checked yet), available, or quarantined")
    content_type: str
    detected_type: str | None
    filename: str | None
    size_bytes: int | None
    sha256: str | None
    problem: str | None
    created_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentOutput:
        return cls(
            id=document.document_id,
            role=document.role,
            status=document.status,
            content_type=document.declared_content_type,
            detected_type=document.detected_content_type,
            filename=document.filename,
            size_bytes=document.size_bytes,
            sha256=document.sha256,
            problem=document.problem,
            created_at=document.created_at,
        )


class InvoiceOutput(OutputModel):
    id: str
    object: str = "invoice"
    direction: Direction
    kind: DocumentKind
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
    amount_outstanding: int
    days_past_due: int | None = Field(default=None, description="Whole days since the due date while unpaid")
    status: InvoiceStatus
    description: str | None
    source: str
    metadata: dict[str, str]
    lines: list[dict[str, Any]] | None = None
    taxes: list[dict[str, Any]] | None = None
    details: dict[str, Any] | None = Field(default=None, description="From an imported e-invoice")
    documents: list[DocumentOutput] | None = None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def summary(cls, view: InvoiceView | Invoice) -> InvoiceOutput:
        """The header alone, as a list shows it. Every field the invoice has under the same name is
        copied (a new header field needs only its line above); `id` and `kind` are renamed."""
        invoice = view.invoice if isinstance(view, InvoiceView) else view
        return cls(
            id=invoice.invoice_id,
            kind=invoice.document_kind,
            **{name: getattr(invoice, name) for name in _fields_named_alike()},
        )

    @classmethod
    def of(cls, view: InvoiceView) -> InvoiceOutput:
        output = cls.summary(view)
        output.days_past_due = view.days_past_due
        output.documents = [DocumentOutput.of(d) for d in view.documents]
        if view.body is not None:
            output.lines, output.taxes, output.details = view.body.lines, view.body.taxes, view.body.details
        return output


@cache
def _fields_named_alike() -> tuple[str, ...]:
    """InvoiceOutput's fields an Invoice has under the same name (amount_outstanding included)."""
    return tuple(name for name in InvoiceOutput.model_fields if hasattr(Invoice, name))


class InvoiceListQuery(RequestModel):
    limit: int = Field(default=20, ge=1, le=100)
    starting_after: str | None = Field(default=None, max_length=4096)
    direction: Direction | None = None
    status: str | None = Field(default=None, description="One or several, comma-separated: overdue,open")
    counterparty_id: str | None = None
    segment: str | None = None
    currency: CurrencyCode | None = None
    due_from: BusinessDate | None = None
    due_to: BusinessDate | None = None
    issue_from: BusinessDate | None = None
    issue_to: BusinessDate | None = None
    amount_min: MinorUnits | None = Field(default=None, description="Minor units; needs currency")
    amount_max: MinorUnits | None = Field(default=None, description="Minor units; needs currency")


class InvoiceEventOutput(OutputModel):
    id: str
    object: str = "invoice_event"
    at: datetime
    actor: str = Field(description="key:<key id> for a person's API key, system:<job>, import:<source>")
    action: str
    changes: dict[str, list[Any]]
    note: str | None

    @classmethod
    def of(cls, event: InvoiceEvent) -> InvoiceEventOutput:
        return cls(
            id=event.event_id,
            at=event.at,
            actor=event.actor,
            action=event.action,
            changes=event.changes,
            note=event.note,
        )


def to_decimal(text: str) -> Decimal:
    return Decimal(text)
