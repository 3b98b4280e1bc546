"""The payment routes' wire formats: the requests, and the answers mapped from the domain's values
(cashline.domain.payments) at the edge with `.of(...)`.

The answer's models keep the domain's names (`Payment`, `Allocation`, `HistoryEntry`): the OpenAPI
document names its components after them, and clients already know those names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from cashline.domain import payments as domain
from cashline.domain.allocation import AllocationRule
from cashline.domain.counterparties import check_email
from cashline.domain.invoices import Direction
from cashline.domain.payments import PaymentKind, PaymentMethod, PaymentSource, PaymentStatus, TargetType
from cashline.schemas.common import (
    BusinessDate,
    CurrencyCode,
    ListQuery,
    MinorUnits,
    OutputModel,
    RequestModel,
)
from cashline.schemas.payment_events import Payer, Targets

EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(check_email)]


class Allocation(BaseModel):
    """A share of a payment applied to one invoice or installment, in that target's currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_type: TargetType
    target_id: str
    amount: int = Field(gt=0)
    currency: str
    at: datetime
    actor: str
    reversed_amount: int = Field(default=0, ge=0)
    number: str | None = None  # the invoice's number, for people reading the list
    plan_id: str | None = None  # an installment's plan

    @classmethod
    def of(cls, allocation: domain.Allocation) -> Allocation:
        return cls.model_validate(allocation, from_attributes=True)


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    action: str  # recorded, allocated, reversed, status_changed, merged_event, ...
    actor: str
    event_id: str | None = None
    note: str | None = None

    @classmethod
    def of(cls, entry: domain.HistoryEntry) -> HistoryEntry:
        return cls.model_validate(entry, from_attributes=True)


class Payment(BaseModel):
    """One normalized payment, whatever its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    tenant_id: str
    direction: Direction  # receivable: money in from a customer; payable: money out to a supplier
    source: PaymentSource
    source_event_id: str | None = None  # the first event that reported it
    source_reference: str | None = None  # the source's id of the money movement (pi_..., PM..., capture)
    connection_id: str | None = None
    kind: PaymentKind
    status: PaymentStatus
    amount: int = Field(ge=0)
    currency: str
    # When the payment pays an invoice in another currency: the amount in the invoice's currency and
    # the rate used (invoice currency units per payment currency unit, as a decimal string).
    invoice_amount: int | None = None
    invoice_currency: str | None = None
    fx_rate: str | None = None
    value_date: date
    method: PaymentMethod | None = None
    payer: Payer = Payer()
    remittance_reference: str | None = None
    targets: Targets = Targets()
    counterparty_id: str | None = None
    allocations: list[Allocation] = []
    allocated_amount: int = 0  # standing allocations, in the payment's currency
    unallocated_amount: int = 0  # the payer's credit (or held for a person under the manual rule)
    reversed_amount: int = 0  # refunded, charged back or failed after success
    related_payment_id: str | None = None  # a refund's or chargeback's original payment; a fee's payout
    # A processor payout's composition: its settled payments' gross, the fees, their references.
    settled_gross: int | None = None
    fees: int | None = None
    settled_references: tuple[str, ...] = ()
    raw_payload_key: str | None = None  # the webhook body as received, in S3
    failure_reason: str | None = None
    hold_reason: str | None = None  # why nothing (or not all) was applied automatically
    history: list[HistoryEntry] = []
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @classmethod
    def of(cls, payment: domain.Payment) -> Payment:
        """The answer for a payment: field for field (tests/unit/test_payment_shapes.py keeps the two
        in step), its parts as their own answers."""
        return cls.model_validate(payment, from_attributes=True)


class RecordPaymentRequest(RequestModel):
    """A payment recorded by a person or by the bank-transfer channel."""

    amount: MinorUnits = Field(gt=0)
    currency: CurrencyCode
    value_date: BusinessDate
    method: PaymentMethod = PaymentMethod.BANK_TRANSFER
    source: Literal["manual", "bank_transfer"] = "manual"
    direction: Direction = Direction.RECEIVABLE
    payer_name: Annotated[str, Field(max_length=200)] | None = None
    payer_iban: Annotated[str, Field(max_length=34)] | None = None
    counterparty_id: Annotated[str, Field(max_length=40)] | None = None
    remittance_reference: Annotated[str, Field(max_length=500)] | None = None
    invoice_id: Annotated[str, Field(max_length=40)] | None = None
    # Paying an invoice in another currency: what the payment is worth in the invoice's currency.
    invoice_amount: MinorUnits | None = Field(default=None, gt=0)
    bank_reference: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="The bank's id of the transfer: the same id twice is one payment"
    )

    @model_validator(mode="after")
    def _invoice_amount_needs_invoice(self) -> RecordPaymentRequest:
        if self.invoice_amount is not None and self.invoice_id is None:
            raise ValueError("invoice_amount is given only with invoice_id")
        return self


class AllocationRequestItem(RequestModel):
    invoice_id: Annotated[str, Field(max_length=40)]
    amount: MinorUnits = Field(gt=0)


class AllocateRequest(RequestModel):
    allocations: Annotated[list[AllocationRequestItem], Field(min_length=1, max_length=20)]


class PaymentsQuery(ListQuery):
    status: PaymentStatus | None = None
    kind: PaymentKind | None = None
    source: PaymentSource | None = None
    method: PaymentMethod | None = None
    currency: CurrencyCode | None = None
    counterparty_id: Annotated[str, Field(max_length=40)] | None = None
    unallocated: bool | None = Field(default=None, description="Only payments with money not yet applied")
    value_date_from: BusinessDate | None = None
    value_date_to: BusinessDate | None = None


class CreateConnectionRequest(RequestModel):
    provider: Literal["stripe", "gocardless", "paypal"]
    name: Annotated[str, Field(max_length=200)] | None = None
    webhook_secret: Annotated[str, Field(min_length=8, max_length=500)] = Field(
        description="Stripe: the endpoint's signing secret (whsec_...); GoCardless: the webhook "
        "endpoint secret; PayPal: the webhook id PayPal gave the subscription"
    )
    api_key: Annotated[str, Field(min_length=8, max_length=500)] | None = Field(
        default=None, description="The processor API credential (Stripe secret key, GoCardless access token)"
    )


class RotateSecretRequest(RequestModel):
    webhook_secret: Annotated[str, Field(min_length=8, max_length=500)]
    previous_valid_hours: int = Field(
        default=24, ge=0, le=168, description="How long the previous secret is still accepted"
    )


class ConnectionOutputItem(OutputModel):
    id: str
    provider: str
    name: str | None
    status: str
    webhook_path: str
    secret_hint: str | None
    previous_secret_expires_at: datetime | None
    has_api_credentials: bool
    created_at: datetime
    updated_at: datetime


class PaymentSettingsRequest(RequestModel):
    allocation_rule: AllocationRule = AllocationRule.OLDEST_FIRST
    alert_thresholds: dict[CurrencyCode, MinorUnits] = Field(
        default_factory=dict, description="Alert when a payment at or above this amount clears"
    )
    finance_emails: Annotated[list[EmailAddress], Field(max_length=10)] = Field(default_factory=list)
    webhook_url: HttpUrl | None = Field(default=None, description="Called with every alert, signed")
    auto_apply_credit: bool = Field(
        default=True, description="Apply a payer's credit to its next invoice when the invoice is created"
    )
    version: int = Field(default=0, ge=0, description="The version read; 0 for the first save")


class PaymentSettingsItem(OutputModel):
    allocation_rule: AllocationRule
    alert_thresholds: dict[str, int]
    finance_emails: list[str]
    webhook_url: str | None
    webhook_secret: str | None = Field(
        default=None, description="Shown once, when the webhook URL is first set or changed"
    )
    auto_apply_credit: bool
    version: int
