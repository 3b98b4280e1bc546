"""Credit notes and the customer's credit balance against DynamoDB Local: a credit note is numbered
from the invoice sequence and fills the balance once; the next invoice takes the balance once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from threading import Barrier

import pytest

from cashline.dal.billing_invoices import (
    DELIVERY_JOB,
    InvoiceJobRecord,
    stage_finalise_due,
    subscription_invoice_ids,
)
from cashline.dal.invoice_numbers import current_next
from cashline.dal.invoice_records import invoice_pk
from cashline.domain.billing.catalog import TaxBehavior, TaxCategory
from cashline.domain.billing.subscriptions import (
    PendingLine,
    Subscription,
)
from cashline.domain.invoices import Direction, DocumentKind, InvoiceStatus, NewInvoice, UniqueClaim
from cashline.errors import ConflictError
from cashline.services.billing.credit import (
    credit_balance,
    credit_ledger,
    credit_to_apply,
    issue_credit_note,
    stage_apply_credit,
)
from cashline.services.billing.drafts import with_placeholder_number
from cashline.services.billing.finalising import finalise_invoice
from cashline.services.invoices import get_invoice, prepare_invoice, store_prepared
from cashline.services.tenancy import tenants
from tests.billing_utils import domain_subscription
from tests.utils import Api, TestTenant, make_tenant

NOW = datetime.fromisoformat("2027-01-16T09:00:00+00:00")
DAY = date(2027, 1, 16)


def _counterparty(api: Api, tenant: TestTenant) -> str:
    response = api.at(NOW).post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": "Kunde AG", "country": "DE"}
    )
    assert response.status_code == 201, response.body
    return str(response.json()["id"])


def _subscription(tenant_id: str, counterparty_id: str, sub_id: str = "sub_01TESTCREDIT") -> Subscription:
    """The subscription a change credits (only what a credit note reads of it matters here)."""
    return domain_subscription(
        tenant_id=tenant_id,
        subscription_id=sub_id,
        counterparty_id=counterparty_id,
        items=(),
        next_invoice_on=date(2027, 2, 1),
        period_charged={"si_1": 9000},
        latest_invoice_id="inv_01TESTJANUARY",
        created_at=NOW,
        updated_at=NOW,
        version=3,
    )


def _line(description: str, amount: int) -> PendingLine:
    return PendingLine(
        description=description,
        amount=amount,
        item_id="si_1",
        price_id="prc_1",
        tax_category=TaxCategory.STANDARD,
        tax_behavior=TaxBehavior.EXCLUSIVE,
        service_start=DAY,
        service_end=date(2027, 2, 1),
    )


# The issue's worked example turned round: 90.00 -> 30.00 EUR/month on 16 January (16 of 31 days).
DOWNGRADE = [_line("Unused time on Pro", -4645), _line("Remaining time on Basic", 1548)]


def _next_invoice(
    tenant_id: str, counterparty_id: str, total: int, period: str, read: Barrier | None = None
) -> str:
    """A draft as the issuing engine writes it, taking what it can of the balance (exactly once: the
    period's claim commits with the credit taken). `read`: wait there after reading the balance."""
    credit = credit_to_apply(tenant_id, counterparty_id, "EUR", total)
    if read is not None:
        read.wait()
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number="DRAFT",
        issue_date=date(2027, 2, 1),
        due_date=date(2027, 2, 15),
        currency="EUR",
        counterparty_id=counterparty_id,
        amount_due=total,
        status=InvoiceStatus.DRAFT,
        amount_paid=credit,
    )
    claim = UniqueClaim("SUBINV", f"sub_01TESTCREDIT#{period}", "period")
    prepared = with_placeholder_number(
        prepare_invoice(tenants.get(tenant_id), new, now=NOW, source="subscription", extra_claims=[claim])
    )
    invoice = prepared.invoice
    stages = [lambda write: stage_finalise_due(write, invoice, NOW)]
    if credit:
        stages.append(
            lambda write: stage_apply_credit(
                write, tenant_id, counterparty_id, "EUR", credit, invoice.invoice_id, NOW
            )
        )
    store_prepared(prepared, actor="system:test", also=stages)
    return invoice.invoice_id


def test_a_credit_note_is_numbered_taxed_settled_and_fills_the_balance(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    sub = _subscription(tenant.tenant_id, cp)
    # When a downgrade invoiced at once nets negative
    note_id = issue_credit_note(tenant.tenant_id, sub, DOWNGRADE, now=NOW)
    # Then a credit note of 30.97 + 19 % VAT 5.88 = 36.85 is numbered from the invoice sequence
    view = get_invoice(tenant.tenant_id, note_id, now=NOW)
    note = view.invoice
    assert note.document_kind is DocumentKind.CREDIT_NOTE
    assert (note.number, note.issue_date, note.status) == ("2027-000001", DAY, InvoiceStatus.PAID)
    assert (note.subtotal, note.tax, note.amount_due, note.amount_paid) == (3097, 588, 3685, 3685)
    assert note.metadata == {
        "subscription_id": sub.subscription_id,
        "credited_invoice_id": "inv_01TESTJANUARY",
    }
    assert view.body is not None
    assert [line["net_amount"] for line in view.body.lines] == [4645, -1548]
    assert view.body.taxes == [
        {"rate": "19", "category_code": "S", "taxable_amount": 3097, "tax_amount": 588}
    ]
    assert view.body.details is not None and view.body.details["lines"][0]["tax_category_code"] == "S"
    # And the customer has 36.85 of credit, with its ledger entry
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 3685
    assert [(e.amount, e.source, e.source_id) for e in credit_ledger(tenant.tenant_id, cp, "EUR")] == [
        (3685, "credit_note", note_id)
    ]
    # And it is among the subscription's invoices and is to be delivered
    assert subscription_invoice_ids(
        tenant.tenant_id, sub.subscription_id, limit=10, starting_after=None
    ).items == [note_id]
    InvoiceJobRecord.get(invoice_pk(tenant.tenant_id, note_id), f"JOB#{DELIVERY_JOB}")
    # And the counterparty's outstanding is not lowered twice (the balance holds the credit)
    totals = api.at(NOW).get(f"/v1/counterparties/{cp}", key=tenant.read_only).json()["totals"]
    assert [(t["billed"], t["outstanding"]) for t in totals] == [(-3685, 0)]


def test_the_same_change_credited_twice_writes_nothing_the_second_time(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    sub = _subscription(tenant.tenant_id, cp)
    claim = UniqueClaim("SUBCHG", f"{sub.subscription_id}#{sub.version}", "subscription_id")
    issue_credit_note(tenant.tenant_id, sub, DOWNGRADE, now=NOW, extra_claims=[claim])
    with pytest.raises(ConflictError):
        issue_credit_note(tenant.tenant_id, sub, DOWNGRADE, now=NOW, extra_claims=[claim])
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 3685
    assert current_next(tenant.tenant_id, "2027") == 2


def test_the_balance_is_taken_by_the_next_invoice_once(api: Api, tenant: TestTenant) -> None:
    # Given 36.85 of credit
    cp = _counterparty(api, tenant)
    issue_credit_note(tenant.tenant_id, _subscription(tenant.tenant_id, cp), DOWNGRADE, now=NOW)
    # When February's 35.70 invoice is issued, and issued again (a repeated tick)
    february = _next_invoice(tenant.tenant_id, cp, 3570, "2027-02-01")
    with pytest.raises(ConflictError):
        _next_invoice(tenant.tenant_id, cp, 3570, "2027-02-01")
    # Then it took 35.70 once, and is paid when finalised
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 115
    finalised = finalise_invoice(tenant.tenant_id, february, now=NOW)
    assert (finalised.number, finalised.status, finalised.amount_outstanding) == (
        "2027-000002",
        InvoiceStatus.PAID,
        0,
    )
    # And March's invoice takes the 1.15 left and owes the rest
    march = _next_invoice(tenant.tenant_id, cp, 3570, "2027-03-01")
    finalised = finalise_invoice(tenant.tenant_id, march, now=NOW)
    assert (finalised.status, finalised.amount_paid, finalised.amount_outstanding) == (
        InvoiceStatus.PARTIALLY_PAID,
        115,
        3455,
    )
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 0
    ledger = [(e.amount, e.source) for e in credit_ledger(tenant.tenant_id, cp, "EUR")]
    assert sorted(ledger) == [(-3570, "invoice"), (-115, "invoice"), (3685, "credit_note")]


def test_two_invoices_racing_for_one_balance_take_it_once(api: Api, tenant: TestTenant) -> None:
    # Given 36.85 of credit, and two invoices of 30.00 that both read it before either writes
    cp = _counterparty(api, tenant)
    issue_credit_note(tenant.tenant_id, _subscription(tenant.tenant_id, cp), DOWNGRADE, now=NOW)
    both_read = Barrier(2)

    def issue(period: str) -> str:
        try:
            return _next_invoice(tenant.tenant_id, cp, 3000, period, read=both_read)
        except ConflictError:
            return "refused"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(issue, ["2027-02-01", "2027-03-01"]))
    # Then the balance's condition lets one through; the other writes nothing (its tick retries)
    assert outcomes.count("refused") == 1
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 685
    assert len(credit_ledger(tenant.tenant_id, cp, "EUR")) == 2


def test_credit_notes_issued_at_once_take_consecutive_numbers(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    subs = [_subscription(tenant.tenant_id, cp, f"sub_01TESTCREDIT{n}") for n in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        ids = list(pool.map(lambda s: issue_credit_note(tenant.tenant_id, s, DOWNGRADE, now=NOW), subs))
    numbers = sorted(get_invoice(tenant.tenant_id, i, now=NOW).invoice.number for i in ids)
    assert numbers == [f"2027-{n:06d}" for n in range(1, 6)]
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 5 * 3685


def test_another_tenant_sees_no_credit_and_no_subscription_invoices(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    sub = _subscription(tenant.tenant_id, cp)
    issue_credit_note(tenant.tenant_id, sub, DOWNGRADE, now=NOW)
    other = make_tenant("Other GmbH", now=NOW)
    assert credit_balance(other.tenant_id, cp, "EUR") == 0
    assert credit_ledger(other.tenant_id, cp, "EUR") == []
    assert (
        subscription_invoice_ids(other.tenant_id, sub.subscription_id, limit=10, starting_after=None).items
        == []
    )
    assert credit_balance(tenant.tenant_id, cp, "USD") == 0
