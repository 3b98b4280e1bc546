"""/v1/products and /v1/prices: the catalog subscriptions are made of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.billing_catalog import (
    CreatePriceRequest,
    CreateProductRequest,
    PriceListQuery,
    PriceOutput,
    ProductListQuery,
    ProductOutput,
    UpdatePriceRequest,
    UpdateProductRequest,
)
from cashline.schemas.common import PageOutput, page_output
from chalicelib.http import Call, api_route
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services.billing import catalog
else:  # imported by the first request that uses it (chalicelib.runtime.deferred)
    catalog = deferred("cashline.services.billing.catalog")

catalog_api = Blueprint(__name__)
TAG = "catalog"


@api_route(
    catalog_api,
    "/v1/products",
    method="POST",
    summary="Create a product",
    request=CreateProductRequest,
    response=ProductOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_product(call: Call[CreateProductRequest, Any]) -> ProductOutput:
    return ProductOutput.of(catalog.create_product(call.tenant_id, call.body, now=call.now))


@api_route(
    catalog_api,
    "/v1/products",
    method="GET",
    summary="List products, oldest first",
    query=ProductListQuery,
    response=PageOutput[ProductOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_products(call: Call[Any, ProductListQuery]) -> PageOutput[ProductOutput]:
    page = catalog.list_products(
        call.tenant_id,
        archived=call.query.archived,
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, ProductOutput.of)


@api_route(
    catalog_api,
    "/v1/products/{product_id}",
    method="GET",
    summary="A product",
    response=ProductOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_product(call: Call[Any, Any]) -> ProductOutput:
    return ProductOutput.of(catalog.get_product(call.tenant_id, call.path["product_id"]))


@api_route(
    catalog_api,
    "/v1/products/{product_id}",
    method="PATCH",
    summary="Change a product (tax_category only while no price of it is used)",
    request=UpdateProductRequest,
    response=ProductOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def update_product(call: Call[UpdateProductRequest, Any]) -> ProductOutput:
    product = catalog.update_product(
        call.tenant_id,
        call.path["product_id"],
        call.body.model_dump(exclude_unset=True, exclude={"version"}),
        expected_version=call.body.version,
        now=call.now,
    )
    return ProductOutput.of(product)


@api_route(
    catalog_api,
    "/v1/prices",
    method="POST",
    summary="Create a price of a product",
    request=CreatePriceRequest,
    response=PriceOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_price(call: Call[CreatePriceRequest, Any]) -> PriceOutput:
    return PriceOutput.of(catalog.create_price(call.tenant_id, call.body, now=call.now))


@api_route(
    catalog_api,
    "/v1/prices",
    method="GET",
    summary="List prices, oldest first (of one product, by lookup key, active or not)",
    query=PriceListQuery,
    response=PageOutput[PriceOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_prices(call: Call[Any, PriceListQuery]) -> PageOutput[PriceOutput]:
    page = catalog.list_prices(
        call.tenant_id,
        product_id=call.query.product_id,
        lookup_key=call.query.lookup_key,
        active=call.query.active,
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, PriceOutput.of)


@api_route(
    catalog_api,
    "/v1/prices/{price_id}",
    method="GET",
    summary="A price",
    response=PriceOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_price(call: Call[Any, Any]) -> PriceOutput:
    return PriceOutput.of(catalog.get_price(call.tenant_id, call.path["price_id"]))


@api_route(
    catalog_api,
    "/v1/prices/{price_id}",
    method="PATCH",
    summary="Change a price (its terms only while no subscription used it)",
    request=UpdatePriceRequest,
    response=PriceOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def update_price(call: Call[UpdatePriceRequest, Any]) -> PriceOutput:
    price = catalog.update_price(
        call.tenant_id,
        call.path["price_id"],
        call.body.model_dump(exclude_unset=True, exclude={"version"}),
        expected_version=call.body.version,
        now=call.now,
    )
    return PriceOutput.of(price)
