"""What a payment source reports, normalized: the contract between the provider adapters
(adapters/webhooks/*: Stripe, GoCardless, PayPal) and payment processing (services/payments.py).

A webhook body holds one or more provider events; each becomes one `PaymentEvent`. The adapter only
translates: it does not know tenants, invoices or what was recorded before. Processing decides the
effect from `action` and what it has recorded for `reference`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cashline.schemas.common import CurrencyCode


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


class EventAction(StrEnum):
    """What a provider event means for Cashline."""

    SUCCEEDED = "succeeded"  # money received for `reference` (a payment, capture or collected debit)
    PENDING = "pending"  # accepted, not settled yet (nothing is applied)
    FAILED = "failed"  # the payment `reference` failed (also after it had succeeded: a late failure)
    REFUNDED = "refunded"  # money given back for `reference`; see `amount_is_cumulative`
    CHARGED_BACK = "charged_back"  # the payer's bank took the money back (a dispute lost or a chargeback)
    CHARGEBACK_REVERSED = "chargeback_reversed"  # a dispute won: the money taken back returns
    DISPUTE_OPENED = "dispute_opened"  # a dispute without money moving yet (PayPal): an alert
    PAYOUT = "payout"  # the processor paid its balance to the business's bank account
    MANDATE_ENDED = "mandate_ended"  # a Direct Debit mandate was cancelled or failed: no more debits
    CANCELLED = "cancelled"  # a payment cancelled before it was collected
    IGNORED = "ignored"  # an event type Cashline does not act on (acknowledged, recorded as seen)


class Payer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    # The payer's id at the source (Stripe customer cus_..., GoCardless customer CU..., PayPal payer id).
    reference: str | None = Field(default=None, max_length=200)
    iban: str | None = Field(default=None, max_length=34)
    counterparty_id: str | None = Field(default=None, max_length=40)


class Targets(BaseModel):
    """What the source says the money is for, when it says it (processor metadata, invoice fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invoice_id: str | None = Field(default=None, max_length=40)  # a Cashline invoice id (inv_...)
    installment_id: str | None = Field(default=None, max_length=40)  # a Cashline installment id (ins_...)
    plan_id: str | None = Field(default=None, max_length=40)  # a Cashline financing plan id (fin_...)
    invoice_number: str | None = Field(default=None, max_length=100)  # the tenant's invoice number
    counterparty_id: str | None = Field(default=None, max_length=40)  # a Cashline counterparty id (cp_...)


class PaymentEvent(BaseModel):
    """One provider event, normalized."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: PaymentSource
    event_id: str = Field(min_length=1, max_length=200)  # unique per source: the dedupe key
    event_type: str = Field(max_length=100)  # the provider's own name, e.g. payment_intent.succeeded
    occurred_at: datetime  # timezone-aware
    action: EventAction
    # The provider's id of the money movement the event is about (pi_..., PM..., a PayPal capture id);
    # for PAYOUT the payout id, for MANDATE_ENDED the mandate id. None only for IGNORED.
    reference: str | None = Field(default=None, max_length=200)
    # For REFUNDED/CHARGED_BACK/CHARGEBACK_REVERSED: the reference of the payment the money came from.
    original_reference: str | None = Field(default=None, max_length=200)
    # Minor units, always positive. None when the event does not carry it (GoCardless events carry only
    # links: processing then asks the processor's API).
    amount: int | None = Field(default=None, ge=0)
    currency: CurrencyCode | None = None
    # True when `amount` is the total refunded so far for the original payment (Stripe's
    # charge.amount_refunded) rather than this refund's own amount (PayPal).
    amount_is_cumulative: bool = False
    method: PaymentMethod | None = None
    value_date: date | None = None
    payer: Payer = Payer()
    remittance_reference: str | None = Field(default=None, max_length=500)
    targets: Targets = Targets()
    failure_reason: str | None = Field(default=None, max_length=500)
    # The processor's own resource id when it differs from `reference` (a refund id, a dispute id).
    resource_id: str | None = Field(default=None, max_length=200)
