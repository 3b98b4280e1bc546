"""Issue 11, findings 2, 4, 5 and 12 as a client meets them: implausible dates, totals beyond the
limit, control characters and changes the read path could not load are a 400 naming the field, and
nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.utils import Api, TestTenant, error_of

LIMIT = 10**15


def _invoice(**changes: Any) -> dict[str, Any]:
    return {
        "direction": "receivable",
        "counterparty": {"name": "Kunde AG"},
        "number": "L-1",
        "issue_date": "2026-01-05",
        "due_date": "2026-02-04",
        "currency": "EUR",
        **changes,
    }


def _line(quantity: str = "1", unit_amount: int = 100, tax_rate: str = "19") -> dict[str, Any]:
    return {"description": "Beratung", "quantity": quantity, "unit_amount": unit_amount, "tax_rate": tax_rate}


def _nothing_written(api: Api, tenant: TestTenant) -> None:
    assert api.get("/v1/invoices", key=tenant.read_only).json()["data"] == []
    assert api.get("/v1/counterparties", key=tenant.read_only).json()["data"] == []


# --- finding 2: dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/invoices", _invoice(amount_due=100, due_date="9999-12-31"), "due_date"),
        ("/v1/invoices", _invoice(amount_due=100, issue_date="0001-01-01"), "issue_date"),
        (
            "/v1/financing/quotes",
            {"payout_date": "9999-12-31", "installments": 3, "amount": 100_000, "currency": "EUR"},
            "payout_date",
        ),
        ("/v1/payments", {"amount": 100, "currency": "EUR", "value_date": "0001-01-01"}, "value_date"),
    ],
)
def test_an_implausible_date_on_a_write_is_a_400_and_writes_nothing(
    api: Api, tenant: TestTenant, path: str, body: dict[str, Any], field: str
) -> None:
    response = api.post(path, key=tenant.finance, json_body=body)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    _nothing_written(api, tenant)
    assert api.get("/v1/payments", key=tenant.read_only).json()["data"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("issue_to=0.0", "issue_to"),  # lax parsing once read a number as a Unix timestamp
        ("due_from=86400", "due_from"),
        ("issue_from=2026-01-02T00:00", "issue_from"),
    ],
)
def test_a_query_date_is_written_as_a_day_and_nothing_else(
    api: Api, tenant: TestTenant, query: str, field: str
) -> None:
    response = api.get(f"/v1/invoices?{query}", key=tenant.read_only)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field


def test_the_days_of_an_ecb_file_are_held_to_the_same_window(api: Api, tenant: TestTenant) -> None:
    ecb = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        b'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
        b'<Cube><Cube time="9999-12-31"><Cube currency="CHF" rate="0.93"/></Cube></Cube></gesmes:Envelope>'
    )
    response = api.post(
        "/v1/fx-rates", key=tenant.finance, raw_body=ecb, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "Cube/@time"


def test_a_csv_row_with_an_implausible_date_is_a_row_error(api: Api, tenant: TestTenant) -> None:
    csv_body = (
        "direction,number,issue_date,due_date,currency,amount,counterparty_name\n"
        "receivable,C-1,2026-01-05,9999-12-31,EUR,10.00,Kunde AG\n"
    )
    response = api.post(
        "/v1/imports?type=invoices",
        key=tenant.finance,
        raw_body=csv_body.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code in {200, 400, 422}, response.body
    assert "due_date" in response.body.decode()
    _nothing_written(api, tenant)


# --- finding 4: computed totals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        # The issue's line: about 1.19 x 10^26 with tax.
        ([_line(), _line(), _line(), _line("99999999999.999999", LIMIT)], "lines.3.quantity"),
        # Each line within the limit, their sum beyond it.
        ([_line("1", LIMIT // 2, "0"), _line("1", LIMIT // 2, "0"), _line("1", 1, "0")], "lines.2.quantity"),
        # The net within the limit, the tax taking the total beyond it.
        ([_line("1", LIMIT, "19")], "lines.0.quantity"),
        # A tax rate no country has, on a modest amount.
        ([_line("1", 1_000_000, "999999999999")], "lines.0.quantity"),
    ],
)
def test_a_total_beyond_the_limit_is_a_400_naming_the_line(
    api: Api, tenant: TestTenant, lines: list[dict[str, Any]], field: str
) -> None:
    response = api.post("/v1/invoices", key=tenant.finance, json_body=_invoice(lines=lines))
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    _nothing_written(api, tenant)


def test_a_total_at_the_limit_is_accepted_and_carried_to_the_counterparty(
    api: Api, tenant: TestTenant
) -> None:
    lines = [_line("1", LIMIT // 2, "0"), _line("1", LIMIT // 2, "0")]
    created = api.post("/v1/invoices", key=tenant.finance, json_body=_invoice(lines=lines))
    assert created.status_code == 201, created.body
    assert created.json()["amount_due"] == LIMIT
    counterparty = api.get(f"/v1/counterparties/{created.json()['counterparty_id']}", key=tenant.read_only)
    assert counterparty.json()["totals"][0]["billed"] == LIMIT


@pytest.mark.parametrize(
    "query", ["amount_min=1&amount_max=10000000000000000000", "amount_min=5&amount_max=3"]
)
def test_amount_filters_are_bounded_and_in_order(api: Api, tenant: TestTenant, query: str) -> None:
    response = api.get(f"/v1/invoices?currency=EUR&{query}", key=tenant.read_only)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "amount_max"


# --- finding 5: control characters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key_role", "body", "field"),
    [
        ("/v1/invoices", "finance", _invoice(amount_due=100, number="L\x00-1"), "number"),
        (
            "/v1/invoices",
            "finance",
            _invoice(amount_due=100, counterparty={"name": "Kunde\x00 AG"}),
            "counterparty.name",
        ),
        (
            "/v1/invoices",
            "finance",
            _invoice(lines=[{**_line(), "description": "Beratung\x1b[31m"}]),
            "lines.0.description",
        ),
        ("/v1/invoices", "finance", _invoice(amount_due=100, metadata={"k\x00": "v"}), "metadata"),
        ("/v1/api-keys", "admin", {"name": "ci\x00", "role": "admin"}, "name"),
        (
            "/v1/campaigns",
            "admin",
            {"name": "c\x00", "steps": [{"offset_days": 0, "channel": "email"}]},
            "name",
        ),
        (
            "/v1/payments",
            "finance",
            {"amount": 1, "currency": "EUR", "value_date": "2026-01-05", "payer_name": "A\x00"},
            "payer_name",
        ),
        (
            "/v1/counterparties",
            "finance",
            {"name": "Kunde", "address": {"line1": "Str.\n1"}},
            "address.line1",
        ),
    ],
)
def test_a_control_character_is_a_400_naming_the_field(
    api: Api, tenant: TestTenant, path: str, key_role: str, body: dict[str, Any], field: str
) -> None:
    key = tenant.admin if key_role == "admin" else tenant.finance
    response = api.post(path, key=key, json_body=body)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    _nothing_written(api, tenant)


def test_free_text_keeps_its_line_breaks_and_the_export_never_holds_a_nul(
    api: Api, tenant: TestTenant
) -> None:
    refused = api.post(
        "/v1/invoices", key=tenant.finance, json_body=_invoice(amount_due=100, description="a\x00b")
    )
    assert refused.status_code == 400 and error_of(refused)["field"] == "description"
    created = api.post(
        "/v1/invoices", key=tenant.finance, json_body=_invoice(amount_due=100, description="Zeile 1\nZeile 2")
    )
    assert created.status_code == 201, created.body
    assert created.json()["description"] == "Zeile 1\nZeile 2"
    export = api.get("/v1/invoices/export?format=csv", key=tenant.read_only)
    assert export.status_code == 200
    # Nothing that holds a NUL (or another control character) can be stored, so none can be exported.
    assert b"\x00" not in export.body and b"\x1b" not in export.body


def test_a_control_character_in_a_query_is_a_400(api: Api, tenant: TestTenant) -> None:
    response = api.get("/v1/counterparties?segment=a%00b", key=tenant.read_only)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "segment"


# --- finding 12: nothing is written that the read path cannot load ------------------------------


@pytest.fixture
def counterparty(api: Api, tenant: TestTenant) -> dict[str, Any]:
    body = {
        "name": "Kunde AG",
        "email": "ap@kunde.de",
        "address": {"line1": "Hauptstr. 1", "line2": "Hinterhaus", "city": "Berlin"},
        "metadata": {"crm": "42"},
    }
    response = api.post("/v1/counterparties", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


def _reads_back(api: Api, tenant: TestTenant, counterparty_id: str) -> dict[str, Any]:
    one = api.get(f"/v1/counterparties/{counterparty_id}", key=tenant.read_only)
    listed = api.get("/v1/counterparties?limit=100", key=tenant.read_only)
    assert one.status_code == 200, one.body
    assert listed.status_code == 200, listed.body
    assert counterparty_id in {c["id"] for c in listed.json()["data"]}
    read: dict[str, Any] = one.json()
    return read


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"email": ""}, "email"),
        ({"phone": ""}, "phone"),
        ({"address": {"line1": None}}, "address.line1"),
        ({"address": {"line2": "x"}}, "address.line1"),
    ],
)
def test_a_change_the_read_path_could_not_load_is_a_400_and_changes_nothing(
    api: Api, tenant: TestTenant, counterparty: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    body = {"version": counterparty["version"], **changes}
    response = api.patch(f"/v1/counterparties/{counterparty['id']}", key=tenant.finance, json_body=body)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert _reads_back(api, tenant, counterparty["id"]) == counterparty


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # The address is replaced whole; a null line is a line it does not have.
        (
            {"address": {"line1": "Neue Str. 2", "line2": None, "city": None}},
            {"address": {"line1": "Neue Str. 2"}},
        ),
        ({"metadata": None}, {"metadata": {}}),
        ({"metadata": {}}, {"metadata": {}}),
        ({"address": None, "email": None}, {"address": None, "email": None}),
        ({"segment": "0"}, {"segment": "0"}),
    ],
)
def test_nulls_and_falsy_values_are_applied_and_read_back(
    api: Api,
    tenant: TestTenant,
    counterparty: dict[str, Any],
    changes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    body = {"version": counterparty["version"], **changes}
    response = api.patch(f"/v1/counterparties/{counterparty['id']}", key=tenant.finance, json_body=body)
    assert response.status_code == 200, response.body
    read = _reads_back(api, tenant, counterparty["id"])
    assert read == response.json()
    assert {k: read[k] for k in expected} == expected
