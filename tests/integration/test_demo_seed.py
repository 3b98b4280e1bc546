"""The demo tenant `make run` seeds (infra/localcloud/seed.py), against DynamoDB Local and read over
the API as the dashboard reads it: its operating bank account and the camt.053 statement made from
the demo's own open invoices, every part of the reconciliation panel present; and a second run of
the bank seed for the same tenant changes nothing. The instant is passed in, never read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from schwifty import IBAN

from cashline.domain.access import Role
from cashline.services.invoices import get_invoice
from localcloud import demo_bank, seed
from localcloud.cloud import LocalCloud
from tests.utils import Api

NOW = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # a Wednesday: every line is booked in this month


@pytest.fixture(scope="module")
def demo(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[seed.DemoTenant]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seed, "LOCAL_STATE", Path(tmp_path_factory.mktemp("demo_state")))
        yield seed.seed_demo(NOW)


def _get(api: Api, demo: seed.DemoTenant, path: str) -> Any:
    answer = api.get(path, key=demo.keys[Role.READ_ONLY])
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_demo_has_an_operating_eur_account_with_a_valid_iban(api: Api, demo: seed.DemoTenant) -> None:
    accounts = _get(api, demo, "/v1/bank-accounts")["data"]
    assert len(accounts) == 1
    account = accounts[0]
    assert (account["id"], account["currency"], account["operating"]) == (
        demo.bank.bank_account_id,
        "EUR",
        True,
    )
    assert IBAN(account["iban"]).compact == demo_bank.ACCOUNT_IBAN


def test_the_statement_shows_every_part_of_the_reconciliation_panel(api: Api, demo: seed.DemoTenant) -> None:
    # Given the demo's statement, made from its open invoices and bills
    statement = _get(api, demo, f"/v1/bank-statements/{demo.bank.statement_id}")

    # Then it is balanced, and each line is what the panel is to show
    assert (statement["format"], statement["transaction_count"], statement["balanced"]) == (
        "camt.053.001.02",
        7,
        True,
    )
    assert (statement["matched"], statement["unmatched"]) == (4, 3)
    lines = {(line["direction"], line["remittance"]): line for line in statement["lines"]}
    found = {
        key: (line["status"], (line["match"] or (line["proposals"] or [{}])[0]).get("rule"))
        for key, line in lines.items()
    }
    assert found == {
        ("credit", ""): ("matched", "creditor_reference"),
        ("credit", "Rechnung RE-2026-1017 danke"): ("matched", "invoice_number"),
        ("credit", "Paiement sous deduction escompte 2%"): ("matched", "creditor_reference"),
        ("credit", "Teilzahlung RE-2026-1001 Rest folgt"): ("suggested", "invoice_number"),
        ("credit", "Ueberweisung Auftrag 7781"): ("unmatched", None),
        ("debit", "Kontofuehrung Entgelt Abschluss"): ("suggested", "bank_fees"),
        ("debit", "SW-88790"): ("matched", "bill"),
    }
    skonto = lines[("credit", "Paiement sous deduction escompte 2%")]["discrepancies"]
    assert [(d["kind"], d["cause"], d["amount"]) for d in skonto] == [
        ("underpaid", "early_payment_discount", 3120)  # 2 % of the EUR 1,560.00 invoice
    ]

    # And the invoices and the bill it matched are paid through the payments it created; the
    # skonto's 2 % stays open on its invoice until a person writes it off
    status = {i["number"]: i["status"] for i in _invoices(api, demo)}
    assert [status[n] for n in ("RE-2026-1011", "RE-2026-1017", "SW-88790")] == ["paid"] * 3
    assert (status["RE-2026-1027"], status["RE-2026-1001"]) == ("partially_paid", "overdue")

    # And the report and the discrepancies list the panel reads agree with the lines
    report = _get(api, demo, "/v1/reports/reconciliation?from=2026-12-01&to=2026-12-31")["accounts"][0]
    assert (report["lines"], report["matched_auto"]["count"], report["open"]["count"]) == (7, 4, 3)
    assert report["balance"] == statement["closing_balance"]
    flagged = _get(api, demo, "/v1/bank-discrepancies?status=open")["data"]
    assert [(d["kind"], d["cause"]) for d in flagged] == [("underpaid", "early_payment_discount")]


def test_seeding_the_bank_again_for_the_demo_tenant_changes_nothing(api: Api, demo: seed.DemoTenant) -> None:
    # Given the demo as seeded, when the bank seed runs again for it (the statement's 409 swallowed)
    invoices = {
        i["number"]: get_invoice(demo.tenant_id, i["id"], now=NOW).invoice for i in _invoices(api, demo)
    }
    again = demo_bank.seed_bank(demo.tenant_id, invoices, {}, NOW)

    # Then it names the same account, imports nothing, and no line was added
    assert again == demo_bank.DemoBank(demo.bank.bank_account_id, None)
    assert len(_get(api, demo, "/v1/bank-accounts")["data"]) == 1
    statements = _get(api, demo, "/v1/bank-statements")["data"]
    assert [s["id"] for s in statements] == [demo.bank.statement_id]
    assert len(_get(api, demo, "/v1/bank-transactions?limit=100")["data"]) == 7


def _invoices(api: Api, demo: seed.DemoTenant) -> list[dict[str, Any]]:
    return [
        *_get(api, demo, "/v1/invoices?direction=receivable&limit=100")["data"],
        *_get(api, demo, "/v1/invoices?direction=payable&limit=100")["data"],
    ]
