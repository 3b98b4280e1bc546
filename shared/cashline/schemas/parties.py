"""Counterparty requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cashline.domain.counterparties import Counterparty, CounterpartyTotals
from cashline.schemas.common import OutputModel, RequestModel

ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=500)]],
    Field(max_length=20, description="Up to 20 of your own key-value pairs"),
]


class Address(RequestModel):
    line1: ShortText
    line2: ShortText | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    country: Annotated[str, Field(min_length=2, max_length=2)] | None = None


class CounterpartyFields(RequestModel):
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    address: Address | None = None
    country: Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")] | None = None
    preferred_language: Annotated[str, Field(max_length=16, examples=["de", "en_GB"])] | None = None
    segment: Annotated[str, Field(max_length=60, description="Your own label, e.g. 'enterprise'")] | None = (
        None
    )
    tax_id: Annotated[str, Field(max_length=32, description="VAT or tax id; unique per tenant")] | None = None
    iban: Annotated[str, Field(max_length=42, description="Checked: country format and checksum")] | None = (
        None
    )
    external_reference: Annotated[str, Field(max_length=100, description="Your id for it; unique")] | None = (
        None
    )
    metadata: Metadata | None = None


class CreateCounterpartyRequest(CounterpartyFields):
    name: ShortText


class UpdateCounterpartyRequest(CounterpartyFields):
    version: int = Field(ge=0, description="The version you read; a stale one gives 409")
    name: ShortText | None = None


class CounterpartyTotalsOutput(OutputModel):
    direction: str
    currency: str
    billed: int
    paid: int
    outstanding: int
    overdue: int
    open_invoices: int
    credit: int = Field(description="Paid beyond what was owed, not yet applied to an invoice")

    @classmethod
    def of(cls, totals: CounterpartyTotals) -> CounterpartyTotalsOutput:
        return cls(
            direction=totals.direction,
            currency=totals.currency,
            billed=totals.billed,
            paid=totals.paid,
            outstanding=totals.outstanding,
            overdue=totals.overdue,
            open_invoices=totals.open_count,
            credit=totals.credit,
        )


class CounterpartyOutput(OutputModel):
    id: str
    object: str = "counterparty"
    name: str
    email: str | None
    phone: str | None
    address: dict[str, str] | None
    country: str | None
    preferred_language: str | None
    segment: str | None
    tax_id: str | None
    iban: str | None
    external_reference: str | None
    metadata: dict[str, str]
    totals: list[CounterpartyTotalsOutput] = Field(
        description="Per direction and currency, in minor units; kept current with every invoice change"
    )
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(
        cls, counterparty: Counterparty, totals: list[CounterpartyTotals] | None = None
    ) -> CounterpartyOutput:
        return cls(
            id=counterparty.counterparty_id,
            name=counterparty.name,
            email=counterparty.email,
            phone=counterparty.phone,
            address=counterparty.address,
            country=counterparty.country,
            preferred_language=counterparty.preferred_language,
            segment=counterparty.segment,
            tax_id=counterparty.tax_id,
            iban=counterparty.iban,
            external_reference=counterparty.external_reference,
            metadata=counterparty.metadata,
            totals=[CounterpartyTotalsOutput.of(t) for t in totals or []],
            created_at=counterparty.created_at,
            updated_at=counterparty.updated_at,
            version=counterparty.version,
        )


class CounterpartyListQuery(RequestModel):
    limit: int = Field(default=20, ge=1, le=100)
    starting_after: str | None = Field(default=None, max_length=2048)
    segment: str | None = Field(default=None, max_length=60)
