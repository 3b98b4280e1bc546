"""CSV import (`POST /v1/imports`) and export (`GET /v1/invoices/export`) against the local cloud.

An import checks every row first: without `partial=true` one bad row means 422 and nothing written;
with it the good rows are written. Rows that exist already are duplicates, never written twice.
The export is the filtered invoice list with amounts as decimals in major units.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from cashline.services.bulk import EXPORT_COLUMNS
from localcloud.gateway import GatewayResponse
from tests.utils import Api, TestTenant, error_of, make_tenant

CSV = {"Content-Type": "text/csv"}
ISSUE = "2024-01-15"
DUE = "2099-12-31"  # open for the life of this test suite
PAST_DUE = "2024-02-14"  # overdue from the moment it is created

COUNTERPARTY_HEADER = [
    "name",
    "email",
    "country",
    "segment",
    "tax_id",
    "iban",
    "external_reference",
    "address_line1",
    "address_postal_code",
    "address_city",
]


# --- helpers ------------------------------------------------------------------------------------


def csv_of(rows: list[dict[str, str]], *, delimiter: str = ",", bom: bool = False) -> bytes:
    """A CSV file whose header is every key the rows use, in order of first appearance."""
    header = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def invoice_row(number: str, **values: str) -> dict[str, str]:
    row = {
        "direction": "receivable",
        "number": number,
        "issue_date": ISSUE,
        "due_date": DUE,
        "currency": "EUR",
        "amount": "100.00",
    }
    row.update(values)
    return row


def post_csv(
    api: Api,
    key: str,
    kind: str,
    body: bytes,
    *,
    partial: bool = False,
    headers: dict[str, str] | None = None,
) -> GatewayResponse:
    query = f"type={kind}" + ("&partial=true" if partial else "")
    return api.post(f"/v1/imports?{query}", key=key, raw_body=body, headers={**CSV, **(headers or {})})


def rows_of(response: GatewayResponse) -> dict[int, dict[str, Any]]:
    """The answer's rows by their line in the file (the header is line 1)."""
    return {row["row"]: row for row in response.json()["rows"]}


def list_all(api: Api, key: str, path: str) -> list[dict[str, Any]]:
    """Every item of a paged list."""
    items: list[dict[str, Any]] = []
    separator = "&" if "?" in path else "?"
    url = f"{path}{separator}limit=100"
    while True:
        response = api.get(url, key=key)
        assert response.status_code == 200, response.body
        page = response.json()
        items += page["data"]
        if not page["has_more"]:
            return items
        url = f"{path}{separator}limit=100&starting_after={page['next_cursor']}"


def invoices_of(api: Api, key: str) -> list[dict[str, Any]]:
    return list_all(api, key, "/v1/invoices")


def counterparties_of(api: Api, key: str) -> list[dict[str, Any]]:
    return list_all(api, key, "/v1/counterparties")


def snapshot(api: Api, tenant: TestTenant) -> tuple[set[str], set[str]]:
    """Ids of the tenant's invoices and counterparties: what 'nothing was written' compares."""
    return (
        {i["id"] for i in invoices_of(api, tenant.read_only)},
        {c["id"] for c in counterparties_of(api, tenant.read_only)},
    )


def new_counterparty(api: Api, tenant: TestTenant, **values: str) -> str:
    response = api.post("/v1/counterparties", key=tenant.finance, json_body=values)
    assert response.status_code == 201, response.body
    counterparty_id: str = response.json()["id"]
    return counterparty_id


def new_invoice(api: Api, tenant: TestTenant, **values: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "direction": "receivable",
        "number": "INV-1",
        "issue_date": ISSUE,
        "due_date": DUE,
        "currency": "EUR",
        "amount_due": 10000,
        "counterparty": {"name": "Default Customer"},
    }
    body.update(values)
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    invoice: dict[str, Any] = response.json()
    return invoice


def export(api: Api, key: str, query: str = "") -> list[dict[str, str]]:
    response = api.get(f"/v1/invoices/export?format=csv{query}", key=key)
    assert response.status_code == 200, response.body
    reader = csv.DictReader(io.StringIO(response.body.decode("utf-8")))
    assert reader.fieldnames == EXPORT_COLUMNS
    return list(reader)


# --- counterparties -----------------------------------------------------------------------------


def test_a_good_counterparties_file_creates_every_row(api: Api, tenant: TestTenant) -> None:
    body = csv_of(
        [
            {
                "name": "Müller Bau GmbH",
                "email": "ap@mueller.example",
                "country": "de",
                "segment": "Enterprise",
                "tax_id": "DE 123.456.789",
                "iban": "de89 3704 0044 0532 0130 00",
                "external_reference": "CRM-1",
                "address_line1": "Hauptstraße 1",
                "address_postal_code": "10115",
                "address_city": "Berlin",
            },
            {"name": "Dupont SARL", "country": "FR", "external_reference": "CRM-2"},
            {"name": "Lone Trader, Inc.", "email": "hello@lone.example"},
        ]
    )

    response = post_csv(api, tenant.finance, "counterparties", body)

    assert response.status_code == 200, response.body
    answer = response.json()
    assert answer["object"] == "import"
    assert answer["type"] == "counterparties"
    assert answer["partial"] is False
    assert answer["written"] is True
    assert (answer["created"], answer["duplicates"], answer["errors"]) == (3, 0, 0)
    assert [r["row"] for r in answer["rows"]] == [2, 3, 4]
    assert all(r["status"] == "created" and r["id"].startswith("cp_") for r in answer["rows"])
    assert len({r["id"] for r in answer["rows"]}) == 3

    listed = {c["id"]: c for c in counterparties_of(api, tenant.read_only)}
    assert set(listed) == {r["id"] for r in answer["rows"]}
    mueller = listed[rows_of(response)[2]["id"]]
    assert mueller["name"] == "Müller Bau GmbH"
    assert mueller["iban"] == "DE89370400440532013000"
    assert mueller["tax_id"] == "DE123456789"
    assert mueller["country"] == "DE"
    assert mueller["segment"] == "enterprise"
    assert mueller["email"] == "ap@mueller.example"
    assert mueller["external_reference"] == "CRM-1"
    assert mueller["address"] == {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin"}
    assert listed[rows_of(response)[4]["id"]]["name"] == "Lone Trader, Inc."


@pytest.mark.parametrize(
    ("delimiter", "bom"),
    [(";", False), (",", True), (";", True), ("\t", False)],
    ids=["semicolon", "bom", "semicolon-and-bom", "tab"],
)
def test_semicolons_tabs_and_a_byte_order_mark_are_read(
    api: Api, tenant: TestTenant, delimiter: str, bom: bool
) -> None:
    body = csv_of(
        [
            {
                "name": "Alpha AG",
                "iban": "DE89370400440532013000",
                "external_reference": "A-1",
                "address_line1": "Ring 2",
                "address_city": "Köln",
            },
            {
                "name": "Beta GmbH",
                "iban": "",
                "external_reference": "B-1",
                "address_line1": "",
                "address_city": "",
            },
        ],
        delimiter=delimiter,
        bom=bom,
    )

    response = post_csv(api, tenant.finance, "counterparties", body)

    assert response.status_code == 200, response.body
    assert response.json()["created"] == 2
    listed = {c["external_reference"]: c for c in counterparties_of(api, tenant.read_only)}
    assert set(listed) == {"A-1", "B-1"}  # the BOM did not end up in the first column's name
    assert listed["A-1"]["name"] == "Alpha AG"
    assert listed["A-1"]["iban"] == "DE89370400440532013000"
    assert listed["A-1"]["address"] == {"line1": "Ring 2", "city": "Köln"}
    assert listed["B-1"]["address"] is None


def test_bad_counterparty_rows_name_their_field_and_nothing_is_written(api: Api, tenant: TestTenant) -> None:
    body = csv_of(
        [
            {"name": "Good One", "iban": "", "country": "", "email": ""},
            {"name": "Bad Iban", "iban": "DE00 1234", "country": "", "email": ""},
            {"name": "Bad Country", "iban": "", "country": "Germany", "email": ""},
            {"name": "Bad Mail", "iban": "", "country": "", "email": "not-a-mail"},
        ]
    )

    response = post_csv(api, tenant.finance, "counterparties", body)

    assert response.status_code == 422, response.body
    answer = response.json()
    assert answer["written"] is False
    assert (answer["created"], answer["errors"]) == (0, 3)
    rows = rows_of(response)
    assert rows[2]["status"] == "valid"
    assert rows[2]["id"] is None
    assert {n: (rows[n]["status"], rows[n]["field"]) for n in (3, 4, 5)} == {
        3: ("error", "iban"),
        4: ("error", "country"),
        5: ("error", "email"),
    }
    assert all(rows[n]["message"] for n in (3, 4, 5))
    assert counterparties_of(api, tenant.read_only) == []


@pytest.mark.parametrize("partial", [False, True])
def test_a_counterparty_row_without_a_name_is_a_row_error(
    api: Api, tenant: TestTenant, partial: bool
) -> None:
    body = csv_of([{"name": "Good One", "country": "DE"}, {"name": "", "country": "DE"}])

    response = post_csv(api, tenant.finance, "counterparties", body, partial=partial)

    assert response.status_code == (200 if partial else 422), response.body
    row = rows_of(response)[3]
    assert (row["status"], row["field"]) == ("error", "name")
    assert len(counterparties_of(api, tenant.read_only)) == (1 if partial else 0)


def test_counterparty_duplicates_are_reported_not_written_twice(api: Api, tenant: TestTenant) -> None:
    existing = new_counterparty(api, tenant, name="Known KG", external_reference="CRM-7")
    body = csv_of(
        [
            {"name": "Known KG again", "external_reference": "CRM-7", "tax_id": ""},
            {"name": "Taxed One", "external_reference": "", "tax_id": "ATU12345678"},
            {"name": "Taxed One (copy)", "external_reference": "", "tax_id": "atu 123 456 78"},
        ]
    )

    first = post_csv(api, tenant.finance, "counterparties", body)

    assert first.status_code == 200, first.body
    assert (first.json()["created"], first.json()["duplicates"]) == (1, 2)
    rows = rows_of(first)
    assert (rows[2]["status"], rows[2]["id"]) == ("duplicate", existing)
    assert rows[3]["status"] == "created"
    assert rows[4]["status"] == "duplicate"
    assert "same as row 3" in rows[4]["message"]
    assert len(counterparties_of(api, tenant.read_only)) == 2

    again = post_csv(api, tenant.finance, "counterparties", body)

    assert again.status_code == 200, again.body
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 3)
    assert rows_of(again)[2]["id"] == existing
    assert rows_of(again)[3]["id"] == rows[3]["id"]
    assert len(counterparties_of(api, tenant.read_only)) == 2


# --- invoices -----------------------------------------------------------------------------------


def test_amounts_are_decimals_in_major_units_converted_exactly(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Amounts Ltd")
    cases = [
        ("EUR", "1234.56", 123456),
        ("JPY", "1500", 1500),
        ("EUR", "1500", 150000),
        ("EUR", "0.10", 10),
        ("EUR", "19.9", 1990),
        ("BHD", "1.234", 1234),  # three decimals
        ("EUR", "1 234.50", 123450),
        ("USD", "0.01", 1),
    ]
    body = csv_of(
        [
            invoice_row(f"AMT-{n}", currency=currency, amount=amount, counterparty_id=customer)
            for n, (currency, amount, _) in enumerate(cases)
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 200, response.body
    assert response.json()["created"] == len(cases)
    for n, (currency, amount, minor) in enumerate(cases):
        invoice = api.get(f"/v1/invoices/{rows_of(response)[n + 2]['id']}", key=tenant.read_only).json()
        assert (invoice["number"], invoice["currency"], invoice["amount_due"]) == (
            f"AMT-{n}",
            currency,
            minor,
        ), amount
        assert invoice["counterparty_id"] == customer
        assert invoice["source"] == "csv"
        assert invoice["status"] == "open"


@pytest.mark.parametrize(
    ("currency", "amount"),
    [("EUR", "1.234"), ("JPY", "10.5"), ("EUR", "12,50"), ("EUR", "abc"), ("EUR", ""), ("EUR", "NaN")],
)
def test_an_amount_the_currency_cannot_hold_is_a_row_error_naming_amount(
    api: Api, tenant: TestTenant, currency: str, amount: str
) -> None:
    body = csv_of([invoice_row("X-1", currency=currency, amount=amount, counterparty_name="Someone")])

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 422, response.body
    row = rows_of(response)[2]
    assert (row["status"], row["field"]) == ("error", "amount")
    assert row["message"]
    assert snapshot(api, tenant) == (set(), set())


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("Infinity"),
        pytest.param("-Infinity"),
        pytest.param("sNaN"),
        pytest.param("1e400"),
    ],
)
def test_an_amount_that_is_not_a_finite_storable_number_is_a_row_error(
    api: Api, tenant: TestTenant, amount: str
) -> None:
    customer = new_counterparty(api, tenant, name="Finite Customer")
    body = csv_of(
        [
            invoice_row("NF-0", amount="10.00", counterparty_id=customer),
            invoice_row("NF-1", amount=amount, counterparty_id=customer),
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert invoices_of(api, tenant.read_only) == []  # nothing written: the file has a bad row
    assert response.status_code == 422, response.body
    assert (rows_of(response)[3]["status"], rows_of(response)[3]["field"]) == ("error", "amount")


def test_rows_referring_to_an_existing_counterparty_attach_to_it(api: Api, tenant: TestTenant) -> None:
    by_reference = new_counterparty(api, tenant, name="ERP Customer", external_reference="ERP-1")
    by_tax_id = new_counterparty(api, tenant, name="Taxed Customer", tax_id="DE999999999")
    by_id = new_counterparty(api, tenant, name="Id Customer")
    body = csv_of(
        [
            invoice_row("R-1", counterparty_external_reference="ERP-1", counterparty_tax_id=""),
            invoice_row("R-2", counterparty_external_reference="ERP-1", counterparty_tax_id=""),
            invoice_row(
                "R-3",
                counterparty_external_reference="",
                counterparty_tax_id="DE 999 999 999",
                counterparty_name="Taxed",
            ),
            invoice_row("R-4", counterparty_id=by_id),
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 200, response.body
    assert response.json()["created"] == 4
    owners = {
        i["number"]: (i["counterparty_id"], i["counterparty_name"])
        for i in invoices_of(api, tenant.read_only)
    }
    assert owners == {
        "R-1": (by_reference, "ERP Customer"),
        "R-2": (by_reference, "ERP Customer"),
        "R-3": (by_tax_id, "Taxed Customer"),
        "R-4": (by_id, "Id Customer"),
    }
    assert {c["id"] for c in counterparties_of(api, tenant.read_only)} == {by_reference, by_tax_id, by_id}
    totals = api.get(f"/v1/counterparties/{by_reference}", key=tenant.read_only).json()["totals"]
    assert [(t["direction"], t["currency"], t["billed"], t["open_invoices"]) for t in totals] == [
        ("receivable", "EUR", 20000, 2)
    ]


def test_rows_naming_the_same_new_counterparty_share_one(api: Api, tenant: TestTenant) -> None:
    body = csv_of(
        [
            invoice_row("N-1", counterparty_name="Neu GmbH"),
            invoice_row("N-2", counterparty_name="Neu GmbH"),
            invoice_row("N-3", counterparty_name="neu gmbh"),
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 200, response.body
    assert response.json()["created"] == 3
    assert len({i["counterparty_id"] for i in invoices_of(api, tenant.read_only)}) == 1
    assert [c["name"] for c in counterparties_of(api, tenant.read_only)] == ["Neu GmbH"]


def test_rows_naming_the_same_new_external_reference_share_one_counterparty(
    api: Api, tenant: TestTenant
) -> None:
    body = csv_of(
        [
            invoice_row("E-1", counterparty_external_reference="NEW-1", counterparty_name="New Partner"),
            invoice_row("E-2", counterparty_external_reference="NEW-1", counterparty_name="New Partner"),
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 200, response.body
    assert [r["status"] for r in response.json()["rows"]] == ["created", "created"]
    invoices = invoices_of(api, tenant.read_only)
    assert sorted(i["number"] for i in invoices) == ["E-1", "E-2"]
    assert len({i["counterparty_id"] for i in invoices}) == 1
    assert len(counterparties_of(api, tenant.read_only)) == 1


def _file_with_bad_rows(customer: str) -> bytes:
    return csv_of(
        [
            invoice_row("G-1", amount="1234.56", counterparty_id=customer, counterparty_name=""),
            invoice_row("B-DATE", issue_date="2024-02-30", counterparty_id=customer, counterparty_name=""),
            invoice_row("B-CUR", currency="XYZ", counterparty_id=customer, counterparty_name=""),
            invoice_row("B-NEG", amount="-5.00", counterparty_id=customer, counterparty_name=""),
            invoice_row("B-DIR", direction="sideways", counterparty_id=customer, counterparty_name=""),
            invoice_row("B-DUE", due_date="2024-01-01", counterparty_id=customer, counterparty_name=""),
            invoice_row("B-ZERO", amount="0", counterparty_id=customer, counterparty_name=""),
            # A good row with a new counterparty: that one must not be created either.
            invoice_row(
                "G-2",
                direction="payable",
                currency="JPY",
                amount="1500",
                counterparty_id="",
                counterparty_name="Fresh Supplier KK",
            ),
        ]
    )


BAD_ROW_FIELDS = {
    3: "issue_date",
    4: "currency",
    5: "amount",
    6: "direction",
    7: "due_date",
    8: "amount",
}


def test_one_bad_row_means_422_and_nothing_written(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Stable Customer")
    before = snapshot(api, tenant)

    response = post_csv(api, tenant.finance, "invoices", _file_with_bad_rows(customer))

    assert response.status_code == 422, response.body
    answer = response.json()
    assert answer["written"] is False
    assert answer["partial"] is False
    assert (answer["created"], answer["duplicates"], answer["errors"]) == (0, 0, len(BAD_ROW_FIELDS))
    rows = rows_of(response)
    for good in (2, 9):
        assert (rows[good]["status"], rows[good]["id"], rows[good]["field"]) == ("valid", None, None)
    for number, field in BAD_ROW_FIELDS.items():
        assert (rows[number]["status"], rows[number]["field"]) == ("error", field), rows[number]
        assert rows[number]["message"]
        assert rows[number]["id"] is None
    assert snapshot(api, tenant) == before
    assert api.get(f"/v1/counterparties/{customer}", key=tenant.read_only).json()["totals"] == []


def test_partial_true_writes_the_good_rows_and_reports_the_bad(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Stable Customer")

    response = post_csv(api, tenant.finance, "invoices", _file_with_bad_rows(customer), partial=True)

    assert response.status_code == 200, response.body
    answer = response.json()
    assert answer["written"] is True
    assert answer["partial"] is True
    assert (answer["created"], answer["duplicates"], answer["errors"]) == (2, 0, len(BAD_ROW_FIELDS))
    rows = rows_of(response)
    for number, field in BAD_ROW_FIELDS.items():
        assert (rows[number]["status"], rows[number]["field"], rows[number]["id"]) == ("error", field, None)
    created = {rows[2]["id"], rows[9]["id"]}
    assert all(row_id and row_id.startswith("inv_") for row_id in created)
    invoices = {i["id"]: i for i in invoices_of(api, tenant.read_only)}
    assert set(invoices) == created
    assert (invoices[rows[2]["id"]]["number"], invoices[rows[2]["id"]]["amount_due"]) == ("G-1", 123456)
    supplier_bill = invoices[rows[9]["id"]]
    assert (supplier_bill["direction"], supplier_bill["currency"], supplier_bill["amount_due"]) == (
        "payable",
        "JPY",
        1500,
    )
    assert supplier_bill["counterparty_name"] == "Fresh Supplier KK"
    assert len(counterparties_of(api, tenant.read_only)) == 2


# --- duplicates ---------------------------------------------------------------------------------


def test_an_invoice_that_exists_is_a_duplicate_with_its_id(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Repeat Customer", external_reference="RC-1")
    existing = new_invoice(api, tenant, number="INV-100", counterparty={"id": customer})
    body = csv_of(
        [
            invoice_row("INV-100", counterparty_id=customer, counterparty_external_reference=""),
            invoice_row("INV-100", counterparty_id="", counterparty_external_reference="RC-1"),
            invoice_row("INV-101", counterparty_id=customer, counterparty_external_reference=""),
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 200, response.body
    assert (response.json()["created"], response.json()["duplicates"]) == (1, 2)
    rows = rows_of(response)
    for number in (2, 3):
        assert (rows[number]["status"], rows[number]["id"]) == ("duplicate", existing["id"])
    assert rows[4]["status"] == "created"
    numbers = sorted(i["number"] for i in invoices_of(api, tenant.read_only))
    assert numbers == ["INV-100", "INV-101"]


def test_two_identical_rows_in_one_file_write_one_invoice(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Twice Customer")
    body = csv_of(
        [
            invoice_row("T-1", amount="50.00", counterparty_id=customer),
            invoice_row("T-2", amount="60.00", counterparty_id=customer),
            invoice_row("T-1", amount="50.00", counterparty_id=customer),
        ]
    )

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 200, response.body
    assert (response.json()["created"], response.json()["duplicates"]) == (2, 1)
    rows = rows_of(response)
    assert rows[4]["status"] == "duplicate"
    assert "same as row 2" in rows[4]["message"]
    assert rows[4]["id"] in (None, rows[2]["id"])
    assert sorted(i["number"] for i in invoices_of(api, tenant.read_only)) == ["T-1", "T-2"]


def test_reimporting_a_file_gives_only_duplicates(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Again Customer", external_reference="AG-1")
    body = csv_of(
        [
            invoice_row("A-1", counterparty_id=customer, counterparty_external_reference=""),
            invoice_row("A-2", counterparty_id="", counterparty_external_reference="AG-1"),
            invoice_row(
                "A-3", direction="payable", counterparty_id=customer, counterparty_external_reference=""
            ),
        ]
    )
    first = post_csv(api, tenant.finance, "invoices", body)
    assert first.status_code == 200, first.body
    assert first.json()["created"] == 3
    after_first = snapshot(api, tenant)

    again = post_csv(api, tenant.finance, "invoices", body)

    assert again.status_code == 200, again.body
    assert (again.json()["created"], again.json()["duplicates"], again.json()["errors"]) == (0, 3, 0)
    assert [(r["status"], r["id"]) for r in again.json()["rows"]] == [
        ("duplicate", r["id"]) for r in first.json()["rows"]
    ]
    assert snapshot(api, tenant) == after_first


def test_reimporting_a_file_of_new_counterparty_names_gives_only_duplicates(
    api: Api, tenant: TestTenant
) -> None:
    body = csv_of([invoice_row("NM-1", counterparty_name="Name Only AG")])
    assert post_csv(api, tenant.finance, "invoices", body).json()["created"] == 1

    again = post_csv(api, tenant.finance, "invoices", body)

    assert (again.json()["created"], again.json()["duplicates"]) == (0, 1)
    assert len(invoices_of(api, tenant.read_only)) == 1


# --- file-level errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ("type=invoices", csv_of([invoice_row("U-1", colour="red")]), "colour"),
        ("type=counterparties", b"name,nickname\nAcme,ac\n", "nickname"),
        (
            "type=invoices",
            csv_of([{k: v for k, v in invoice_row("M-1").items() if k != "currency"}]),
            "currency",
        ),
        ("type=counterparties", b"email,country\na@b.example,DE\n", "name"),
        ("type=invoices", b"", "amount"),
        ("type=counterparties", "name\nM\xfcller GmbH\n".encode("latin-1"), "body"),
        ("type=invoices", b"\xff\xfe" + "direction".encode("utf-16-le"), "body"),
        ("type=payments", b"name\nAcme\n", "type"),
        ("", b"name\nAcme\n", "type"),
        ("type=counterparties&partial=perhaps", b"name\nAcme\n", "partial"),
    ],
    ids=[
        "unknown-invoice-column",
        "unknown-counterparty-column",
        "missing-currency",
        "missing-name",
        "empty-body",
        "latin-1",
        "utf-16",
        "unknown-type",
        "no-type",
        "bad-partial",
    ],
)
def test_a_bad_file_is_a_400_naming_the_column_or_body(
    api: Api, tenant: TestTenant, query: str, body: bytes, field: str
) -> None:
    response = api.post(f"/v1/imports?{query}", key=tenant.finance, raw_body=body, headers=CSV)

    assert response.status_code == 400, response.body
    error = error_of(response)
    assert error["type"] == "invalid_request"
    assert error["field"] == field
    assert error["message"]
    assert snapshot(api, tenant) == (set(), set())


def test_more_than_5000_rows_is_refused_before_anything_is_written(api: Api, tenant: TestTenant) -> None:
    lines = ["name,external_reference", *(f"Company {n},REF-{n}" for n in range(5_001))]

    response = post_csv(api, tenant.finance, "counterparties", "\n".join(lines).encode())

    assert response.status_code == 413, response.body
    assert error_of(response)["type"] == "payload_too_large"
    assert error_of(response)["field"] == "body"
    assert "5000" in error_of(response)["message"]
    assert counterparties_of(api, tenant.read_only) == []


def test_5000_rows_are_read_and_checked(api: Api, tenant: TestTenant) -> None:
    # Every row fails on its first check (no database read), so the boundary stays fast.
    lines = ["direction,number,issue_date,due_date,currency,amount,counterparty_name"]
    lines += [f"sideways,N-{n},{ISSUE},{DUE},EUR,1.00,X" for n in range(5_000)]

    response = post_csv(api, tenant.finance, "invoices", "\n".join(lines).encode())

    assert response.status_code == 422, response.body
    answer = response.json()
    assert answer["errors"] == 5_000
    assert answer["rows"][-1]["row"] == 5_001
    assert {r["field"] for r in answer["rows"]} == {"direction"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain",
        pytest.param("application/octet-stream"),
    ],
)
def test_a_body_that_is_not_csv_is_a_415(api: Api, tenant: TestTenant, content_type: str) -> None:
    response = api.post(
        "/v1/imports?type=counterparties",
        key=tenant.finance,
        raw_body=b"name\nAcme\n",
        headers={"Content-Type": content_type},
    )

    assert response.status_code == 415, response.body
    assert error_of(response)["field"] == "Content-Type"
    assert counterparties_of(api, tenant.read_only) == []


def test_application_csv_with_a_charset_is_accepted(api: Api, tenant: TestTenant) -> None:
    response = api.post(
        "/v1/imports?type=counterparties",
        key=tenant.finance,
        raw_body=b"name\nAcme\n",
        headers={"Content-Type": "application/csv; charset=utf-8"},
    )

    assert response.status_code == 200, response.body
    assert [c["name"] for c in counterparties_of(api, tenant.read_only)] == ["Acme"]


# --- roles and tenants --------------------------------------------------------------------------


def test_a_read_only_key_may_not_import(api: Api, tenant: TestTenant) -> None:
    for kind, body in (
        ("counterparties", b"name\nAcme\n"),
        ("invoices", csv_of([invoice_row("RO-1", counterparty_name="Acme")])),
    ):
        response = post_csv(api, tenant.read_only, kind, body)
        assert response.status_code == 403, response.body
        assert error_of(response)["type"] == "forbidden"
    assert snapshot(api, tenant) == (set(), set())
    assert post_csv(api, tenant.admin, "counterparties", b"name\nAcme\n").status_code == 200


def test_an_import_without_a_key_is_a_401(api: Api) -> None:
    response = api.post("/v1/imports?type=counterparties", raw_body=b"name\nAcme\n", headers=CSV)
    assert response.status_code == 401


def test_an_import_is_invisible_to_another_tenant(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    body = csv_of(
        [
            invoice_row("ISO-1", counterparty_external_reference="SHARED-REF", counterparty_name="Shared"),
            invoice_row("ISO-2", counterparty_external_reference="OTHER-REF", counterparty_name="Other"),
        ]
    )
    mine_answer = post_csv(api, mine.finance, "invoices", body)
    assert mine_answer.status_code == 200, mine_answer.body

    assert snapshot(api, theirs) == (set(), set())
    for row in mine_answer.json()["rows"]:
        assert api.get(f"/v1/invoices/{row['id']}", key=theirs.read_only).status_code == 404
    assert export(api, theirs.read_only) == []

    # The same file in their tenant is new there, not a duplicate of mine.
    their_answer = post_csv(api, theirs.finance, "invoices", body)
    assert their_answer.status_code == 200, their_answer.body
    assert their_answer.json()["created"] == 2
    assert not {r["id"] for r in their_answer.json()["rows"]} & {r["id"] for r in mine_answer.json()["rows"]}
    assert len(invoices_of(api, mine.read_only)) == 2


def test_another_tenants_counterparty_id_is_a_row_error(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    their_customer = new_counterparty(api, theirs, name="Their Customer", external_reference="THEIRS-1")
    body = csv_of(
        [
            invoice_row("X-1", counterparty_id=their_customer),
            invoice_row("X-2", counterparty_id="cp_does_not_exist"),
        ]
    )

    blocked = post_csv(api, mine.finance, "invoices", body)
    partial = post_csv(api, mine.finance, "invoices", body, partial=True)

    for response in (blocked, partial):
        assert response.json()["errors"] == 2, response.body
        for row in response.json()["rows"]:
            assert row["status"] == "error"
            assert row["id"] is None
            assert "not found" in row["message"]
    assert blocked.status_code == 422
    assert partial.status_code == 200
    assert snapshot(api, mine) == (set(), set())
    assert invoices_of(api, theirs.read_only) == []
    assert api.get(f"/v1/counterparties/{their_customer}", key=theirs.read_only).json()["totals"] == []


def test_an_unknown_counterparty_id_error_names_the_column(api: Api, tenant: TestTenant) -> None:
    body = csv_of([invoice_row("X-1", counterparty_id="cp_01HZZZZZZZZZZZZZZZZZZZZZZZ")])

    response = post_csv(api, tenant.finance, "invoices", body)

    assert response.status_code == 422
    assert rows_of(response)[2]["field"] == "counterparty_id"


def test_an_invoice_number_longer_than_the_api_allows_is_a_row_error(api: Api, tenant: TestTenant) -> None:
    too_long = "N" * 65
    api_answer = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "number": too_long,
            "issue_date": ISSUE,
            "due_date": DUE,
            "currency": "EUR",
            "amount_due": 100,
            "counterparty": {"name": "Limits"},
        },
    )
    assert api_answer.status_code == 400
    assert error_of(api_answer)["field"] == "number"

    response = post_csv(
        api, tenant.finance, "invoices", csv_of([invoice_row(too_long, counterparty_name="Limits")])
    )

    assert response.status_code == 422, response.body
    assert (rows_of(response)[2]["status"], rows_of(response)[2]["field"]) == ("error", "number")


def test_a_counterparty_name_longer_than_the_api_allows_is_a_row_error(api: Api, tenant: TestTenant) -> None:
    too_long = "N" * 201
    assert api.post("/v1/counterparties", key=tenant.finance, json_body={"name": too_long}).status_code == 400

    response = post_csv(api, tenant.finance, "counterparties", csv_of([{"name": too_long}]))

    assert response.status_code == 422, response.body
    assert (rows_of(response)[2]["status"], rows_of(response)[2]["field"]) == ("error", "name")


# --- export -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported_tenant(api: Api) -> tuple[TestTenant, dict[str, dict[str, Any]]]:
    """A tenant with invoices of several directions, currencies, amounts and statuses, by number.
    Shared by the export tests, which only read it."""
    tenant = make_tenant("Export Co")
    made = {
        "EUR-OPEN": new_invoice(
            api,
            tenant,
            number="EUR-OPEN",
            amount_due=123456,
            description='Consulting, "phase 1"',
            counterparty={"name": "Export GmbH", "segment": "enterprise"},
        ),
        "EUR-LATE": new_invoice(
            api,
            tenant,
            number="EUR-LATE",
            amount_due=150000,
            issue_date="2024-01-10",
            due_date=PAST_DUE,
            counterparty={"name": "Late Payer SA"},
        ),
        "JPY-BILL": new_invoice(
            api,
            tenant,
            direction="payable",
            number="JPY-BILL",
            currency="JPY",
            amount_due=1500,
            counterparty={"name": "Tokyo Supplies KK"},
        ),
        "USD-SMALL": new_invoice(api, tenant, number="USD-SMALL", currency="USD", amount_due=5000),
        "USD-MID": new_invoice(api, tenant, number="USD-MID", currency="USD", amount_due=20000),
        "USD-BIG": new_invoice(api, tenant, number="USD-BIG", currency="USD", amount_due=99999),
    }
    return tenant, made


def test_export_is_a_csv_attachment_with_one_row_per_invoice(
    api: Api, exported_tenant: tuple[TestTenant, dict[str, dict[str, Any]]]
) -> None:
    tenant, made = exported_tenant

    response = api.get("/v1/invoices/export?format=csv", key=tenant.read_only)

    assert response.status_code == 200, response.body
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert "invoices.csv" in disposition
    reader = csv.DictReader(io.StringIO(response.body.decode("utf-8")))
    assert reader.fieldnames == EXPORT_COLUMNS
    rows = {row["number"]: row for row in reader}
    assert set(rows) == set(made)
    assert {row["id"] for row in rows.values()} == {i["id"] for i in made.values()}

    eur = rows["EUR-OPEN"]
    assert eur == {
        "id": made["EUR-OPEN"]["id"],
        "direction": "receivable",
        "kind": "invoice",
        "number": "EUR-OPEN",
        "status": "open",
        "counterparty_id": made["EUR-OPEN"]["counterparty_id"],
        "counterparty_name": "Export GmbH",
        "segment": "enterprise",
        "issue_date": ISSUE,
        "due_date": DUE,
        "currency": "EUR",
        "subtotal": "1234.56",
        "tax": "0.00",
        "amount_due": "1234.56",
        "amount_paid": "0.00",
        "amount_outstanding": "1234.56",
        "description": 'Consulting, "phase 1"',
    }
    assert (rows["EUR-LATE"]["amount_due"], rows["EUR-LATE"]["status"]) == ("1500.00", "overdue")
    jpy = rows["JPY-BILL"]
    assert (jpy["direction"], jpy["currency"], jpy["amount_due"], jpy["amount_paid"], jpy["tax"]) == (
        "payable",
        "JPY",
        "1500",
        "0",
        "0",
    )
    assert jpy["segment"] == ""
    assert jpy["description"] == ""
    assert {rows[n]["amount_due"] for n in ("USD-SMALL", "USD-MID", "USD-BIG")} == {
        "50.00",
        "200.00",
        "999.99",
    }


@pytest.mark.parametrize(
    ("query", "numbers"),
    [
        ("&direction=payable", {"JPY-BILL"}),
        ("&direction=receivable&currency=JPY", set()),
        ("&status=overdue", {"EUR-LATE"}),
        ("&status=open,overdue&currency=EUR", {"EUR-OPEN", "EUR-LATE"}),
        ("&currency=USD&amount_min=5000&amount_max=20000", {"USD-SMALL", "USD-MID"}),
        ("&currency=USD&amount_min=5001", {"USD-MID", "USD-BIG"}),
        ("&segment=enterprise", {"EUR-OPEN"}),
        ("&due_to=2024-12-31", {"EUR-LATE"}),
        ("&limit=1", {"EUR-OPEN", "EUR-LATE", "JPY-BILL", "USD-SMALL", "USD-MID", "USD-BIG"}),
    ],
)
def test_export_filters_like_the_invoice_list(
    api: Api,
    exported_tenant: tuple[TestTenant, dict[str, dict[str, Any]]],
    query: str,
    numbers: set[str],
) -> None:
    tenant, _ = exported_tenant

    rows = export(api, tenant.read_only, query)

    assert {row["number"] for row in rows} == numbers
    assert len(rows) == len(numbers)
    if "limit" not in query:
        listed = list_all(api, tenant.read_only, f"/v1/invoices?{query.lstrip('&')}")
        assert {i["number"] for i in listed} == numbers


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xlsx", "format"),
        ("format=csv&amount_min=5", "currency"),
        ("format=csv&status=lost", "status"),
        ("format=csv&currency=USD&amount_min=10&amount_max=5", "amount_max"),
    ],
)
def test_a_bad_export_filter_is_a_400_naming_it(api: Api, tenant: TestTenant, query: str, field: str) -> None:
    response = api.get(f"/v1/invoices/export?{query}", key=tenant.read_only)

    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field


def test_export_is_scoped_to_the_callers_tenant(
    api: Api,
    exported_tenant: tuple[TestTenant, dict[str, dict[str, Any]]],
    tenant_factory: Callable[..., TestTenant],
) -> None:
    tenant, made = exported_tenant
    other = tenant_factory("Other")
    new_invoice(api, other, number="OTHER-1")

    theirs = export(api, other.read_only)
    mine = export(api, tenant.finance)

    assert [row["number"] for row in theirs] == ["OTHER-1"]
    assert not {row["id"] for row in theirs} & {i["id"] for i in made.values()}
    assert {row["number"] for row in mine} == set(made)


def test_export_without_a_key_is_a_401(api: Api) -> None:
    assert api.get("/v1/invoices/export?format=csv").status_code == 401


def test_an_imported_file_exports_back_with_the_same_amounts_across_pages(
    api: Api, tenant: TestTenant
) -> None:
    customer = new_counterparty(api, tenant, name="Bulk Customer")
    amounts = {f"P-{n:03d}": f"{n}.{n % 100:02d}" for n in range(1, 106)}  # > one 100-item page
    body = csv_of(
        [invoice_row(number, amount=amount, counterparty_id=customer) for number, amount in amounts.items()]
    )
    imported = post_csv(api, tenant.finance, "invoices", body)
    assert imported.status_code == 200, imported.body
    assert imported.json()["created"] == len(amounts)

    rows = export(api, tenant.read_only)

    assert len(rows) == len(amounts)
    assert {row["number"]: row["amount_due"] for row in rows} == amounts
    assert {row["id"] for row in rows} == {r["id"] for r in imported.json()["rows"]}


# --- idempotency --------------------------------------------------------------------------------


def test_the_same_import_with_one_idempotency_key_is_replayed(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Once Customer")
    body = csv_of(
        [invoice_row("ID-1", counterparty_id=customer), invoice_row("ID-2", counterparty_id=customer)]
    )
    headers = {"Idempotency-Key": "import-2024-01"}

    first = post_csv(api, tenant.finance, "invoices", body, headers=headers)
    second = post_csv(api, tenant.finance, "invoices", body, headers=headers)

    assert first.status_code == second.status_code == 200, (first.body, second.body)
    assert "idempotent-replayed" not in first.headers
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json() == first.json()
    assert second.json()["created"] == 2
    assert sorted(i["number"] for i in invoices_of(api, tenant.read_only)) == ["ID-1", "ID-2"]

    # Without the key the same file is checked again: all duplicates, nothing new.
    third = post_csv(api, tenant.finance, "invoices", body)
    assert (third.json()["created"], third.json()["duplicates"]) == (0, 2)
    assert len(invoices_of(api, tenant.read_only)) == 2


def test_the_same_key_with_another_file_is_refused(api: Api, tenant: TestTenant) -> None:
    headers = {"Idempotency-Key": "import-reused"}
    assert (
        post_csv(api, tenant.finance, "counterparties", b"name\nFirst\n", headers=headers).status_code == 200
    )

    response = post_csv(api, tenant.finance, "counterparties", b"name\nSecond\n", headers=headers)

    assert response.status_code == 422
    assert error_of(response)["type"] == "idempotency_key_reused"
    assert [c["name"] for c in counterparties_of(api, tenant.read_only)] == ["First"]


def test_the_same_key_and_file_with_another_query_is_not_replayed(api: Api, tenant: TestTenant) -> None:
    customer = new_counterparty(api, tenant, name="Retry Customer")
    body = csv_of(
        [
            invoice_row("RQ-1", counterparty_id=customer),
            invoice_row("RQ-2", currency="XYZ", counterparty_id=customer),
        ]
    )
    headers = {"Idempotency-Key": "import-retry"}
    assert post_csv(api, tenant.finance, "invoices", body, headers=headers).status_code == 422

    retry = post_csv(api, tenant.finance, "invoices", body, partial=True, headers=headers)

    assert retry.headers.get("idempotent-replayed") != "true"
    if retry.status_code == 200:
        assert retry.json()["written"] is True
    else:
        assert error_of(retry)["type"] == "idempotency_key_reused"
