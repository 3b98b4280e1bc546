"""Product and price requests and responses (/v1/products, /v1/prices).

Tier fields carry no bounds here on purpose: the catalog rules (domain/billing/catalog.py) check
them and name the field as `tiers[i].up_to`, the same way for every tier problem.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cashline.domain.billing.catalog import (
    Price,
    Product,
    TaxBehavior,
    TaxCategory,
    Tier,
    TiersMode,
    UsageAggregation,
    UsageType,
)
from cashline.domain.billing.periods import Interval
from cashline.schemas.common import FREE_TEXT, CurrencyCode, ListQuery, OutputModel, RequestModel
from cashline.schemas.parties import Metadata

ProductName = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000), FREE_TEXT]
Nickname = Annotated[str, Field(min_length=1, max_length=200)]
LookupKey = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$",
        description="Your stable name for the price (letters, digits, _ . : -); unique per tenant",
        examples=["pro_monthly_eur"],
    ),
]
ObjectId = Annotated[str, Field(min_length=1, max_length=64)]

# The fields that make up what a price charges: changeable only while no subscription used it.
PRICE_TERM_FIELDS = (
    "currency",
    "unit_amount",
    "tiers",
    "tiers_mode",
    "interval",
    "interval_count",
    "tax_behavior",
    "usage_type",
    "aggregation",
)


# ------------------------------------------------------------------------------------- products


class CreateProductRequest(RequestModel):
    name: ProductName
    description: Description | None = None
    tax_category: TaxCategory
    metadata: Metadata | None = None


class UpdateProductRequest(RequestModel):
    version: int | None = Field(
        default=None, ge=0, description="The version you read; a stale one gives 409 (optional)"
    )
    name: ProductName | None = None
    description: Description | None = Field(default=None, description="null clears it")
    tax_category: TaxCategory | None = Field(
        default=None, description="Only while no price of the product is used (409 otherwise)"
    )
    archived: bool | None = None
    metadata: Metadata | None = Field(default=None, description="Replaced whole; null clears it")


class ProductListQuery(ListQuery):
    archived: bool | None = None


class ProductOutput(OutputModel):
    id: str
    object: str = "product"
    name: str
    description: str | None
    tax_category: TaxCategory
    archived: bool
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, product: Product) -> ProductOutput:
        return cls(
            id=product.product_id,
            name=product.name,
            description=product.description,
            tax_category=product.tax_category,
            archived=product.archived,
            metadata=product.metadata,
            created_at=product.created_at,
            updated_at=product.updated_at,
            version=product.version,
        )


# --------------------------------------------------------------------------------------- prices


class TierInput(RequestModel):
    up_to: int | None = Field(default=None, description="Last unit of the tier; null for the last tier")
    unit_amount: int = Field(description="Per unit, in minor units")
    flat_amount: int = Field(default=0, description="Once when the quantity reaches into the tier")

    def to_tier(self) -> Tier:
        return Tier(up_to=self.up_to, unit_amount=self.unit_amount, flat_amount=self.flat_amount)


class PriceTermsInput(RequestModel):
    """What a price charges (all optional here; the create request sets the defaults)."""

    unit_amount: int | None = Field(default=None, description="Per unit, in minor units; or tiers")
    tiers: list[TierInput] | None = Field(default=None, max_length=20)
    tiers_mode: TiersMode | None = None


class CreatePriceRequest(PriceTermsInput):
    product_id: ObjectId
    currency: CurrencyCode
    interval: Interval | None = Field(default=None, description="null: a one-off price")
    interval_count: int = 1
    tax_behavior: TaxBehavior = TaxBehavior.EXCLUSIVE
    usage_type: UsageType = UsageType.LICENSED
    aggregation: UsageAggregation = UsageAggregation.SUM
    lookup_key: LookupKey | None = None
    nickname: Nickname | None = None
    metadata: Metadata | None = None


class UpdatePriceRequest(PriceTermsInput):
    """active, nickname, lookup_key and metadata always; the terms only while the price is unused."""

    version: int | None = Field(
        default=None, ge=0, description="The version you read; a stale one gives 409 (optional)"
    )
    currency: CurrencyCode | None = None
    interval: Interval | None = None
    interval_count: int | None = None
    tax_behavior: TaxBehavior | None = None
    usage_type: UsageType | None = None
    aggregation: UsageAggregation | None = None
    active: bool | None = None
    lookup_key: LookupKey | None = Field(default=None, description="null releases it")
    nickname: Nickname | None = Field(default=None, description="null clears it")
    metadata: Metadata | None = Field(default=None, description="Replaced whole; null clears it")


class PriceListQuery(ListQuery):
    product_id: ObjectId | None = None
    lookup_key: LookupKey | None = None
    active: bool | None = None


class TierOutput(OutputModel):
    up_to: int | None
    unit_amount: int
    flat_amount: int


class PriceOutput(OutputModel):
    id: str
    object: str = "price"
    product_id: str
    currency: str
    unit_amount: int | None
    tiers: list[TierOutput]
    tiers_mode: TiersMode | None
    interval: Interval | None
    interval_count: int
    tax_behavior: TaxBehavior
    usage_type: UsageType
    aggregation: UsageAggregation
    lookup_key: str | None
    nickname: str | None
    active: bool
    used: bool = Field(description="A subscription uses it: its terms can no longer change")
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, price: Price) -> PriceOutput:
        return cls(
            id=price.price_id,
            product_id=price.product_id,
            currency=price.currency,
            unit_amount=price.unit_amount,
            tiers=[
                TierOutput(up_to=t.up_to, unit_amount=t.unit_amount, flat_amount=t.flat_amount)
                for t in price.tiers
            ],
            tiers_mode=price.tiers_mode,
            interval=price.interval,
            interval_count=price.interval_count,
            tax_behavior=price.tax_behavior,
            usage_type=price.usage_type,
            aggregation=price.aggregation,
            lookup_key=price.lookup_key,
            nickname=price.nickname,
            active=price.active,
            used=price.used,
            metadata=price.metadata,
            created_at=price.created_at,
            updated_at=price.updated_at,
            version=price.version,
        )
