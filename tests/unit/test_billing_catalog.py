"""Catalog rules: what a price charges for a quantity (unit, graduated, volume) and what a valid price is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.billing.catalog import (
    CatalogRuleError,
    Price,
    PriceTerms,
    Product,
    TaxBehavior,
    TaxCategory,
    Tier,
    TiersMode,
    UsageAggregation,
    UsageType,
    amount_for_quantity,
    check_price,
    check_tiers,
    terms_of,
)
from cashline.domain.billing.periods import Interval
from cashline.domain.money import (
    MAX_MINOR_UNITS,
    NON_BILLING_CURRENCIES,
    AmountLimitError,
    CurrencyError,
    check_billing_currency,
    normalize_currency,
)
from cashline.errors import ValidationError
from cashline.schemas.billing_catalog import CreatePriceRequest, UpdatePriceRequest
from cashline.schemas.common import parse_json
from tests.billing_utils import price_terms

AT = datetime(2027, 3, 15, 10, tzinfo=UTC)
TIERS = (Tier(up_to=10, unit_amount=500, flat_amount=1000), Tier(up_to=50, unit_amount=400), Tier(None, 300))


def _terms(
    *, unit_amount: int | None = None, tiers: tuple[Tier, ...] = (), mode: TiersMode | None = None
) -> PriceTerms:
    return price_terms("prc_1", unit_amount, product_name="Seats", tiers=tiers, tiers_mode=mode)


def _price(**changes: object) -> Price:
    price = Price(
        tenant_id="ten_1",
        price_id="prc_1",
        product_id="prd_1",
        currency="EUR",
        unit_amount=1500,
        tiers=(),
        tiers_mode=None,
        interval=Interval.MONTH,
        interval_count=1,
        tax_behavior=TaxBehavior.EXCLUSIVE,
        usage_type=UsageType.LICENSED,
        aggregation=UsageAggregation.SUM,
        lookup_key=None,
        nickname=None,
        active=True,
        used=False,
        metadata={},
        created_at=AT,
        updated_at=AT,
        version=1,
    )
    return replace(price, **changes)  # type: ignore[arg-type]


def test_unit_price_times_quantity() -> None:
    assert amount_for_quantity(_terms(unit_amount=1500), 3) == 4500
    assert amount_for_quantity(_terms(unit_amount=1500), 0) == 0


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 0),  # no tier reached: not even the first tier's flat fee
        (1, 500 + 1000),
        (10, 10 * 500 + 1000),  # 6000: the first tier exactly
        (11, 6000 + 400),  # 6400: one unit into the second tier
        (50, 6000 + 40 * 400),  # 22000
        (60, 6000 + 16000 + 10 * 300),  # 25000: the module docstring's example
    ],
)
def test_graduated_prices_each_slice_at_its_tier(quantity: int, expected: int) -> None:
    assert amount_for_quantity(_terms(tiers=TIERS, mode=TiersMode.GRADUATED), quantity) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 0),
        (1, 500 + 1000),
        (10, 10 * 500 + 1000),  # 6000
        (11, 11 * 400),  # 4400: the whole quantity moves to the second tier (cheaper than 10)
        (50, 50 * 400),  # 20000
        (60, 60 * 300),  # 18000
    ],
)
def test_volume_prices_the_whole_quantity_at_one_tier(quantity: int, expected: int) -> None:
    assert amount_for_quantity(_terms(tiers=TIERS, mode=TiersMode.VOLUME), quantity) == expected


tier_lists = st.lists(
    st.tuples(st.integers(1, 1000), st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=6
).map(
    lambda raw: tuple(
        Tier(
            up_to=None if i == len(raw) - 1 else sum(r[0] for r in raw[: i + 1]), unit_amount=u, flat_amount=f
        )
        for i, (_, u, f) in enumerate(raw)
    )
)


@given(tiers=tier_lists, quantity=st.integers(0, 10**5))
def test_graduated_amount_is_monotone_in_quantity(tiers: tuple[Tier, ...], quantity: int) -> None:
    check_tiers(tiers)
    terms = _terms(tiers=tiers, mode=TiersMode.GRADUATED)
    assert amount_for_quantity(terms, quantity + 1) >= amount_for_quantity(terms, quantity) >= 0


@given(tiers=tier_lists, quantity=st.integers(0, 10**12), mode=st.sampled_from(TiersMode))
def test_every_amount_is_within_the_limit_or_refused(
    tiers: tuple[Tier, ...], quantity: int, mode: TiersMode
) -> None:
    terms = _terms(tiers=tiers, mode=mode)
    try:
        amount = amount_for_quantity(terms, quantity)
    except AmountLimitError:
        return
    assert 0 <= amount <= MAX_MINOR_UNITS


def test_an_amount_beyond_the_limit_is_refused() -> None:
    with pytest.raises(AmountLimitError):
        amount_for_quantity(_terms(unit_amount=MAX_MINOR_UNITS), 2)
    with pytest.raises(ValueError, match="negative"):
        amount_for_quantity(_terms(unit_amount=1), -1)


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ((), "tiers"),
        ((Tier(10, 1), Tier(5, 1), Tier(None, 1)), "tiers[1].up_to"),  # not ascending
        ((Tier(10, 1), Tier(10, 1), Tier(None, 1)), "tiers[1].up_to"),  # not strictly ascending
        ((Tier(0, 1), Tier(None, 1)), "tiers[0].up_to"),
        ((Tier(10, 1), Tier(20, 1)), "tiers[1].up_to"),  # the last tier must be open
        ((Tier(None, 1), Tier(None, 1)), "tiers[0].up_to"),  # only the last may be open
        ((Tier(10, -1), Tier(None, 1)), "tiers[0].unit_amount"),
        ((Tier(10, 1), Tier(None, 1, MAX_MINOR_UNITS + 1)), "tiers[1].flat_amount"),
    ],
)
def test_bad_tiers_name_the_field(tiers: tuple[Tier, ...], field: str) -> None:
    with pytest.raises(CatalogRuleError) as raised:
        check_tiers(tiers)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"unit_amount": None}, "unit_amount"),  # neither
        ({"tiers": TIERS, "tiers_mode": TiersMode.VOLUME}, "unit_amount"),  # both
        ({"unit_amount": None, "tiers": TIERS}, "tiers_mode"),
        ({"unit_amount": -1}, "unit_amount"),
        ({"interval": None, "usage_type": UsageType.METERED}, "interval"),
        ({"interval": None, "interval_count": 2}, "interval_count"),
        ({"interval_count": 0}, "interval_count"),
        ({"interval_count": 13}, "interval_count"),
        ({"interval": Interval.YEAR, "interval_count": 4}, "interval_count"),
        ({"aggregation": UsageAggregation.LAST}, "aggregation"),  # licensed: nothing to aggregate
    ],
)
def test_bad_prices_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(CatalogRuleError) as raised:
        check_price(_price(**changes))
    assert raised.value.field == field


def test_valid_prices_pass() -> None:
    check_price(_price())
    check_price(_price(interval=None))  # one-off
    check_price(_price(interval=Interval.YEAR, interval_count=3))
    check_price(
        _price(
            unit_amount=None,
            tiers=TIERS,
            tiers_mode=TiersMode.GRADUATED,
            usage_type=UsageType.METERED,
            aggregation=UsageAggregation.LAST,
        )
    )


def test_terms_keep_the_price_and_the_products_name_and_tax_category() -> None:
    product = Product(
        tenant_id="ten_1",
        product_id="prd_1",
        name="Seats",
        description=None,
        tax_category=TaxCategory.REDUCED,
        archived=False,
        metadata={},
        created_at=AT,
        updated_at=AT,
        version=1,
    )
    terms = terms_of(_price(), product)
    assert (terms.product_name, terms.tax_category, terms.unit_amount) == ("Seats", TaxCategory.REDUCED, 1500)
    with pytest.raises(ValueError, match="not a price of product"):
        terms_of(_price(product_id="prd_2"), product)


def test_request_schemas_refuse_unknown_fields_and_name_them() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_json(
            CreatePriceRequest, b'{"product_id": "prd_1", "currency": "EUR", "unit_amount": 1, "x": 1}'
        )
    assert raised.value.field == "x"
    with pytest.raises(ValidationError) as raised:
        parse_json(CreatePriceRequest, b'{"product_id": "prd_1", "currency": "XXY", "unit_amount": 1}')
    assert raised.value.field == "currency"
    with pytest.raises(ValidationError) as raised:
        parse_json(UpdatePriceRequest, b'{"product_id": "prd_2"}')  # a price never moves to another product
    assert raised.value.field == "product_id"


@pytest.mark.parametrize("code", sorted(NON_BILLING_CURRENCIES))
def test_metals_funds_and_test_codes_are_no_billing_currency(code: str) -> None:
    assert normalize_currency(code) == code  # valid ISO 4217 codes all the same
    with pytest.raises(CurrencyError, match="not a currency one bills in"):
        check_billing_currency(code.lower())


def test_billing_currencies_are_normalised() -> None:
    assert [check_billing_currency(c) for c in ("eur", "JPY", " bhd ", "CHF", "UYU")] == [
        "EUR",
        "JPY",
        "BHD",
        "CHF",
        "UYU",
    ]
    with pytest.raises(CurrencyError):
        check_billing_currency("XYZ")
