"""Payments recorded through the API: allocation by reference and by the tenant's rule, partial and
over-payments, credit used by the next invoice, manual assignment, concurrency, isolation and bad
input. Against DynamoDB Local."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.payment_utils import TODAY, credit_of, get_invoice, invoice, pay, settings
from tests.utils import Api, TestTenant, error_of

# The app runs at FROZEN_NOW here (the payment helpers date everything from it): due dates, value
# dates and "overdue" do not depend on the day the suite runs.
pytestmark = pytest.mark.usefixtures("frozen_now")


def test_a_partial_payment_leaves_the_exact_outstanding_and_the_rest_pays_it(
    api: Api, tenant: TestTenant
) -> None:
    inv = invoice(api, tenant, "R-100", 10000)
    first = pay(api, tenant, 3333, invoice_id=inv["id"])
    assert first["allocations"][0]["target_id"] == inv["id"]
    assert first["allocated_amount"] == 3333 and first["unallocated_amount"] == 0
    after = get_invoice(api, tenant, inv["id"])
    assert after["status"] == "partially_paid"
    assert after["amount_paid"] == 3333 and after["amount_outstanding"] == 6667

    pay(api, tenant, 6667, invoice_id=inv["id"])
    assert get_invoice(api, tenant, inv["id"])["status"] == "paid"
    trail = api.get(f"/v1/invoices/{inv['id']}/events", key=tenant.read_only).json()["data"]
    assert [e["action"] for e in trail].count("payment_applied") == 2


def test_the_remittance_text_names_the_invoice_by_number_or_creditor_reference(
    api: Api, tenant: TestTenant
) -> None:
    older = invoice(api, tenant, "RE-2026-0041", 5000, due_in=5)
    named = invoice(api, tenant, "RE-2026-0042", 7000, due_in=30)
    by_number = pay(
        api, tenant, 7000, payer_name="Kunde AG", remittance_reference="Rechnung RE-2026-0042 vom 3.11."
    )
    assert [a["target_id"] for a in by_number["allocations"]] == [named["id"]]
    assert get_invoice(api, tenant, older["id"])["status"] == "open"

    from cashline.domain.references import creditor_reference

    third = invoice(api, tenant, "2026/77", 1234)
    reference = creditor_reference("2026/77")
    spaced = " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
    by_rf = pay(api, tenant, 1234, remittance_reference=f"Zahlung {spaced}")
    assert [a["target_id"] for a in by_rf["allocations"]] == [third["id"]]


def test_oldest_first_is_the_default_and_an_overpayment_is_credit_the_next_invoice_uses(
    api: Api, tenant: TestTenant
) -> None:
    late = invoice(api, tenant, "A-1", 4000, due_in=-3)
    soon = invoice(api, tenant, "A-2", 3000, due_in=10)
    cp = late["counterparty_id"]
    payment = pay(api, tenant, 9000, counterparty_id=cp)
    assert [(a["target_id"], a["amount"]) for a in payment["allocations"]] == [
        (late["id"], 4000),
        (soon["id"], 3000),
    ]
    assert payment["unallocated_amount"] == 2000
    assert credit_of(api, tenant, cp) == 2000

    nxt = invoice(api, tenant, "A-3", 2500, counterparty={"id": cp})
    assert nxt["amount_paid"] == 2000 and nxt["status"] == "partially_paid"
    assert credit_of(api, tenant, cp) == 0
    after = api.get(f"/v1/payments/{payment['id']}", key=tenant.read_only).json()
    assert after["unallocated_amount"] == 0
    assert sum(a["amount"] for a in after["allocations"]) == 9000


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("largest_first", [("big", 5000)]), ("proportional", [("small", 1667), ("big", 3333)])],
)
def test_the_tenants_rule_decides_when_nothing_is_named(
    api: Api, tenant_factory: Any, rule: str, expected: list[tuple[str, int]]
) -> None:
    tenant = tenant_factory()
    settings(api, tenant, allocation_rule=rule)
    small = invoice(api, tenant, "S-1", 5000, due_in=1)
    big = invoice(api, tenant, "B-1", 10000, due_in=9)
    names = {small["id"]: "small", big["id"]: "big"}
    payment = pay(api, tenant, 5000, counterparty_id=small["counterparty_id"])
    got = sorted((names[a["target_id"]], a["amount"]) for a in payment["allocations"])
    assert got == sorted(expected)
    assert sum(a["amount"] for a in payment["allocations"]) == 5000


def test_the_manual_rule_holds_the_money_until_a_person_assigns_it(api: Api, tenant: TestTenant) -> None:
    settings(api, tenant, allocation_rule="manual")
    inv = invoice(api, tenant, "M-1", 8000)
    held = pay(api, tenant, 5000, counterparty_id=inv["counterparty_id"])
    assert held["allocations"] == [] and held["unallocated_amount"] == 5000
    assert "manual" in held["hold_reason"]
    listed = api.get("/v1/payments?unallocated=true", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in listed] == [held["id"]]

    too_much = api.post(
        f"/v1/payments/{held['id']}/allocations",
        key=tenant.finance,
        json_body={"allocations": [{"invoice_id": inv["id"], "amount": 6000}]},
    )
    assert too_much.status_code == 422 and error_of(too_much)["field"] == "allocations"
    done = api.post(
        f"/v1/payments/{held['id']}/allocations",
        key=tenant.finance,
        json_body={"allocations": [{"invoice_id": inv["id"], "amount": 5000}]},
    )
    assert done.status_code == 200, done.body
    assert done.json()["unallocated_amount"] == 0
    assert get_invoice(api, tenant, inv["id"])["amount_outstanding"] == 3000
    assert credit_of(api, tenant, inv["counterparty_id"]) == 0


def test_an_unknown_payer_is_held_and_its_money_is_no_ones_credit(api: Api, tenant: TestTenant) -> None:
    held = pay(api, tenant, 4200, payer_name="Somebody Unknown", remittance_reference="thanks")
    assert held["allocations"] == [] and held["counterparty_id"] is None
    assert held["hold_reason"] == "payer not recognized"


def test_concurrent_payments_on_one_invoice_never_lose_an_update(api: Api, tenant_factory: Any) -> None:
    """20 payments of 1.00 at once on an invoice of 15.00: paid, with 5.00 credit, every time."""
    for round_number in range(2):
        tenant = tenant_factory()
        inv = invoice(api, tenant, f"C-{round_number}", 1500)

        def one(_: int) -> dict[str, Any]:
            return pay(api, tenant, 100, invoice_id=inv["id"])

        with ThreadPoolExecutor(max_workers=20) as pool:
            made = list(pool.map(one, range(20)))
        after = get_invoice(api, tenant, inv["id"])
        assert after["status"] == "paid" and after["amount_paid"] == 1500
        assert credit_of(api, tenant, inv["counterparty_id"]) == 500
        payments = [api.get(f"/v1/payments/{p['id']}", key=tenant.read_only).json() for p in made]
        assert sum(p["allocated_amount"] for p in payments) == 1500
        assert sum(p["unallocated_amount"] for p in payments) == 500


def test_an_idempotency_key_records_one_payment(api: Api, tenant: TestTenant) -> None:
    inv = invoice(api, tenant, "I-1", 3000)
    headers = {"Idempotency-Key": "pay-once-1"}
    first = pay(api, tenant, 1000, invoice_id=inv["id"], headers=headers)
    again = pay(api, tenant, 1000, invoice_id=inv["id"], headers=headers)
    assert again["id"] == first["id"]
    assert get_invoice(api, tenant, inv["id"])["amount_paid"] == 1000


def test_the_same_bank_transfer_twice_is_a_409_with_the_existing_id(api: Api, tenant: TestTenant) -> None:
    inv = invoice(api, tenant, "T-1", 3000)
    first = pay(api, tenant, 3000, invoice_id=inv["id"], source="bank_transfer", bank_reference="BANK-REF-77")
    dup = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={
            "amount": 3000,
            "currency": "EUR",
            "value_date": str(TODAY),
            "source": "bank_transfer",
            "bank_reference": "BANK-REF-77",
        },
    )
    assert dup.status_code == 409
    assert error_of(dup)["existing_id"] == first["id"]
    assert get_invoice(api, tenant, inv["id"])["amount_paid"] == 3000


def test_a_payment_in_another_currency_uses_the_given_invoice_amount(api: Api, tenant: TestTenant) -> None:
    inv = invoice(api, tenant, "FX-1", 10000, currency="CHF")
    paid = pay(api, tenant, 10500, currency="EUR", invoice_id=inv["id"], invoice_amount=10000)
    assert paid["invoice_currency"] == "CHF" and paid["fx_rate"] == "0.952381"
    assert paid["allocations"][0]["amount"] == 10000 and paid["allocations"][0]["currency"] == "CHF"
    assert get_invoice(api, tenant, inv["id"])["status"] == "paid"


def test_listing_filters_and_another_tenants_payment_is_404(api: Api, tenant_factory: Any) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    inv = invoice(api, tenant, "L-1", 3000)
    payment = pay(api, tenant, 3000, invoice_id=inv["id"], method="cash")
    by_status = api.get("/v1/payments?status=succeeded&method=cash", key=tenant.read_only).json()["data"]
    assert [p["id"] for p in by_status] == [payment["id"]]
    by_cp = api.get(f"/v1/payments?counterparty_id={inv['counterparty_id']}", key=tenant.read_only).json()
    assert [p["id"] for p in by_cp["data"]] == [payment["id"]]
    assert api.get("/v1/payments?method=card", key=tenant.read_only).json()["data"] == []

    assert api.get(f"/v1/payments/{payment['id']}", key=other.read_only).status_code == 404
    assert api.get("/v1/payments", key=other.read_only).json()["data"] == []
    foreign = api.post(
        "/v1/payments",
        key=other.finance,
        json_body={"amount": 100, "currency": "EUR", "value_date": str(TODAY), "invoice_id": inv["id"]},
    )
    assert foreign.status_code == 404 and error_of(foreign)["field"] == "invoice_id"
    assigned = api.post(
        f"/v1/payments/{payment['id']}/allocations",
        key=other.finance,
        json_body={"allocations": [{"invoice_id": inv["id"], "amount": 1}]},
    )
    assert assigned.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"currency": "XXY"}, "currency"),
        ({"value_date": "2026-13-01"}, "value_date"),
        ({"method": "gold"}, "method"),
        ({"invoice_amount": 100}, None),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_payments_are_refused_naming_the_field(
    api: Api, tenant: TestTenant, body: dict[str, Any], field: str | None
) -> None:
    full = {"amount": 100, "currency": "EUR", "value_date": str(TODAY), **body}
    response = api.post("/v1/payments", key=tenant.finance, json_body=full)
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == field
    assert api.get("/v1/payments", key=tenant.read_only).json()["data"] == []


def test_a_read_only_key_cannot_record_payments(api: Api, tenant: TestTenant) -> None:
    response = api.post(
        "/v1/payments",
        key=tenant.read_only,
        json_body={"amount": 100, "currency": "EUR", "value_date": str(TODAY)},
    )
    assert response.status_code == 403
