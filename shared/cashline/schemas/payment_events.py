"""What a payment source reports, normalized: the contract between the provider adapters
(adapters/webhooks/*: Stripe, GoCardless, PayPal) and payment processing (services/payments/).

A webhook body holds one or more provider events; each becomes one `PaymentEvent`. The adapter only
translates: it does not know tenants, invoices or what was recorded before. Processing decides the
effect from `action` and what it has recorded for `reference`.

`PaymentEvent` stays a pydantic schema, not a domain type, because it is a wire format: it crosses the
webhook queue as JSON (services/webhooks.py writes it at intake and validates it again when the
message is processed), and the adapters build it from untrusted provider bodies, so its limits
(lengths, positive amounts, currency codes) are checked where it is made. Processing maps its payer
and targets to the domain's (`to_domain`) when it records a `cashline.domain.payments.Payment`.
`Payer` and `Targets` are also the wire shape of those parts in the API's payment answer.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cashline.domain import payments as domain
from cashline.domain.payments import PaymentMethod, PaymentSource
from cashline.schemas.common import CurrencyCode


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

    @classmethod
    def of(cls, payer: domain.Payer) -> Payer:
        return cls.model_validate(payer, from_attributes=True)

    def to_domain(self) -> domain.Payer:
        return domain.Payer(**self.model_dump())


class Targets(BaseModel):
    """What the source says the money is for, when it says it (processor metadata, invoice fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invoice_id: str | None = Field(default=None, max_length=40)  # a Cashline invoice id (inv_...)
    installment_id: str | None = Field(default=None, max_length=40)  # a Cashline installment id (ins_...)
    plan_id: str | None = Field(default=None, max_length=40)  # a Cashline financing plan id (fin_...)
    invoice_number: str | None = Field(default=None, max_length=100)  # the tenant's invoice number
    counterparty_id: str | None = Field(default=None, max_length=40)  # a Cashline counterparty id (cp_...)

    @classmethod
    def of(cls, targets: domain.Targets) -> Targets:
        return cls.model_validate(targets, from_attributes=True)

    def to_domain(self) -> domain.Targets:
        return domain.Targets(**self.model_dump())


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
