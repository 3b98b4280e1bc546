"""The catalog service: products and prices, and what the other billing parts read of them.

Prices are immutable once used: C's subscription create marks them `used` (``stage_mark_used``) in
its own transaction; afterwards only ``active``, ``nickname``, ``lookup_key`` and ``metadata`` may
change, any price term is a 409 "price is used; create a new price". While a price is unused its
terms may be PATCHed (re-checked as a whole). A product's tax category may change only while no
price of it is used: the invoices of a used price already carry the rate it gave.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from cashline.dal.billing_catalog import MAX_PRICES_CHECKED, CatalogRepository, stage_price_used
from cashline.dal.pagination import Page
from cashline.domain.billing.catalog import (
    CatalogRuleError,
    Price,
    PriceTerms,
    Product,
    Tier,
    check_price,
    terms_of,
)
from cashline.domain.money import CurrencyError, check_billing_currency
from cashline.errors import ConflictError, NotFoundError, UnprocessableError, ValidationError
from cashline.ids import is_id_of, new_id
from cashline.schemas.billing_catalog import (
    PRICE_TERM_FIELDS,
    CreatePriceRequest,
    CreateProductRequest,
)

catalog = CatalogRepository()

PRODUCT_FIELDS = ("name", "description", "tax_category", "archived", "metadata")
PRICE_FIELDS = (*PRICE_TERM_FIELDS, "active", "nickname", "lookup_key", "metadata")
# Fields a PATCH may not set to null (the others: null clears them).
_NOT_NULL = frozenset(
    {
        "name",
        "tax_category",
        "archived",
        "active",
        "currency",
        "interval_count",
        "tax_behavior",
        "usage_type",
        "aggregation",
    }
)
_AMOUNT_FIELDS = ("unit_amount", "tiers", "tiers_mode")


# ---------------------------------------------------------------------- cross-part API (C, D1)


def get_product(tenant_id: str, product_id: str) -> Product:
    """The tenant's product; NotFoundError (field "product_id") for an unknown or foreign id."""
    if not is_id_of("product", product_id):
        raise NotFoundError("product not found", field="product_id")
    return catalog.get_product(tenant_id, product_id)


def get_price(tenant_id: str, price_id: str) -> Price:
    """The tenant's price (active or not); NotFoundError (field "price_id") for unknown/foreign."""
    if not is_id_of("price", price_id):
        raise NotFoundError("price not found", field="price_id")
    return catalog.get_price(tenant_id, price_id)


def price_with_terms(tenant_id: str, price_id: str) -> tuple[Price, PriceTerms]:
    """The price (for ``stage_mark_used``) and the terms a new subscription item keeps of it.

    NotFoundError field "price_id" for an unknown, foreign or inactive price; UnprocessableError
    field "price_id" when the price's product is archived.
    """
    price = get_price(tenant_id, price_id)
    if not price.active:
        raise NotFoundError("price not found or not active", field="price_id")
    product = catalog.get_product(tenant_id, price.product_id)
    if product.archived:
        raise UnprocessableError("the price's product is archived", field="price_id")
    return price, terms_of(price, product)


def terms_for(tenant_id: str, price_id: str) -> PriceTerms:
    """The terms a new subscription item keeps of a price (errors as ``price_with_terms``)."""
    return price_with_terms(tenant_id, price_id)[1]


def stage_mark_used(write: TransactWrite, price: Price, now: datetime) -> None:
    """Stage ``used = true`` on ``price`` conditioned on its version and on its still being active.

    Called inside the subscription-create transaction (a lost race is that transaction's 409). An
    already used price stages nothing, nor does a price this transaction already marks (DynamoDB
    refuses two writes of one item in a transaction; two items may name one price).
    """
    if price.used:
        return
    stage_price_used(write, price, now)


# ------------------------------------------------------------------------------------- products


def create_product(tenant_id: str, request: CreateProductRequest, *, now: datetime) -> Product:
    product = Product(
        tenant_id=tenant_id,
        product_id=new_id("product"),
        name=request.name,
        description=request.description,
        tax_category=request.tax_category,
        archived=False,
        metadata=request.metadata or {},
        created_at=now,
        updated_at=now,
        version=0,
    )
    return catalog.create_product(product)


def update_product(
    tenant_id: str,
    product_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    now: datetime,
) -> Product:
    """Apply the PATCH ``changes`` (only the fields sent); tax_category only while no price is used."""
    before = get_product(tenant_id, product_id)
    _check_version(before.version, expected_version, "product")
    values = _not_null({k: v for k, v in changes.items() if k in PRODUCT_FIELDS})
    if "metadata" in values:
        values["metadata"] = values["metadata"] or {}
    after = replace(before, **values, updated_at=now)
    unused: list[Price] = []
    if after.tax_category != before.tax_category:
        used, unused = catalog.used_prices_of(tenant_id, product_id)
        if used:
            raise ConflictError(
                "a price of this product is used; its invoices carry this tax category. "
                "Create a new product instead",
                field="tax_category",
            )
        if len(unused) > MAX_PRICES_CHECKED:
            raise ConflictError(
                f"the product has more than {MAX_PRICES_CHECKED} prices; create a new product instead",
                field="tax_category",
            )
    return catalog.update_product(before, after, unused_prices=unused)


def list_products(
    tenant_id: str, *, archived: bool | None, limit: int, starting_after: str | None
) -> Page[Product]:
    return catalog.list_products(tenant_id, archived=archived, limit=limit, starting_after=starting_after)


# --------------------------------------------------------------------------------------- prices


def create_price(tenant_id: str, request: CreatePriceRequest, *, now: datetime) -> Price:
    """A new price of an existing, not archived product (rules: domain/billing/catalog.py)."""
    product = get_product(tenant_id, request.product_id)
    if product.archived:
        raise UnprocessableError("the product is archived", field="product_id")
    price = Price(
        tenant_id=tenant_id,
        price_id=new_id("price"),
        product_id=product.product_id,
        currency=request.currency,
        unit_amount=request.unit_amount,
        tiers=tuple(t.to_tier() for t in request.tiers or ()),
        tiers_mode=request.tiers_mode,
        interval=request.interval,
        interval_count=request.interval_count,
        tax_behavior=request.tax_behavior,
        usage_type=request.usage_type,
        aggregation=request.aggregation,
        lookup_key=request.lookup_key,
        nickname=request.nickname,
        active=True,
        used=False,
        metadata=request.metadata or {},
        created_at=now,
        updated_at=now,
        version=0,
    )
    return catalog.create_price(_checked(price))


def update_price(
    tenant_id: str,
    price_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    now: datetime,
) -> Price:
    """Apply the PATCH ``changes`` (only the fields sent). Sending any of unit_amount, tiers or
    tiers_mode replaces all three (the ones not sent become empty): a price is priced one way."""
    before = get_price(tenant_id, price_id)
    _check_version(before.version, expected_version, "price")
    values = _not_null({k: v for k, v in changes.items() if k in PRICE_FIELDS})
    terms = [name for name in PRICE_TERM_FIELDS if name in values]
    if terms and before.used:
        raise ConflictError("price is used; create a new price", field=terms[0])
    if any(name in values for name in _AMOUNT_FIELDS):
        values["unit_amount"] = values.get("unit_amount")
        values["tiers"] = tuple(_tier(t) for t in values.get("tiers") or ())
        values["tiers_mode"] = values.get("tiers_mode")
    if "metadata" in values:
        values["metadata"] = values["metadata"] or {}
    after = replace(before, **values, updated_at=now)
    return catalog.update_price(before, _checked(after))


def list_prices(
    tenant_id: str,
    *,
    product_id: str | None,
    lookup_key: str | None,
    active: bool | None,
    limit: int,
    starting_after: str | None,
) -> Page[Price]:
    """One Query page; with ``lookup_key`` the one price holding it (if it matches the other filters)."""
    if lookup_key is not None:
        found = catalog.price_by_lookup_key(tenant_id, lookup_key)
        matches = found is not None and (
            (product_id is None or found.product_id == product_id)
            and (active is None or found.active == active)
        )
        return Page(items=[found] if found is not None and matches else [], next_cursor=None)
    if product_id is not None and not is_id_of("product", product_id):
        return Page(items=[], next_cursor=None)  # no such product: no index partition to read
    return catalog.list_prices(
        tenant_id, product_id=product_id, active=active, limit=limit, starting_after=starting_after
    )


# ------------------------------------------------------------------------------------- helpers


def _checked(price: Price) -> Price:
    try:
        check_billing_currency(price.currency)
    except CurrencyError as exc:  # a metal, fund or test code: valid ISO 4217, but not billed in
        raise ValidationError(str(exc), field="currency") from exc
    try:
        return check_price(price)
    except CatalogRuleError as exc:
        raise ValidationError(str(exc), field=exc.field) from exc


def _check_version(current: int, expected: int | None, what: str) -> None:
    if expected is not None and expected != current:
        raise ConflictError(
            f"{what} was changed by someone else since this version; read it again", field="version"
        )


def _not_null(values: dict[str, Any]) -> dict[str, Any]:
    for name, value in values.items():
        if value is None and name in _NOT_NULL:
            raise ValidationError(f"{name} cannot be null", field=name)
    return values


def _tier(value: Any) -> Tier:
    """A tier from the PATCH body (the request model dumps tiers as dicts)."""
    if isinstance(value, Tier):
        return value
    return Tier(
        up_to=value.get("up_to"), unit_amount=value["unit_amount"], flat_amount=value.get("flat_amount", 0)
    )
