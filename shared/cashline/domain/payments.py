"""A payment as Cashline keeps it, whatever its source (a processor's webhook, the bank-transfer
channel, a person): plain values the services change with `dataclasses.replace`.

The API's answer (schemas/payments.py) and the stored item (dal/payment_repository.py) are mapped from
these at the edges; nothing here knows HTTP, pydantic or DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from cashline.domain.invoices import Direction


class PaymentSource(StrEnum):
    STRIPE = "stripe"
    GOCARDLESS = "gocardless"
    PAYPAL = "paypal"
    MANUAL = "manual"  # recorded by a person through the API
    BANK_TRANSFER = "bank_transfer"  # the bank-transfer channel (statement import, bank notification)


class PaymentKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    PAYOUT = "payout"
    FEE = "fee"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REVERSED = "reversed"


class PaymentMethod(StrEnum):
    CARD = "card"
    SEPA_DEBIT = "sepa_debit"
    BACS_DEBIT = "bacs_debit"
    ACH_DEBIT = "ach_debit"
    BECS_DEBIT = "becs_debit"
    AUTOGIRO = "autogiro"
    BANK_TRANSFER = "bank_transfer"
    PAYPAL = "paypal"
    CASH = "cash"
    CHEQUE = "cheque"
    OTHER = "other"


# Direct Debits: a failure of one is news for finance (the customer's account did not pay).
DEBIT_METHODS = frozenset({"sepa_debit", "bacs_debit", "ach_debit", "becs_debit", "autogiro"})

TargetType = Literal["invoice", "installment"]


@dataclass(frozen=True, slots=True)
class Payer:
    """Who paid, as the source names them."""

    name: str | None = None
    email: str | None = None
    # The payer's id at the source (Stripe customer cus_..., GoCardless customer CU..., PayPal payer id).
    reference: str | None = None
    iban: str | None = None
    counterparty_id: str | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """What the source says the money is for, when it says it (processor metadata, invoice fields)."""

    invoice_id: str | None = None  # a Cashline invoice id (inv_...)
    installment_id: str | None = None  # a Cashline installment id (ins_...)
    plan_id: str | None = None  # a Cashline financing plan id (fin_...)
    invoice_number: str | None = None  # the tenant's invoice number
    counterparty_id: str | None = None  # a Cashline counterparty id (cp_...)

    def merged_with(self, other: Targets) -> Targets:
        """What either says, this one first (two events about one money movement)."""
        return Targets(
            invoice_id=self.invoice_id or other.invoice_id,
            installment_id=self.installment_id or other.installment_id,
            plan_id=self.plan_id or other.plan_id,
            invoice_number=self.invoice_number or other.invoice_number,
            counterparty_id=self.counterparty_id or other.counterparty_id,
        )


@dataclass(frozen=True, slots=True)
class Allocation:
    """A share of a payment applied to one invoice or installment, in that target's currency."""

    target_type: TargetType
    target_id: str
    amount: int
    currency: str
    at: datetime
    actor: str
    reversed_amount: int = 0
    number: str | None = None  # the invoice's number, for people reading the list
    plan_id: str | None = None  # an installment's plan

    @property
    def standing(self) -> int:
        """What is still applied: the share less what a refund, chargeback or failure took back."""
        return self.amount - self.reversed_amount


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    action: str  # recorded, allocated, reversed, status_changed, merged_event, ...
    actor: str
    event_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """One normalized payment, whatever its source."""

    id: str
    tenant_id: str
    direction: Direction  # receivable: money in from a customer; payable: money out to a supplier
    source: PaymentSource
    source_event_id: str | None = None  # the first event that reported it
    source_reference: str | None = None  # the source's id of the money movement (pi_..., PM..., capture)
    connection_id: str | None = None
    kind: PaymentKind
    status: PaymentStatus
    amount: int
    currency: str
    # When the payment pays an invoice in another currency: the amount in the invoice's currency and
    # the rate used (invoice currency units per payment currency unit, as a decimal string).
    invoice_amount: int | None = None
    invoice_currency: str | None = None
    fx_rate: str | None = None
    value_date: date
    method: PaymentMethod | None = None
    payer: Payer = field(default_factory=Payer)
    remittance_reference: str | None = None
    targets: Targets = field(default_factory=Targets)
    counterparty_id: str | None = None
    allocations: tuple[Allocation, ...] = ()
    allocated_amount: int = 0  # standing allocations, in the payment's currency
    unallocated_amount: int = 0  # the payer's credit (or held for a person under the manual rule)
    reversed_amount: int = 0  # refunded, charged back or failed after success
    related_payment_id: str | None = None  # a refund's or chargeback's original payment; a fee's payout
    # A processor payout's composition (services.payments.payouts): what the payments it settled add
    # up to, the fees the processor took, and the settled items' references (the first 500).
    settled_gross: int | None = None
    fees: int | None = None
    settled_references: tuple[str, ...] = ()
    raw_payload_key: str | None = None  # the webhook body as received, in S3
    failure_reason: str | None = None
    hold_reason: str | None = None  # why nothing (or not all) was applied automatically
    history: tuple[HistoryEntry, ...] = ()
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def holds_credit(self) -> bool:
        """Money of a succeeded payment not applied to anything: the payer's credit (or held)."""
        return self.status is PaymentStatus.SUCCEEDED and self.unallocated_amount > 0

    @property
    def credit_key(self) -> tuple[str, str, str]:
        """Where the payer's credit is totalled: counterparty, direction, currency."""
        return (self.counterparty_id or "", self.direction.value, self.currency)

    def invoice_ids(self) -> list[str]:
        return [a.target_id for a in self.allocations if a.target_type == "invoice"]

    def received(self) -> tuple[int, int]:
        """(amount, count) this payment adds to "received per month and method": money in that
        stayed in. A refund, chargeback or payout adds nothing; a reversed payment its remainder."""
        if self.kind is not PaymentKind.PAYMENT:
            return 0, 0
        if self.status not in {PaymentStatus.SUCCEEDED, PaymentStatus.REVERSED}:
            return 0, 0
        return self.amount - self.reversed_amount, 1 if self.status is PaymentStatus.SUCCEEDED else 0
