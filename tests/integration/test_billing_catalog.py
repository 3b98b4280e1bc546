"""The catalog against DynamoDB Local: products and prices, tiers checked, lookup keys unique per tenant
(also under a race), prices immutable once a subscription used them, another tenant's ids a 404."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import TaxCategory, amount_for_quantity
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.schemas.billing_catalog import CreatePriceRequest
from cashline.services.billing import catalog
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

pytestmark = pytest.mark.usefixtures("frozen_now")

TIERS = [
    {"up_to": 10, "unit_amount": 500, "flat_amount": 1000},
    {"up_to": 50, "unit_amount": 400},
    {"up_to": None, "unit_amount": 300},
]


def _product(api: Api, tenant: TestTenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Seats", "tax_category": "standard", **fields}
    response = api.post("/v1/products", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def _price(api: Api, tenant: TestTenant, product_id: str, **fields: Any) -> dict[str, Any]:
    body = {"product_id": product_id, "currency": "EUR", "unit_amount": 1500, "interval": "month", **fields}
    response = api.post("/v1/prices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def _mark_used(tenant: TestTenant, price_id: str) -> None:
    """What the subscription create does with each price it subscribes to (part C)."""
    price = catalog.get_price(tenant.tenant_id, price_id)
    work = UnitOfWork("price changed meanwhile")
    work.add(lambda write: catalog.stage_mark_used(write, price, FROZEN_NOW)).commit()


def test_products_are_created_read_changed_and_listed(api: Api, tenant: TestTenant) -> None:
    created = _product(api, tenant, description="Per seat\nper month", metadata={"crm": "7"})
    assert created["id"].startswith("prd_") and created["version"] == 1
    assert (created["tax_category"], created["archived"], created["metadata"]) == (
        "standard",
        False,
        {"crm": "7"},
    )
    assert api.get(f"/v1/products/{created['id']}", key=tenant.read_only).json() == created

    changed = api.patch(
        f"/v1/products/{created['id']}",
        key=tenant.finance,
        json_body={
            "version": 1,
            "name": "Seat",
            "description": None,
            "archived": True,
            "tax_category": "reduced",
        },
    )
    assert changed.status_code == 200, changed.body
    body = changed.json()
    assert (body["name"], body["description"], body["archived"], body["version"]) == ("Seat", None, True, 2)
    assert body["metadata"] == {"crm": "7"}  # not sent, kept

    stale = api.patch(
        f"/v1/products/{created['id']}", key=tenant.finance, json_body={"version": 1, "name": "X"}
    )
    assert stale.status_code == 409 and error_of(stale)["field"] == "version"
    null_name = api.patch(f"/v1/products/{created['id']}", key=tenant.finance, json_body={"name": None})
    assert null_name.status_code == 400 and error_of(null_name)["field"] == "name"

    other = _product(api, tenant, name="Support")
    everything = api.get("/v1/products", key=tenant.read_only).json()
    assert [p["id"] for p in everything["data"]] == [created["id"], other["id"]]
    archived = api.get("/v1/products?archived=true", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in archived] == [created["id"]]
    first = api.get("/v1/products?limit=1", key=tenant.read_only).json()
    assert first["has_more"] and [p["id"] for p in first["data"]] == [created["id"]]
    second = api.get(f"/v1/products?limit=1&starting_after={first['next_cursor']}", key=tenant.read_only)
    assert [p["id"] for p in second.json()["data"]] == [other["id"]]


def test_prices_unit_and_tiered(api: Api, tenant: TestTenant) -> None:
    product = _product(api, tenant)
    unit = _price(api, tenant, product["id"], lookup_key="seat_monthly", nickname="Monthly")
    assert unit["id"].startswith("prc_") and unit["tiers"] == [] and unit["tiers_mode"] is None
    assert (unit["interval"], unit["interval_count"], unit["tax_behavior"]) == ("month", 1, "exclusive")
    assert (unit["usage_type"], unit["aggregation"], unit["active"], unit["used"]) == (
        "licensed",
        "sum",
        True,
        False,
    )
    tiered = _price(
        api,
        tenant,
        product["id"],
        unit_amount=None,
        tiers=TIERS,
        tiers_mode="graduated",
        usage_type="metered",
        aggregation="last",
        currency="jpy",
    )
    assert tiered["currency"] == "JPY" and tiered["unit_amount"] is None
    assert tiered["tiers"][0] == {"up_to": 10, "unit_amount": 500, "flat_amount": 1000}
    assert tiered["tiers"][2] == {"up_to": None, "unit_amount": 300, "flat_amount": 0}
    assert api.get(f"/v1/prices/{tiered['id']}", key=tenant.read_only).json() == tiered

    terms = catalog.terms_for(tenant.tenant_id, tiered["id"])
    assert (terms.product_name, terms.tax_category) == ("Seats", TaxCategory.STANDARD)
    assert amount_for_quantity(terms, 60) == 25000

    one_off = _price(api, tenant, _product(api, tenant, name="Setup")["id"], interval=None)
    of_product = api.get(f"/v1/prices?product_id={product['id']}", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in of_product] == [unit["id"], tiered["id"]]
    everything = api.get("/v1/prices", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in everything] == [unit["id"], tiered["id"], one_off["id"]]
    by_key = api.get("/v1/prices?lookup_key=seat_monthly", key=tenant.read_only).json()
    assert [p["id"] for p in by_key["data"]] == [unit["id"]] and not by_key["has_more"]
    assert api.get("/v1/prices?lookup_key=nothing", key=tenant.read_only).json()["data"] == []

    off = api.patch(f"/v1/prices/{unit['id']}", key=tenant.finance, json_body={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    active = api.get("/v1/prices?active=true", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in active] == [tiered["id"], one_off["id"]]
    page = api.get("/v1/prices?active=true&limit=1", key=tenant.read_only).json()
    assert [p["id"] for p in page["data"]] == [tiered["id"]] and page["has_more"]
    rest = api.get(
        f"/v1/prices?active=true&limit=1&starting_after={page['next_cursor']}", key=tenant.read_only
    )
    assert [p["id"] for p in rest.json()["data"]] == [one_off["id"]]
    assert api.get("/v1/prices?product_id=prd_x%23PRC", key=tenant.read_only).json()["data"] == []
    with pytest.raises(NotFoundError) as inactive:
        catalog.terms_for(tenant.tenant_id, unit["id"])
    assert inactive.value.field == "price_id"


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        (
            {"tiers": [{"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}, {"unit_amount": 1}]},
            400,
            "tiers[1].up_to",
        ),
        (
            {"tiers": [{"up_to": 10, "unit_amount": 1}, {"up_to": 20, "unit_amount": 1}]},
            400,
            "tiers[1].up_to",
        ),
        ({"tiers": [{"up_to": 0, "unit_amount": 1}, {"unit_amount": 1}]}, 400, "tiers[0].up_to"),
        ({"tiers": [{"up_to": 5, "unit_amount": -1}, {"unit_amount": 1}]}, 400, "tiers[0].unit_amount"),
        ({"tiers": [{"unit_amount": 1}]}, 400, "tiers_mode"),
        ({"tiers": TIERS, "tiers_mode": "volume", "unit_amount": 5}, 400, "unit_amount"),
        ({"unit_amount": 10**15 + 1}, 400, "unit_amount"),
        ({"unit_amount": None}, 400, "unit_amount"),
        ({"currency": "EURO"}, 400, "currency"),
        ({"currency": "XYZ"}, 400, "currency"),
        # Valid ISO 4217 codes that are no money one bills in (gold, "no currency", a fund code).
        ({"currency": "XAU"}, 400, "currency"),
        ({"currency": "xxx"}, 400, "currency"),
        ({"currency": "CLF"}, 400, "currency"),
        ({"interval": None, "usage_type": "metered"}, 400, "interval"),
        ({"interval_count": 13}, 400, "interval_count"),
        ({"interval": "year", "interval_count": 4}, 400, "interval_count"),
        ({"interval": "fortnight"}, 400, "interval"),
        ({"lookup_key": "has space"}, 400, "lookup_key"),
        ({"colour": "red"}, 400, "colour"),
        ({"product_id": "prd_01J00000000000000000000000"}, 404, "product_id"),
    ],
)
def test_bad_prices_are_refused_naming_the_field(
    api: Api, tenant: TestTenant, fields: dict[str, Any], status: int, field: str
) -> None:
    product = _product(api, tenant)
    body = {"product_id": product["id"], "currency": "EUR", "unit_amount": 1500, "interval": "month"}
    body = {**body, **fields}
    if "tiers" in fields and "unit_amount" not in fields:
        body.pop("unit_amount")
    if "tiers" in fields and "tiers_mode" not in fields and field != "tiers_mode":
        body["tiers_mode"] = "graduated"
    response = api.post("/v1/prices", key=tenant.finance, json_body=body)
    assert response.status_code == status, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/prices", key=tenant.read_only).json()["data"] == []  # nothing half-written


def test_another_tenants_ids_are_not_found(api: Api, tenant_factory: Callable[..., TestTenant]) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    product = _product(api, tenant)
    price = _price(api, tenant, product["id"])
    for path in (f"/v1/products/{product['id']}", f"/v1/prices/{price['id']}"):
        read = api.get(path, key=other.read_only)
        assert read.status_code == 404, read.body
        changed = api.patch(path, key=other.finance, json_body={"metadata": {"a": "b"}})
        assert changed.status_code == 404
    foreign = api.post(
        "/v1/prices",
        key=other.finance,
        json_body={"product_id": product["id"], "currency": "EUR", "unit_amount": 1},
    )
    assert foreign.status_code == 404 and error_of(foreign)["field"] == "product_id"
    assert api.get("/v1/products", key=other.read_only).json()["data"] == []
    assert api.get(f"/v1/prices?product_id={product['id']}", key=other.read_only).json()["data"] == []
    assert api.get("/v1/prices/prc_nonsense", key=tenant.read_only).status_code == 404
    with pytest.raises(NotFoundError):
        catalog.terms_for(other.tenant_id, price["id"])


def test_lookup_keys_are_unique_per_tenant_and_move_with_patch(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    product = _product(api, tenant)
    first = _price(api, tenant, product["id"], lookup_key="pro")
    body = {"product_id": product["id"], "currency": "EUR", "unit_amount": 1, "lookup_key": "pro"}
    again = api.post("/v1/prices", key=tenant.finance, json_body=body)
    assert again.status_code == 409
    assert (error_of(again)["field"], error_of(again)["existing_id"]) == ("lookup_key", first["id"])
    _price(api, other, _product(api, other)["id"], lookup_key="pro")  # another tenant may hold it

    second = _price(api, tenant, product["id"], lookup_key="basic")
    taken = api.patch(f"/v1/prices/{second['id']}", key=tenant.finance, json_body={"lookup_key": "pro"})
    assert taken.status_code == 409 and error_of(taken)["existing_id"] == first["id"]
    assert api.get(f"/v1/prices/{second['id']}", key=tenant.read_only).json()["lookup_key"] == "basic"

    moved = api.patch(f"/v1/prices/{first['id']}", key=tenant.finance, json_body={"lookup_key": "pro_v1"})
    assert moved.status_code == 200 and moved.json()["lookup_key"] == "pro_v1"
    taker = api.patch(f"/v1/prices/{second['id']}", key=tenant.finance, json_body={"lookup_key": "pro"})
    assert taker.status_code == 200, taker.body  # the old key was released with the move
    found = api.get("/v1/prices?lookup_key=pro", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in found] == [second["id"]]
    released = api.patch(f"/v1/prices/{second['id']}", key=tenant.finance, json_body={"lookup_key": None})
    assert released.json()["lookup_key"] is None
    assert api.get("/v1/prices?lookup_key=pro", key=tenant.read_only).json()["data"] == []


def test_two_prices_racing_for_one_lookup_key_one_wins(api: Api, tenant: TestTenant) -> None:
    product = _product(api, tenant)
    request = CreatePriceRequest.model_validate(
        {"product_id": product["id"], "currency": "EUR", "unit_amount": 100, "lookup_key": "race"}
    )
    start = threading.Barrier(2)

    def create(_: int) -> str:
        start.wait()  # both transactions leave at the same moment
        try:
            return catalog.create_price(tenant.tenant_id, request, now=FROZEN_NOW).price_id
        except ConflictError as conflict:
            return f"409 {conflict.field}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(create, range(2)))
    winners = [o for o in outcomes if o.startswith("prc_")]
    assert len(winners) == 1 and outcomes[0].startswith("409"), outcomes
    listed = api.get("/v1/prices", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in listed] == winners  # the loser wrote nothing

    # And through the API: one 201, one 409.
    body = {"product_id": product["id"], "currency": "EUR", "unit_amount": 100, "lookup_key": "race2"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(
            pool.map(
                lambda _: api.post("/v1/prices", key=tenant.finance, json_body=body).status_code, range(2)
            )
        )
    assert statuses == [201, 409]


def test_a_used_price_keeps_its_terms(api: Api, tenant: TestTenant) -> None:
    product = _product(api, tenant)
    price = _price(api, tenant, product["id"])
    # While unused its terms may change: amounts are replaced as a whole (unit -> tiers).
    retiered = api.patch(
        f"/v1/prices/{price['id']}", key=tenant.finance, json_body={"tiers": TIERS, "tiers_mode": "volume"}
    )
    assert retiered.status_code == 200, retiered.body
    assert retiered.json()["unit_amount"] is None and len(retiered.json()["tiers"]) == 3
    bad = api.patch(f"/v1/prices/{price['id']}", key=tenant.finance, json_body={"tiers_mode": None})
    assert bad.status_code == 400 and error_of(bad)["field"] == "unit_amount"
    back = api.patch(f"/v1/prices/{price['id']}", key=tenant.finance, json_body={"unit_amount": 2000})
    assert (
        back.json()["unit_amount"] == 2000
        and back.json()["tiers"] == []
        and back.json()["tiers_mode"] is None
    )

    read = catalog.get_price(tenant.tenant_id, price["id"])
    work = UnitOfWork("price changed meanwhile")
    for _ in range(2):  # one price in two items of a subscription: marked once
        work.add(lambda write: catalog.stage_mark_used(write, read, FROZEN_NOW))
    work.commit()
    _mark_used(tenant, price["id"])  # already used: stages nothing
    used = api.get(f"/v1/prices/{price['id']}", key=tenant.read_only).json()
    assert used["used"] is True and used["version"] == back.json()["version"] + 1
    for term in (
        {"unit_amount": 2500},
        {"interval": "year"},
        {"currency": "USD"},
        {"tax_behavior": "inclusive"},
    ):
        refused = api.patch(
            f"/v1/prices/{price['id']}", key=tenant.finance, json_body={"nickname": "x", **term}
        )
        assert refused.status_code == 409, refused.body
        assert error_of(refused)["message"] == "price is used; create a new price"
        assert error_of(refused)["field"] == next(iter(term))
    allowed = api.patch(
        f"/v1/prices/{price['id']}",
        key=tenant.finance,
        json_body={"nickname": "Legacy", "lookup_key": "legacy", "metadata": {"v": "1"}, "active": False},
    )
    assert allowed.status_code == 200, allowed.body
    assert allowed.json()["unit_amount"] == 2000 and allowed.json()["nickname"] == "Legacy"

    # Its product's tax category is what its invoices carry: fixed now.
    tax = api.patch(
        f"/v1/products/{product['id']}", key=tenant.finance, json_body={"tax_category": "reduced"}
    )
    assert tax.status_code == 409 and error_of(tax)["field"] == "tax_category"
    renamed = api.patch(f"/v1/products/{product['id']}", key=tenant.finance, json_body={"name": "Seats v2"})
    assert renamed.status_code == 200


def test_marking_used_loses_to_a_concurrent_change(api: Api, tenant: TestTenant) -> None:
    product = _product(api, tenant)
    price = _price(api, tenant, product["id"])
    read = catalog.get_price(tenant.tenant_id, price["id"])
    api.patch(f"/v1/prices/{price['id']}", key=tenant.finance, json_body={"unit_amount": 1})
    work = UnitOfWork("price changed meanwhile")
    with pytest.raises(ConflictError):
        work.add(lambda write: catalog.stage_mark_used(write, read, FROZEN_NOW)).commit()
    assert catalog.get_price(tenant.tenant_id, price["id"]).used is False


def test_an_archived_products_prices_cannot_be_subscribed_to(api: Api, tenant: TestTenant) -> None:
    product = _product(api, tenant)
    price = _price(api, tenant, product["id"])
    api.patch(f"/v1/products/{product['id']}", key=tenant.finance, json_body={"archived": True})
    with pytest.raises(UnprocessableError) as archived:
        catalog.terms_for(tenant.tenant_id, price["id"])
    assert archived.value.field == "price_id"
    new_price = api.post(
        "/v1/prices",
        key=tenant.finance,
        json_body={"product_id": product["id"], "currency": "EUR", "unit_amount": 1},
    )
    assert new_price.status_code == 422 and error_of(new_price)["field"] == "product_id"


def test_an_unused_price_cannot_be_moved_to_a_non_currency(api: Api, tenant: TestTenant) -> None:
    price = _price(api, tenant, _product(api, tenant)["id"])
    refused = api.patch(f"/v1/prices/{price['id']}", key=tenant.finance, json_body={"currency": "XAU"})
    assert refused.status_code == 400, refused.body
    assert error_of(refused)["field"] == "currency"
    assert api.get(f"/v1/prices/{price['id']}", key=tenant.read_only).json()["currency"] == "EUR"
