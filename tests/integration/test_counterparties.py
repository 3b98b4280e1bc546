"""Counterparties: contact and bank data checked, unique ids, totals kept with invoices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.utils import Api, TestTenant, error_of


def _create(api: Api, tenant: TestTenant, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/counterparties", key=tenant.finance, json_body={"name": "Kunde AG", **fields})
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def test_a_counterparty_is_stored_normalised(api: Api, tenant: TestTenant) -> None:
    created = _create(
        api,
        tenant,
        email="ap@kunde.de",
        phone="+49 30 1234567",
        iban="de89 3704 0044 0532 0130 00",
        tax_id="DE 123.456.789",
        segment=" Enterprise ",
        preferred_language="de-AT",
        country="de",
        address={"line1": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "de"},
        external_reference="CRM-1",
        metadata={"crm": "42"},
    )
    assert created["iban"] == "DE89370400440532013000"
    assert created["tax_id"] == "DE123456789"
    assert created["segment"] == "enterprise"
    assert created["preferred_language"] == "de_AT"
    assert created["country"] == "DE" and created["address"]["country"] == "DE"
    assert created["totals"] == [] and created["version"] == 1
    assert api.get(f"/v1/counterparties/{created['id']}", key=tenant.read_only).json() == created


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"iban": "DE89370400440532013001"}, "iban"),
        ({"email": "not-mail"}, "email"),
        ({"country": "Germany"}, "country"),
        ({"preferred_language": "xx-nonsense"}, "preferred_language"),
        ({"phone": "call me"}, "phone"),
        ({"name": ""}, "name"),
        ({"address": {"city": "Berlin"}}, "address.line1"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_named(api: Api, tenant: TestTenant, fields: dict[str, Any], field: str) -> None:
    response = api.post("/v1/counterparties", key=tenant.finance, json_body={"name": "Kunde AG", **fields})
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field


def test_tax_id_and_external_reference_are_unique_per_tenant(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    first = _create(api, tenant, tax_id="DE111111111", external_reference="CRM-7")
    again = api.post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": "Copy", "tax_id": "de 111111111"}
    )
    assert again.status_code == 409
    assert error_of(again)["existing_id"] == first["id"] and error_of(again)["field"] == "tax_id"
    by_reference = api.post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": "Copy", "external_reference": "CRM-7"}
    )
    assert error_of(by_reference)["field"] == "external_reference"
    # Another tenant may hold the same values.
    assert _create(api, other, tax_id="DE111111111", external_reference="CRM-7")["id"] != first["id"]


def test_update_needs_the_current_version_and_moves_unique_claims(api: Api, tenant: TestTenant) -> None:
    created = _create(api, tenant, tax_id="DE222222222", segment="smb")
    path = f"/v1/counterparties/{created['id']}"
    updated = api.patch(
        path, key=tenant.finance, json_body={"version": 1, "tax_id": "DE333333333", "segment": "Mid"}
    )
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert updated.json()["segment"] == "mid"
    stale = api.patch(path, key=tenant.finance, json_body={"version": 1, "name": "Late"})
    assert stale.status_code == 409 and error_of(stale)["field"] == "version"
    # The old tax id is free again, the new one is taken.
    assert (
        api.post(
            "/v1/counterparties", key=tenant.finance, json_body={"name": "Other", "tax_id": "DE222222222"}
        ).status_code
        == 201
    )
    assert (
        api.post(
            "/v1/counterparties", key=tenant.finance, json_body={"name": "Other", "tax_id": "DE333333333"}
        ).status_code
        == 409
    )
    cleared = api.patch(path, key=tenant.finance, json_body={"version": 2, "email": None, "segment": None})
    assert cleared.status_code == 200 and cleared.json()["segment"] is None


def test_lists_by_name_and_by_segment(api: Api, tenant: TestTenant) -> None:
    for name, segment in (("Zeta", "smb"), ("alpha", "enterprise"), ("Beta", "smb")):
        _create(api, tenant, name=name, segment=segment)
    everyone = api.get("/v1/counterparties?limit=10", key=tenant.read_only).json()
    assert [c["name"] for c in everyone["data"]] == ["alpha", "Beta", "Zeta"]
    smb = api.get("/v1/counterparties?segment=SMB", key=tenant.read_only).json()
    assert [c["name"] for c in smb["data"]] == ["Beta", "Zeta"]
    first = api.get("/v1/counterparties?limit=2", key=tenant.read_only).json()
    rest = api.get(
        f"/v1/counterparties?limit=2&starting_after={first['next_cursor']}", key=tenant.read_only
    ).json()
    assert [c["name"] for c in first["data"] + rest["data"]] == ["alpha", "Beta", "Zeta"]


def test_another_tenants_counterparty_is_not_found(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    their_id = _create(api, theirs)["id"]
    assert api.get(f"/v1/counterparties/{their_id}", key=mine.admin).status_code == 404
    assert (
        api.patch(
            f"/v1/counterparties/{their_id}", key=mine.admin, json_body={"version": 1, "name": "Mine now"}
        ).status_code
        == 404
    )
    assert api.get("/v1/counterparties", key=mine.admin).json()["data"] == []
    assert api.get("/v1/counterparties/cp_nonsense", key=mine.admin).status_code == 404


def test_read_only_keys_cannot_create(api: Api, tenant: TestTenant) -> None:
    response = api.post("/v1/counterparties", key=tenant.read_only, json_body={"name": "X"})
    assert response.status_code == 403
