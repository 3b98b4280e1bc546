"""The tenant's reconciliation settings: read with their defaults, saved on the version read, bounded,
and obeyed: a line whose best proposal scores below the tenant's threshold waits for a person."""

from __future__ import annotations

from datetime import datetime

from tests.bank_setup import invoice
from tests.unit.test_bank_camt import balance, camt, entry, report, tx
from tests.utils import Api, TestTenant, error_of

XML = {"Content-Type": "application/xml"}


def test_settings_have_defaults_and_are_saved_on_the_version_read(api: Api, tenant: TestTenant) -> None:
    read = api.get("/v1/reconciliation-settings", key=tenant.read_only)
    assert read.status_code == 200
    assert read.json() == {"auto_match_threshold": 90, "not_in_bank_days": 5, "version": 0}

    body = {"auto_match_threshold": 98, "not_in_bank_days": 7, "version": 0}
    saved = api.request("PUT", "/v1/reconciliation-settings", key=tenant.admin, json_body=body)
    assert saved.status_code == 200, saved.body
    assert saved.json() == {"auto_match_threshold": 98, "not_in_bank_days": 7, "version": 1}

    stale = api.request("PUT", "/v1/reconciliation-settings", key=tenant.admin, json_body=body)
    assert stale.status_code == 409 and error_of(stale)["field"] == "version"
    assert api.get("/v1/reconciliation-settings", key=tenant.read_only).json()["version"] == 1


def test_settings_out_of_bounds_or_from_a_finance_key_are_refused(api: Api, tenant: TestTenant) -> None:
    for field, value in (
        ("auto_match_threshold", 49),
        ("auto_match_threshold", 101),
        ("not_in_bank_days", 0),
    ):
        response = api.request(
            "PUT", "/v1/reconciliation-settings", key=tenant.admin, json_body={field: value}
        )
        assert response.status_code == 400 and error_of(response)["field"] == field, response.body
    finance = api.request("PUT", "/v1/reconciliation-settings", key=tenant.finance, json_body={"version": 0})
    assert finance.status_code == 403
    assert api.get("/v1/reconciliation-settings", key=tenant.read_only).json()["version"] == 0


def test_a_line_below_the_tenants_threshold_waits_for_a_person(
    api: Api, tenant: TestTenant, frozen_now: datetime
) -> None:
    # Given a threshold of 98, and a credit naming an open invoice's number for its amount (scores 97)
    body = {"auto_match_threshold": 98, "version": 0}
    saved = api.request("PUT", "/v1/reconciliation-settings", key=tenant.admin, json_body=body)
    assert saved.status_code == 200
    inv = invoice(tenant.tenant_id, "RE-7001", 30_000, now=frozen_now)
    details = tx(
        parties="<Dbtr><Nm>Kunde K-1</Nm></Dbtr>",
        remittance="<RmtInf><Ustrd>Rechnung RE-7001</Ustrd></RmtInf>",
    )
    balances = balance("OPBD", "1000.00") + balance("CLBD", "1300.00")
    file = camt(report(entry("300.00", details=f"<NtryDtls>{details}</NtryDtls>"), balances=balances))

    # When it is imported
    imported = api.post("/v1/bank-statements", key=tenant.finance, raw_body=file, headers=XML)

    # Then it is proposed, not applied
    assert imported.status_code == 201, imported.body
    [statement] = imported.json()["statements"]
    assert (statement["matched"], statement["unmatched"]) == (0, 1)
    [line] = api.get("/v1/bank-transactions?status=suggested", key=tenant.read_only).json()["data"]
    best = line["proposals"][0]
    assert best["rule"] == "invoice_number" and best["score"] == 97
    assert best["targets"][0]["id"] == inv.invoice_id
