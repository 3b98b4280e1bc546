"""The reports against an independent computation from the raw records: a seeded tenant with
invoices in three currencies, partial payments, a credit note and exchange rates."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.payment_utils import pay
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of

# The app runs at FROZEN_NOW here: which invoices are overdue, due in the period or in which week
# comes out the same whatever day the suite runs (no branch of these tests depends on the date).
pytestmark = pytest.mark.usefixtures("frozen_now")
RATES = {"CHF": Decimal("0.9312"), "GBP": Decimal("0.8417")}  # 1 EUR = x


def _today_berlin() -> date:
    return FROZEN_NOW.astimezone(ZoneInfo("Europe/Berlin")).date()


def counterparty(api: Api, tenant: TestTenant, name: str, segment: str) -> str:
    response = api.post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": name, "segment": segment}
    )
    assert response.status_code == 201, response.body
    return str(response.json()["id"])


def invoice(
    api: Api, tenant: TestTenant, cp: str, number: str, currency: str, amount: int, due_in: int, **extra: Any
) -> dict[str, Any]:
    today = _today_berlin()
    body = {
        "direction": "receivable",
        "counterparty": {"id": cp},
        "number": number,
        "issue_date": str(today + timedelta(days=due_in - 30)),
        "due_date": str(today + timedelta(days=due_in)),
        "currency": currency,
        "amount_due": amount,
        **extra,
    }
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def seeded(api: Api, tenant: TestTenant) -> dict[str, Any]:
    rates = {
        "date": str(_today_berlin()),
        "rates": [{"base": "EUR", "quote": c, "rate": str(r)} for c, r in RATES.items()],
    }
    stored = api.post("/v1/fx-rates", key=tenant.finance, json_body=rates)
    assert stored.status_code == 200, stored.body
    small, big = (
        counterparty(api, tenant, "Klein GmbH", "smb"),
        counterparty(api, tenant, "Gross AG", "enterprise"),
    )
    made = [
        invoice(api, tenant, small, "A-1", "EUR", 100_000, -45),
        invoice(api, tenant, small, "A-2", "EUR", 50_000, -10),
        invoice(api, tenant, big, "B-1", "EUR", 200_000, 5),
        invoice(api, tenant, big, "B-2", "EUR", 70_000, 40),
        invoice(api, tenant, big, "B-3", "CHF", 300_000, -95),
        invoice(api, tenant, small, "A-3", "GBP", 80_000, -61),
        invoice(api, tenant, small, "A-4", "EUR", 20_000, -3, kind="credit_note"),
        invoice(api, tenant, big, "B-4", "EUR", 40_000, -20),
    ]
    by_number = {i["number"]: i for i in made}
    pay(api, tenant, 30_000, invoice_id=by_number["A-1"]["id"], method="bank_transfer")  # partial
    pay(api, tenant, 40_000, invoice_id=by_number["B-4"]["id"], method="card")  # paid in full, 20 days late
    pay(api, tenant, 100_000, currency="CHF", invoice_id=by_number["B-3"]["id"], method="bank_transfer")
    return {"small": small, "big": big, **by_number}


def raw_invoices(api: Api, tenant: TestTenant) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        path = "/v1/invoices?direction=receivable&limit=100" + (f"&starting_after={cursor}" if cursor else "")
        page = api.get(path, key=tenant.read_only).json()
        found += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def owed(i: dict[str, Any]) -> int:
    """What an invoice still adds to what is owed (a credit note takes away)."""
    if i["status"] in {"paid", "void", "written_off", "draft"}:
        return 0
    remaining = i["amount_due"] - i["amount_paid"]
    return -remaining if i["kind"] == "credit_note" else remaining


def bucket(days: int) -> str:
    return (
        "current"
        if days <= 0
        else "1_30"
        if days <= 30
        else "31_60"
        if days <= 60
        else "61_90"
        if days <= 90
        else "over_90"
    )


def to_eur(amount: int, currency: str) -> int:
    if currency == "EUR":
        return amount
    exact = Decimal(amount) / RATES[currency]
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_summary_and_aging_match_an_independent_computation(
    api: Api, tenant: TestTenant, seeded: dict[str, Any]
) -> None:
    today = _today_berlin()
    invoices = raw_invoices(api, tenant)
    expected: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    aging: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i in invoices:
        amount = owed(i)
        if not amount:
            continue
        due = date.fromisoformat(i["due_date"])
        e = expected[i["currency"]]
        e["outstanding"] += amount
        if due < today:
            e["overdue"] += amount
            e["overdue_count"] += 1
            e["late_days"] += (today - due).days
        elif due <= today + timedelta(days=30):
            e["due_next_30_days"] += amount
        aging[i["currency"]][bucket((today - due).days)] += amount

    body = api.get("/v1/reports/summary?direction=receivable", key=tenant.read_only).json()
    figures = {f["currency"]: f for f in body["figures"]}
    assert set(figures) == set(expected)
    for currency, e in expected.items():
        f = figures[currency]
        assert (f["outstanding"], f["overdue"], f["due_next_30_days"]) == (
            e["outstanding"],
            e["overdue"],
            e["due_next_30_days"],
        )
        if e["overdue_count"]:
            assert f["average_days_past_due"] == round(e["late_days"] / e["overdue_count"], 1)

    base = body["base"]
    assert body["base_currency"] == "EUR" and body["missing_rates"] == []
    assert base["outstanding"] == sum(to_eur(e["outstanding"], c) for c, e in expected.items())
    methods = {(m["method"], m["currency"]): m["amount"] for m in body["payments_by_method"]}
    assert methods == {
        ("bank_transfer", "EUR"): 30_000,
        ("card", "EUR"): 40_000,
        ("bank_transfer", "CHF"): 100_000,
    }

    report = api.get("/v1/reports/aging?direction=receivable", key=tenant.read_only).json()
    totals = {t["currency"]: t for t in report["totals"]}
    for currency, buckets in aging.items():
        for name, amount in buckets.items():
            assert totals[currency][name] == amount, (currency, name)
        assert totals[currency]["total"] == sum(buckets.values())
    per_cp = {(r["counterparty_id"], r["currency"]): r["total"] for r in report["counterparties"]}
    assert per_cp[(seeded["small"], "GBP")] == 80_000 and per_cp[(seeded["big"], "CHF")] == 200_000

    segment = api.get("/v1/reports/summary?direction=receivable&segment=smb", key=tenant.read_only).json()
    smb = {f["currency"]: f["outstanding"] for f in segment["figures"]}
    assert smb == {
        "EUR": sum(
            owed(i) for i in invoices if i["currency"] == "EUR" and i["counterparty_id"] == seeded["small"]
        ),
        "GBP": 80_000,
    }


def test_collection_rate_dso_and_a_missing_rate(api: Api, tenant: TestTenant, seeded: dict[str, Any]) -> None:
    today = _today_berlin()
    body = api.get(
        f"/v1/reports/summary?direction=receivable&period={today:%Y-%m}&currency=EUR", key=tenant.read_only
    ).json()
    [eur] = body["figures"]
    first = today.replace(day=1)
    due_in_period = [
        i
        for i in raw_invoices(api, tenant)
        if i["currency"] == "EUR"
        and first <= date.fromisoformat(i["due_date"]) <= today
        and i["status"] != "void"
    ]
    billed = sum(-i["amount_due"] if i["kind"] == "credit_note" else i["amount_due"] for i in due_in_period)
    still = sum(owed(i) for i in due_in_period)
    if billed > 0:
        assert eur["collection_rate"] == round((billed - still) / billed, 4)
    issued = [
        i
        for i in raw_invoices(api, tenant)
        if i["currency"] == "EUR"
        and first <= date.fromisoformat(i["issue_date"]) <= today.replace(day=28) + timedelta(days=4)
        and date.fromisoformat(i["issue_date"]).month == today.month
    ]
    invoiced = sum(-i["amount_due"] if i["kind"] == "credit_note" else i["amount_due"] for i in issued)
    assert eur["billed_in_period"] == invoiced
    if invoiced > 0:
        days = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days
        assert eur["dso_days"] == round(eur["outstanding"] / invoiced * days, 1)

    sek = api.post(
        "/v1/invoices",
        key=tenant.finance,
        json_body={
            "direction": "receivable",
            "counterparty": {"id": seeded["small"]},
            "number": "S-1",
            "issue_date": str(today),
            "due_date": str(today + timedelta(days=10)),
            "currency": "SEK",
            "amount_due": 1_000_00,
        },
    )
    assert sek.status_code == 201
    missing = api.get("/v1/reports/summary?direction=receivable", key=tenant.read_only).json()
    assert missing["base"] is None and missing["missing_rates"] == ["SEK"]


def test_cashflow_shifts_a_late_payer_and_risk_sees_it(
    api: Api, tenant: TestTenant, seeded: dict[str, Any]
) -> None:
    risk = api.get(f"/v1/counterparties/{seeded['big']}/risk", key=tenant.read_only).json()
    assert risk["paid_invoices"] == 1 and risk["average_delay_days"] == 20.0
    forecast = api.get("/v1/reports/cashflow?weeks=10&currency=EUR", key=tenant.read_only).json()
    basis = {b["counterparty_id"]: b for b in forecast["basis"]}
    assert basis[seeded["big"]]["average_delay_days"] == 20.0
    today = _today_berlin()
    b1_expected = today + timedelta(days=5 + 20)
    year, week, _ = (b1_expected - timedelta(days=b1_expected.weekday())).isocalendar()
    weeks = {w["week"]: w for w in forecast["weeks"]}
    assert weeks[f"{year}-W{week:02d}"]["expected_in"] >= 200_000
    assert sum(w["expected_in"] for w in forecast["weeks"]) == sum(
        owed(i)
        for i in raw_invoices(api, tenant)
        if i["currency"] == "EUR"
        and date.fromisoformat(i["due_date"])
        + timedelta(days=20 if i["counterparty_id"] == seeded["big"] else 0)
        <= today - timedelta(days=today.weekday()) + timedelta(days=69)
    )


def test_a_payer_getting_worse_is_flagged(api: Api, tenant: TestTenant) -> None:
    cp = counterparty(api, tenant, "Spaet KG", "smb")
    for n, late in enumerate([0, 2, 1, 15, 25, 30]):
        inv = invoice(api, tenant, cp, f"L-{n}", "EUR", 10_000, -late)
        pay(api, tenant, 10_000, invoice_id=inv["id"])
    risk = api.get(f"/v1/counterparties/{cp}/risk", key=tenant.read_only).json()
    assert risk["flagged"] and risk["trend_days"] > 7, risk
    assert [r["delay"] for r in risk["recent"]] == [0, 2, 1, 15, 25, 30]
    flagged = api.get("/v1/reports/risk", key=tenant.read_only).json()["data"]
    assert cp in [r["counterparty_id"] for r in flagged]


def test_fx_input_errors_name_the_field(api: Api, tenant: TestTenant) -> None:
    bad = api.post(
        "/v1/fx-rates",
        key=tenant.finance,
        json_body={"date": "2026-11-20", "rates": [{"base": "EUR", "quote": "XXY", "rate": "1.1"}]},
    )
    assert bad.status_code == 400 and error_of(bad)["field"].startswith("rates[0]")
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    refused = api.post(
        "/v1/fx-rates", key=tenant.finance, raw_body=xxe, headers={"Content-Type": "application/xml"}
    )
    assert refused.status_code == 400
    ecb = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        b'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
        b"<gesmes:subject>Reference rates</gesmes:subject>"
        b'<Cube><Cube time="2026-11-20"><Cube currency="USD" rate="1.0832"/>'
        b'<Cube currency="JPY" rate="163.42"/></Cube></Cube></gesmes:Envelope>'
    )
    ok = api.post(
        "/v1/fx-rates", key=tenant.finance, raw_body=ecb, headers={"Content-Type": "application/xml"}
    )
    assert ok.status_code == 200 and ok.json() == {"stored": 2, "days": ["2026-11-20"]}
    listed = api.get("/v1/fx-rates?on=2026-11-22", key=tenant.read_only).json()["data"]
    assert {(r["quote"], r["rate"]) for r in listed} >= {("USD", "1.0832"), ("JPY", "163.42")}


def test_a_statement_of_account_in_pdf_and_csv(api: Api, tenant: TestTenant, seeded: dict[str, Any]) -> None:
    import csv
    import io

    import requests
    from pypdf import PdfReader

    today = _today_berlin()
    first = today - timedelta(days=60)
    body = {"from": str(first), "to": str(today), "format": "csv", "currency": "EUR"}
    made = api.post(f"/v1/counterparties/{seeded['small']}/statements", key=tenant.finance, json_body=body)
    assert made.status_code == 201, made.body
    info = made.json()
    invoices = [
        i
        for i in raw_invoices(api, tenant)
        if i["counterparty_id"] == seeded["small"] and i["currency"] == "EUR"
    ]
    billed = sum(-i["amount_due"] if i["kind"] == "credit_note" else i["amount_due"] for i in invoices)
    assert info["closing_balance"] == billed - 30_000  # the partial payment
    rows = list(csv.reader(io.StringIO(requests.get(info["download_url"], timeout=10).text)))
    assert any("A-2" in row for row in rows) and any("A-4" in row for row in rows)  # before the period

    pdf = api.post(
        f"/v1/counterparties/{seeded['small']}/statements",
        key=tenant.finance,
        json_body={**body, "format": "pdf", "language": "de"},
    ).json()
    text = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(requests.get(pdf["download_url"], timeout=10).content)).pages
    )
    assert "Kontoauszug" in text and "Klein GmbH" in text
    other = api.post(
        "/v1/counterparties/cp_01JD3Z5W4YV6Q3R0M8X2N5B7C9/statements", key=tenant.finance, json_body=body
    )
    assert other.status_code == 404


def test_the_monthly_run_writes_and_mails_a_statement_per_active_counterparty(
    api: Api, tenant: TestTenant, chalice_app: Any, local_cloud: Any
) -> None:
    import json as json_module

    from localcloud.handlers import fire_schedule
    from localcloud.template import local_name

    settings = api.get("/v1/collection-settings", key=tenant.read_only).json()
    saved = api.request(
        "PUT", "/v1/collection-settings", key=tenant.admin, json_body={**settings, "email_statements": True}
    )
    assert saved.status_code == 200, saved.body
    response = api.post(
        "/v1/counterparties",
        key=tenant.finance,
        json_body={"name": "Monat GmbH", "email": "ap@monat.example"},
    )
    cp = response.json()["id"]
    invoice(api, tenant, cp, "M-1", "EUR", 12_345, 10)
    now = FROZEN_NOW
    run_at = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 6, 0, tzinfo=UTC)
    first = fire_schedule(chalice_app, "monthly_statements", run_at)
    again = fire_schedule(chalice_app, "monthly_statements", run_at + timedelta(hours=1))
    assert first["statements"] >= 1 and again["statements"] == 0
    keys = (
        local_cloud.client("s3")
        .list_objects_v2(Bucket=local_name("DocumentsBucket"), Prefix=f"statements/{tenant.tenant_id}/{cp}/")
        .get("Contents", [])
    )
    assert len(keys) == 1 and keys[0]["Key"].endswith(".pdf")
    mails = [json_module.loads(p.read_text()) for p in local_cloud.outbox_dir.glob("*.json")]
    assert [m["attachments"][0]["filename"] for m in mails if m.get("to") == "ap@monat.example"] == [
        f"statement_{now:%Y-%m}.pdf"
    ]
