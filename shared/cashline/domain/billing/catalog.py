"""The catalog: products, their prices and what a price charges for a quantity.

Plain Python: no storage, no clock. A product says *what* is sold (and so its tax category); a
price says *how much*, in one currency, once or every ``interval_count`` x ``interval``. Once a
subscription uses a price its terms never change (``used``); a subscription item keeps a
``PriceTerms`` copy so an invoice never has to read the catalog again.

Tiered prices (``tiers`` with ``tiers_mode``). A tier's ``up_to`` is the last unit it covers
(inclusive); tiers are in ascending ``up_to`` order and the last one is open (``None``).

* graduated: every tier prices its own slice of the quantity, plus its ``flat_amount`` once the
  quantity reaches into it. Tiers (up_to 10: 500 + flat 1000), (up_to 50: 400), (None: 300) and
  quantity 60: 10 x 500 + 1000 + 40 x 400 + 10 x 300 = 5000 + 1000 + 16000 + 3000 = 25000.
* volume: the whole quantity is priced at the one tier it falls in: same tiers, quantity 60 ->
  60 x 300 = 18000; quantity 10 -> 10 x 500 + 1000 = 6000.

A quantity of 0 reaches no tier and costs 0 in both modes (a metered item with no usage is not
charged a tier's flat fee). No rounding happens anywhere: amounts are integer minor units times
integer quantities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cashline.domain.billing.periods import Interval
from cashline.domain.money import MAX_MINOR_UNITS, within_limit


class TaxCategory(StrEnum):
    """What kind of supply a product is, for the VAT rate decision (see domain/billing/tax.py)."""

    STANDARD = "standard"
    REDUCED = "reduced"
    ZERO = "zero"
    EXEMPT = "exempt"
    DIGITAL_SERVICE = "digital_service"


class TaxBehavior(StrEnum):
    """Whether a price's amounts are net (tax added on top) or gross (tax included)."""

    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


class UsageType(StrEnum):
    """Licensed: billed in advance for a quantity; metered: billed in arrears for reported usage."""

    LICENSED = "licensed"
    METERED = "metered"


class UsageAggregation(StrEnum):
    """How a period's usage reports add up: their sum, or the last reported value."""

    SUM = "sum"
    LAST = "last"


class TiersMode(StrEnum):
    GRADUATED = "graduated"
    VOLUME = "volume"


# Intervals a recurring price may have: at most twelve units, at most three years.
MAX_INTERVAL_COUNT = {
    Interval.DAY: 12,
    Interval.WEEK: 12,
    Interval.MONTH: 12,
    Interval.QUARTER: 12,
    Interval.YEAR: 3,
}
MAX_TIERS = 20


class CatalogRuleError(ValueError):
    """A product or price that breaks a catalog rule; ``field`` names the offending input."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None
    unit_amount: int
    flat_amount: int = 0


@dataclass(frozen=True, slots=True)
class Product:
    tenant_id: str
    product_id: str
    name: str
    description: str | None
    tax_category: TaxCategory
    archived: bool
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """What a subscription item keeps of its price and product (prices are immutable once used)."""

    price_id: str
    product_id: str
    product_name: str
    tax_category: TaxCategory
    currency: str
    unit_amount: int | None
    tiers: tuple[Tier, ...]
    tiers_mode: TiersMode | None
    interval: Interval | None
    interval_count: int
    tax_behavior: TaxBehavior
    usage_type: UsageType
    aggregation: UsageAggregation


@dataclass(frozen=True, slots=True)
class Price:
    tenant_id: str
    price_id: str
    product_id: str
    currency: str
    unit_amount: int | None
    tiers: tuple[Tier, ...]
    tiers_mode: TiersMode | None
    interval: Interval | None
    interval_count: int
    tax_behavior: TaxBehavior
    usage_type: UsageType
    aggregation: UsageAggregation
    lookup_key: str | None
    nickname: str | None
    active: bool
    used: bool
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    version: int


def terms_of(price: Price, product: Product) -> PriceTerms:
    """The terms a subscription item keeps: the price's amounts plus the product's name and tax."""
    if price.product_id != product.product_id:
        raise ValueError(f"price {price.price_id} is not a price of product {product.product_id}")
    return PriceTerms(
        price_id=price.price_id,
        product_id=product.product_id,
        product_name=product.name,
        tax_category=product.tax_category,
        currency=price.currency,
        unit_amount=price.unit_amount,
        tiers=price.tiers,
        tiers_mode=price.tiers_mode,
        interval=price.interval,
        interval_count=price.interval_count,
        tax_behavior=price.tax_behavior,
        usage_type=price.usage_type,
        aggregation=price.aggregation,
    )


def amount_for_quantity(terms: PriceTerms, quantity: int) -> int:
    """What ``quantity`` units cost under ``terms``, in minor units (the module docstring's rules).

    Unit price 1500 x quantity 3 = 4500. Raises ValueError for a negative quantity and
    AmountLimitError when the amount is beyond ``MAX_MINOR_UNITS``.
    """
    if quantity < 0:
        raise ValueError("a quantity cannot be negative")
    if terms.unit_amount is not None:
        return within_limit(terms.unit_amount * quantity, "the amount")
    if terms.tiers_mode is TiersMode.VOLUME:
        return within_limit(_volume_amount(terms.tiers, quantity), "the amount")
    return within_limit(_graduated_amount(terms.tiers, quantity), "the amount")


def _graduated_amount(tiers: Sequence[Tier], quantity: int) -> int:
    total = 0
    covered = 0  # units already priced by the lower tiers
    for tier in tiers:
        if quantity <= covered:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        total += (top - covered) * tier.unit_amount + tier.flat_amount
        covered = top
    return total


def _volume_amount(tiers: Sequence[Tier], quantity: int) -> int:
    if quantity == 0:
        return 0
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return quantity * tier.unit_amount + tier.flat_amount
    raise ValueError("the tiers end before the quantity (the last tier must be open)")


def check_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """The tiers if they are well-formed; CatalogRuleError naming ``tiers[i].<field>`` otherwise.

    Well-formed: 1..MAX_TIERS tiers, amounts 0..MAX_MINOR_UNITS, ``up_to`` >= 1 and strictly
    ascending, only the last tier open (``up_to`` None).
    """
    if not tiers:
        raise CatalogRuleError("at least one tier is needed", "tiers")
    if len(tiers) > MAX_TIERS:
        raise CatalogRuleError(f"at most {MAX_TIERS} tiers", "tiers")
    previous = 0
    last = len(tiers) - 1
    for index, tier in enumerate(tiers):
        _check_amount(tier.unit_amount, f"tiers[{index}].unit_amount")
        _check_amount(tier.flat_amount, f"tiers[{index}].flat_amount")
        if tier.up_to is None:
            if index != last:
                raise CatalogRuleError("only the last tier may be open", f"tiers[{index}].up_to")
            continue
        if index == last:
            raise CatalogRuleError("the last tier must be open (up_to null)", f"tiers[{index}].up_to")
        if tier.up_to <= previous:
            raise CatalogRuleError(
                "up_to must be at least 1 and above the previous tier's", f"tiers[{index}].up_to"
            )
        previous = tier.up_to
    return tuple(tiers)


def check_amount_terms(unit_amount: int | None, tiers: Sequence[Tier], tiers_mode: TiersMode | None) -> None:
    """Exactly one of a unit amount or tiers (with their mode); CatalogRuleError otherwise."""
    if unit_amount is not None:
        if tiers or tiers_mode is not None:
            raise CatalogRuleError("give either unit_amount or tiers, not both", "unit_amount")
        _check_amount(unit_amount, "unit_amount")
        return
    if not tiers:
        raise CatalogRuleError("give either unit_amount or tiers", "unit_amount")
    if tiers_mode is None:
        raise CatalogRuleError("tiers need a tiers_mode (graduated or volume)", "tiers_mode")
    check_tiers(tiers)


def check_recurrence(interval: Interval | None, interval_count: int, usage_type: UsageType) -> None:
    """A one-off price (no interval) is licensed; a recurring one repeats 1..12 units (year 1..3)."""
    if interval is None:
        if usage_type is UsageType.METERED:
            raise CatalogRuleError("a metered price needs an interval", "interval")
        if interval_count != 1:
            raise CatalogRuleError("a one-off price has interval_count 1", "interval_count")
        return
    most = MAX_INTERVAL_COUNT[interval]
    if not 1 <= interval_count <= most:
        raise CatalogRuleError(
            f"interval_count must be 1..{most} for interval {interval.value}", "interval_count"
        )


def check_price(price: Price) -> Price:
    """``price`` if its terms hold together (amount terms, recurrence, aggregation); CatalogRuleError
    naming the field otherwise."""
    check_amount_terms(price.unit_amount, price.tiers, price.tiers_mode)
    check_recurrence(price.interval, price.interval_count, price.usage_type)
    if price.usage_type is UsageType.LICENSED and price.aggregation is not UsageAggregation.SUM:
        # A licensed quantity is set, not reported: there is nothing to aggregate.
        raise CatalogRuleError("aggregation applies to metered prices only", "aggregation")
    return price


def _check_amount(amount: int, field: str) -> None:
    if not 0 <= amount <= MAX_MINOR_UNITS:
        raise CatalogRuleError(f"must be between 0 and {MAX_MINOR_UNITS} minor units", field)
