"""GET /v1/reports/reconciliation and /v1/bank-discrepancies against DynamoDB Local: lines in,
matched automatically, by a person, ignored and open, with amounts and discrepancies by kind, summed
from the day totals alone (a metered call shows it reads no bank line). No test reads the clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from cashline.dal.table import CashlineItem
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    Discrepancy,
    DiscrepancyKind,
    MatchRule,
    MatchTarget,
    Proposal,
    ShortfallCause,
    TargetType,
)
from cashline.services.bank import matching, queue
from cashline.services.bank.reports import reconciliation_report
from tests.bank_setup import BankBooks, fixed_proposals, invoice
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of, make_tenant

NOW = FROZEN_NOW
TODAY = NOW.date()


@pytest.fixture
def books(frozen_now: datetime, tenant: TestTenant) -> BankBooks:
    return BankBooks(tenant.tenant_id, frozen_now)


@pytest.fixture
def proposals(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Proposal]]:
    return fixed_proposals(monkeypatch)


def _a_month_of_lines(books: BankBooks, proposals: dict[str, list[Proposal]]) -> None:
    """Five lines: one matched automatically (short by a skonto), one by a person, one ignored, two
    open; and one line of the month before, outside the report."""
    skonto = invoice(books.tenant_id, "RE-8001", 10_000, now=NOW)
    chosen = invoice(books.tenant_id, "RE-8002", 4_000, now=NOW, customer="K-2")
    auto = books.line(9_800, remittance="RE-8001 abzgl. 2% Skonto")
    short = Discrepancy(DiscrepancyKind.UNDERPAID, 200, "EUR", ShortfallCause.EARLY_PAYMENT_DISCOUNT)
    proposals[auto.transaction_id] = [
        Proposal(
            MatchRule.INVOICE_NUMBER,
            92,
            (MatchTarget(TargetType.INVOICE, skonto.invoice_id, 9_800),),
            discrepancies=(short,),
        )
    ]
    by_person = books.line(4_000)
    ignored = books.line(50_000, direction=Direction.DEBIT)
    open_lines = [books.line(700), books.line(1_300, direction=Direction.DEBIT)]
    books.line(99_999, booking_date=TODAY - timedelta(days=40))
    matching.match_lines(books.tenant_id, [auto, by_person, ignored, *open_lines], now=NOW)
    queue.match_transaction(
        books.tenant_id,
        by_person.transaction_id,
        proposal=None,
        targets=[MatchTarget(TargetType.INVOICE, chosen.invoice_id, 4_000)],
        keep_rest_as_credit=False,
        actor="key:finance",
        now=NOW,
    )
    queue.ignore_transaction(books.tenant_id, ignored.transaction_id, reason="rent", actor="p", now=NOW)


def test_the_report_sums_the_day_totals_per_account(
    api: Api, tenant: TestTenant, books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    _a_month_of_lines(books, proposals)
    first, last = TODAY - timedelta(days=10), TODAY

    response = api.get(f"/v1/reports/reconciliation?from={first}&to={last}", key=tenant.read_only)

    assert response.status_code == 200, response.body
    report: dict[str, Any] = response.json()
    assert (report["from"], report["to"]) == (first.isoformat(), last.isoformat())
    [account] = report["accounts"]
    assert account["bank_account_id"] == books.account.bank_account_id and account["currency"] == "EUR"
    assert account["lines"] == 5
    assert (account["credits"], account["debits"]) == (9_800 + 4_000 + 700, 50_000 + 1_300)
    assert account["matched_auto"] == {"count": 1, "amount": 9_800}
    assert account["matched_person"] == {"count": 1, "amount": 4_000}
    assert account["ignored"] == {"count": 1, "amount": 50_000}
    assert account["open"] == {"count": 2, "amount": 2_000}
    assert account["discrepancies"] == [{"kind": "underpaid", "count": 1, "amount": 200}]

    # One account asked for by id gives the same; an unknown one is a 404, dates out of order a 400
    one = api.get(
        f"/v1/reports/reconciliation?from={first}&to={last}&bank_account_id={books.account.bank_account_id}",
        key=tenant.read_only,
    )
    assert one.json()["accounts"] == report["accounts"]
    missing = api.get(
        f"/v1/reports/reconciliation?from={first}&to={last}&bank_account_id=ba_01JD3Z5W4YV6Q3R0M8X2N5B7C9",
        key=tenant.read_only,
    )
    assert missing.status_code == 404
    # Without dates: the tenant's month so far
    this_month = api.get("/v1/reports/reconciliation", key=tenant.read_only).json()
    assert (this_month["from"], this_month["to"]) == (TODAY.replace(day=1).isoformat(), TODAY.isoformat())
    backwards = api.get(f"/v1/reports/reconciliation?from={last}&to={first}", key=tenant.read_only)
    assert backwards.status_code == 400 and error_of(backwards)["field"] == "to"


def test_the_report_reads_day_totals_only(books: BankBooks, proposals: dict[str, list[Proposal]]) -> None:
    _a_month_of_lines(books, proposals)
    queried: list[str] = []
    original = CashlineItem.query.__func__  # type: ignore[attr-defined]

    def metered(cls: type[CashlineItem], hash_key: str, *args: Any, **kwargs: Any) -> Any:
        queried.append(hash_key)
        return original(cls, hash_key, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CashlineItem, "query", classmethod(metered))
        report = reconciliation_report(
            books.tenant_id, first=TODAY - timedelta(days=60), last=TODAY, bank_account_id=None, now=NOW
        )

    assert [a.lines for a in report.accounts] == [6]
    # The tenant's accounts, then one Query of day totals per account: no bank line is read.
    t, ba = books.tenant_id, books.account.bank_account_id
    assert queried == [f"T#{t}#BA", f"T#{t}#RECON#{ba}"]


def test_discrepancies_are_listed_and_kept_to_their_tenant(
    api: Api, tenant: TestTenant, books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    _a_month_of_lines(books, proposals)

    listed = api.get("/v1/bank-discrepancies?status=open", key=tenant.read_only)

    assert listed.status_code == 200, listed.body
    [found] = listed.json()["data"]
    assert found["kind"] == "underpaid" and found["cause"] == "early_payment_discount"
    assert (found["amount"], found["currency"], found["status"]) == (200, "EUR", "open")
    assert found["bank_account_id"] == books.account.bank_account_id and found["bank_transaction_id"]
    stranger = make_tenant("Another books GmbH", now=NOW)
    assert api.get("/v1/bank-discrepancies", key=stranger.read_only).json()["data"] == []
    assert api.get("/v1/bank-discrepancies?status=gone", key=tenant.read_only).status_code == 400
