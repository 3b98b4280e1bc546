"""Bank accounts over the API: IBAN checked, one account per identification, one operating account per
currency, changes on the version read, a saved CSV mapping checked, tenants apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.utils import Api, TestTenant, error_of

IBAN = "DE89370400440532013000"


def _create(api: Api, tenant: TestTenant, **fields: Any) -> dict[str, Any]:
    response = api.post(
        "/v1/bank-accounts", key=tenant.finance, json_body={"name": "Hausbank", "currency": "EUR", **fields}
    )
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def test_an_account_is_stored_with_its_iban_compact_and_read_back(api: Api, tenant: TestTenant) -> None:
    created = _create(api, tenant, iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx", operating=True)

    assert created["iban"] == IBAN and created["account"] == IBAN
    assert created["bic"] == "COBADEFFXXX" and created["operating"] is True
    assert created["id"].startswith("ba_") and created["created_from_file"] is False
    assert created["balance"] is None and created["csv_mapping"] is None
    assert api.get(f"/v1/bank-accounts/{created['id']}", key=tenant.read_only).json() == created
    listed = api.get("/v1/bank-accounts", key=tenant.read_only).json()
    assert [a["id"] for a in listed["data"]] == [created["id"]]


def test_an_account_without_iban_has_another_identification(api: Api, tenant: TestTenant) -> None:
    created = _create(api, tenant, account="50880050 / 0194774600888")

    assert created["iban"] is None and created["account"] == "50880050/0194774600888"


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"iban": "DE89370400440532013001"}, 400, "iban"),  # checksum
        ({}, 400, "iban"),  # neither iban nor account
        ({"iban": IBAN, "account": "123"}, 400, "account"),
        ({"iban": IBAN, "currency": "EURO"}, 400, "currency"),
        ({"iban": IBAN, "bic": "NOT A BIC"}, 400, "bic"),
        (
            {"iban": IBAN, "csv_mapping": {"booking_date": "Datum", "currency": "EUR"}},
            400,
            "csv_mapping.amount",
        ),
        (
            {"iban": IBAN, "csv_mapping": {"booking_date": "Datum", "amount": "Betrag"}},
            400,
            "csv_mapping.currency",
        ),
        ({"iban": IBAN, "colour": "red"}, 400, "colour"),
    ],
)
def test_bad_fields_are_named(
    api: Api, tenant: TestTenant, fields: dict[str, Any], status: int, field: str
) -> None:
    response = api.post(
        "/v1/bank-accounts", key=tenant.finance, json_body={"name": "Hausbank", "currency": "EUR", **fields}
    )
    assert response.status_code == status, response.body
    assert error_of(response)["field"] == field


def test_an_identification_names_one_account_and_a_currency_one_operating_account(
    api: Api, tenant: TestTenant
) -> None:
    first = _create(api, tenant, iban=IBAN, operating=True)

    again = api.post(
        "/v1/bank-accounts", key=tenant.finance, json_body={"name": "Copy", "currency": "EUR", "iban": IBAN}
    )
    assert again.status_code == 409 and error_of(again)["existing_id"] == first["id"]
    second_operating = api.post(
        "/v1/bank-accounts",
        key=tenant.finance,
        json_body={
            "name": "Zweitbank",
            "currency": "EUR",
            "iban": "GB82WEST12345698765432",
            "operating": True,
        },
    )
    assert second_operating.status_code == 409 and error_of(second_operating)["field"] == "operating"
    # Another currency may have its own operating account.
    assert _create(api, tenant, currency="CHF", iban="CH9300762011623852957", operating=True)["operating"]


def test_patch_needs_the_version_read_and_moves_the_operating_flag(api: Api, tenant: TestTenant) -> None:
    first = _create(api, tenant, iban=IBAN, operating=True)
    second = _create(api, tenant, name="Zweitbank", iban="GB82WEST12345698765432")
    path = f"/v1/bank-accounts/{first['id']}"

    stale = api.patch(path, key=tenant.finance, json_body={"version": first["version"] + 5, "name": "X"})
    assert stale.status_code == 409 and error_of(stale)["field"] == "version"
    changed = api.patch(
        path,
        key=tenant.finance,
        json_body={"version": first["version"], "name": "Hausbank neu", "operating": False},
    )
    assert changed.status_code == 200, changed.body
    assert changed.json()["name"] == "Hausbank neu" and changed.json()["operating"] is False
    assert changed.json()["version"] == first["version"] + 1
    # The currency's operating claim is free again: the other account may take it.
    taken = api.patch(
        f"/v1/bank-accounts/{second['id']}",
        key=tenant.finance,
        json_body={"version": second["version"], "operating": True},
    )
    assert taken.status_code == 200 and taken.json()["operating"] is True


def test_a_csv_mapping_is_saved_checked_and_cleared(api: Api, tenant: TestTenant) -> None:
    account = _create(api, tenant, iban=IBAN)
    path = f"/v1/bank-accounts/{account['id']}"
    mapping = {"booking_date": "Buchungstag", "amount": "Betrag", "currency": "eur", "remittance": ["Zweck"]}

    saved = api.patch(
        path, key=tenant.finance, json_body={"version": account["version"], "csv_mapping": mapping}
    )
    assert saved.status_code == 200, saved.body
    assert saved.json()["csv_mapping"] == {
        "booking_date": "Buchungstag",
        "amount": "Betrag",
        "currency": "EUR",
        "remittance": ["Zweck"],
    }
    bad = api.patch(
        path,
        key=tenant.finance,
        json_body={"version": saved.json()["version"], "csv_mapping": {**mapping, "credit": "Haben"}},
    )
    assert bad.status_code == 400 and error_of(bad)["field"] == "csv_mapping.credit"
    cleared = api.patch(
        path, key=tenant.finance, json_body={"version": saved.json()["version"], "csv_mapping": None}
    )
    assert cleared.status_code == 200 and cleared.json()["csv_mapping"] is None


def test_another_tenants_account_is_not_found(api: Api, tenant_factory: Callable[..., TestTenant]) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    account = _create(api, tenant, iban=IBAN)
    path = f"/v1/bank-accounts/{account['id']}"

    assert api.get(path, key=other.read_only).status_code == 404
    assert api.patch(path, key=other.finance, json_body={"version": 1, "name": "Mine"}).status_code == 404
    assert api.get("/v1/bank-accounts", key=other.read_only).json()["data"] == []
    assert api.get("/v1/bank-accounts/ba_nonsense", key=tenant.read_only).status_code == 404
    # The same IBAN is free in another tenant.
    assert _create(api, other, iban=IBAN)["id"] != account["id"]


def test_roles_read_only_may_not_create(api: Api, tenant: TestTenant) -> None:
    response = api.post(
        "/v1/bank-accounts", key=tenant.read_only, json_body={"name": "X", "currency": "EUR", "iban": IBAN}
    )
    assert response.status_code == 403
