"""Finalising drafts against DynamoDB Local: gap-free numbers from the tenant's sequence, also under
concurrency, once per draft, by a person or by the auto-finalise sweep."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from cashline.dal.billing_charges import ChargeRepository
from cashline.dal.billing_invoices import DELIVERY_JOB, FINALISE_JOB, InvoiceJobRecord, stage_finalise_due
from cashline.dal.invoice_numbers import InvoiceSequenceRecord, current_next, number_claimed_by
from cashline.dal.invoice_records import invoice_pk
from cashline.dal.table import tenant_pk
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.charges import ChargeStatus
from cashline.domain.billing.subscriptions import (
    CollectionMethod,
    PaymentMethod,
    SubscriptionItem,
)
from cashline.domain.invoices import Direction, Invoice, InvoiceStatus, NewInvoice
from cashline.errors import ConflictError
from cashline.ids import new_id
from cashline.services.billing.credit import credit_balance, credit_ledger
from cashline.services.billing.drafts import with_placeholder_number
from cashline.services.billing.finalising import finalise_invoice, run_invoice_finalise
from cashline.services.invoices import invoices as invoice_repository
from cashline.services.invoices import prepare_invoice, store_prepared
from cashline.services.tenancy import tenants
from tests.billing_utils import domain_subscription, price_terms, store_subscription
from tests.utils import Api, TestTenant, error_of, make_tenant

NOW = datetime.fromisoformat("2027-03-15T10:00:00+00:00")


def _counterparty(api: Api, tenant: TestTenant, name: str = "Kunde AG") -> str:
    response = api.at(NOW).post(
        "/v1/counterparties", key=tenant.finance, json_body={"name": name, "country": "DE"}
    )
    assert response.status_code == 201, response.body
    return str(response.json()["id"])


def _draft_by_api(api: Api, tenant: TestTenant, counterparty_id: str, number: str, **fields: Any) -> str:
    body = {
        "direction": "receivable",
        "counterparty": {"id": counterparty_id},
        "number": number,
        "issue_date": "2027-03-01",
        "due_date": "2027-03-31",
        "currency": "EUR",
        "amount_due": 11900,
        "status": "draft",
        **fields,
    }
    response = api.at(NOW).post("/v1/invoices", key=tenant.finance, json_body=body)
    assert response.status_code == 201, response.body
    return str(response.json()["id"])


def _engine_draft(
    tenant_id: str,
    counterparty_id: str,
    *,
    finalise_at: datetime | None = None,
    amount_paid: int = 0,
    subscription_id: str | None = None,
) -> Invoice:
    """A draft as the issuing engine writes it: placeholder number `DRAFT-<its id>` (no claim), source
    "subscription", its finalise work item (due at `finalise_at`, else long after these tests)."""
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number="DRAFT",
        issue_date=date(2027, 3, 1),
        due_date=date(2027, 3, 31),
        currency="EUR",
        counterparty_id=counterparty_id,
        amount_due=11900,
        status=InvoiceStatus.DRAFT,
        amount_paid=amount_paid,
        metadata={"subscription_id": subscription_id} if subscription_id else None,
    )
    prepared = with_placeholder_number(
        prepare_invoice(tenants.get(tenant_id), new, now=NOW, source="subscription")
    )
    due = finalise_at or NOW + timedelta(days=3650)
    also = [lambda write: stage_finalise_due(write, prepared.invoice, due)]
    return store_prepared(prepared, actor="system:test", also=also)


def _job(invoice: Invoice, job: str) -> InvoiceJobRecord | None:
    try:
        return InvoiceJobRecord.get(invoice_pk(invoice.tenant_id, invoice.invoice_id), f"JOB#{job}")
    except InvoiceJobRecord.DoesNotExist:
        return None


def _done(invoice: Invoice, job: str) -> bool:
    """The work item is off the `due` index (done) and still there (only the API deletes)."""
    record = _job(invoice, job)
    return record is not None and record.due_pk is None and record.due_sk is None


def test_a_placeholder_draft_takes_the_next_number_and_is_finalised_once(
    api: Api, tenant: TestTenant
) -> None:
    # Given two drafts with the engine's placeholder number
    cp = _counterparty(api, tenant)
    first = _draft_by_api(api, tenant, cp, "DRAFT-one")
    second = _draft_by_api(api, tenant, cp, "DRAFT-two")
    # When a person finalises them
    one = api.at(NOW).post(f"/v1/invoices/{first}/finalize", key=tenant.finance)
    two = api.at(NOW).post(f"/v1/invoices/{second}/finalize", key=tenant.finance)
    # Then they are numbered 1 and 2 of the year of their issue date, open, and count in the totals
    assert one.status_code == 200, one.body
    assert (one.json()["number"], one.json()["status"]) == ("2027-000001", "open")
    assert two.json()["number"] == "2027-000002"
    totals = api.at(NOW).get(f"/v1/counterparties/{cp}", key=tenant.read_only).json()["totals"]
    assert [(t["currency"], t["outstanding"]) for t in totals] == [("EUR", 23800)]
    # And a second finalisation is refused and takes no number
    again = api.at(NOW).post(f"/v1/invoices/{first}/finalize", key=tenant.finance)
    assert again.status_code == 409 and error_of(again)["field"] == "status"
    assert current_next(tenant.tenant_id, "2027") == 3
    events = api.at(NOW).get(f"/v1/invoices/{first}/events", key=tenant.read_only).json()["data"]
    assert [e["action"] for e in events] == ["created", "finalised"]


def test_a_draft_numbered_by_a_person_keeps_its_number(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    invoice_id = _draft_by_api(api, tenant, cp, "RE-77")
    response = api.at(NOW).post(f"/v1/invoices/{invoice_id}/finalize", key=tenant.finance)
    assert response.status_code == 200, response.body
    assert (response.json()["number"], response.json()["status"]) == ("RE-77", "open")
    assert current_next(tenant.tenant_id, "2027") == 1  # no number of the sequence used


def test_a_draft_past_its_due_date_is_finalised_overdue(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    invoice_id = _draft_by_api(api, tenant, cp, "DRAFT-late", due_date="2027-03-10")
    response = api.at(NOW).post(f"/v1/invoices/{invoice_id}/finalize", key=tenant.finance)
    assert (response.json()["status"], response.json()["days_past_due"]) == ("overdue", 5)


def test_another_tenants_or_an_unknown_invoice_is_a_404(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    invoice_id = _draft_by_api(api, tenant, cp, "DRAFT-mine")
    other = make_tenant("Other GmbH", now=NOW)
    foreign = api.at(NOW).post(f"/v1/invoices/{invoice_id}/finalize", key=other.finance)
    assert foreign.status_code == 404 and error_of(foreign)["field"] == "invoice_id"
    unknown = api.at(NOW).post("/v1/invoices/inv_nothing/finalize", key=tenant.finance)
    assert unknown.status_code == 404
    read_only = api.at(NOW).post(f"/v1/invoices/{invoice_id}/finalize", key=tenant.read_only)
    assert read_only.status_code == 403
    assert api.at(NOW).get(f"/v1/invoices/{invoice_id}", key=tenant.read_only).json()["status"] == "draft"


def test_a_number_held_by_an_invoice_made_by_hand_is_a_409_and_consumes_nothing(
    api: Api, tenant: TestTenant
) -> None:
    cp = _counterparty(api, tenant)
    _draft_by_api(api, tenant, cp, "2027-000001", status="open")
    draft = _draft_by_api(api, tenant, cp, "DRAFT-clash")
    response = api.at(NOW).post(f"/v1/invoices/{draft}/finalize", key=tenant.finance)
    assert response.status_code == 409 and error_of(response)["field"] == "number"
    assert current_next(tenant.tenant_id, "2027") == 1


def test_ten_drafts_finalised_by_ten_threads_take_numbers_1_to_10(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    drafts = [_engine_draft(tenant.tenant_id, cp) for _ in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        finalised = list(
            pool.map(lambda d: finalise_invoice(tenant.tenant_id, d.invoice_id, now=NOW), drafts)
        )
    assert sorted(f.number for f in finalised) == [f"2027-{n:06d}" for n in range(1, 11)]
    stored = [invoice_repository.get_header(tenant.tenant_id, d.invoice_id) for d in drafts]
    assert sorted(s.number for s in stored) == sorted(f.number for f in finalised)
    assert current_next(tenant.tenant_id, "2027") == 11


def test_one_draft_finalised_by_five_threads_takes_one_number(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    draft = _engine_draft(tenant.tenant_id, cp)

    def finalise(_: int) -> str:
        try:
            return finalise_invoice(tenant.tenant_id, draft.invoice_id, now=NOW).number
        except ConflictError:  # it was no draft any more when this thread read it
            return invoice_repository.get_header(tenant.tenant_id, draft.invoice_id).number

    with ThreadPoolExecutor(max_workers=5) as pool:
        numbers = set(pool.map(finalise, range(5)))
    assert numbers == {"2027-000001"}
    assert current_next(tenant.tenant_id, "2027") == 2
    events = invoice_repository.events(tenant.tenant_id, draft.invoice_id, limit=10, starting_after=None)
    assert [e.action for e in events.items].count("finalised") == 1


def test_the_sweep_finalises_drafts_whose_review_time_passed_once(api: Api, tenant: TestTenant) -> None:
    # Given a subscription draft to be finalised 24 hours after issue
    cp = _counterparty(api, tenant)
    review_ends = NOW + timedelta(hours=24)
    draft = _engine_draft(tenant.tenant_id, cp, finalise_at=review_ends)
    assert _job(draft, FINALISE_JOB) is not None
    # When the sweep runs before the review ends, nothing happens
    run_invoice_finalise(tick_at=review_ends - timedelta(minutes=15), worker="w1")
    assert invoice_repository.get_header(tenant.tenant_id, draft.invoice_id).status is InvoiceStatus.DRAFT
    # When it runs after, the draft is finalised as of the tick, and it is to be delivered
    result = run_invoice_finalise(tick_at=review_ends, worker="w1")
    after = invoice_repository.get_header(tenant.tenant_id, draft.invoice_id)
    assert (after.status, after.number, result.items_changed) == (InvoiceStatus.OPEN, "2027-000001", 1)
    assert after.updated_at == review_ends
    assert _done(draft, FINALISE_JOB)  # off the due index, kept: the scheduled function deletes nothing
    delivery = _job(draft, DELIVERY_JOB)
    assert delivery is not None and delivery.due_pk is not None
    # And a later tick (or the same one again) finds nothing to do
    assert run_invoice_finalise(tick_at=review_ends + timedelta(minutes=15), worker="w2").items_read == 0
    assert current_next(tenant.tenant_id, "2027") == 2


def test_a_draft_voided_before_its_review_ends_only_loses_its_work_item(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    review_ends = NOW + timedelta(hours=2)
    draft = _engine_draft(tenant.tenant_id, cp, finalise_at=review_ends)
    voided = api.at(NOW).post(
        f"/v1/invoices/{draft.invoice_id}/status", key=tenant.finance, json_body={"status": "void"}
    )
    assert voided.status_code == 200, voided.body
    result = run_invoice_finalise(tick_at=review_ends, worker="w1")
    assert (result.items_read, result.items_changed) == (1, 0)
    assert _done(draft, FINALISE_JOB)
    assert current_next(tenant.tenant_id, "2027") == 1


def test_a_voided_invoice_keeps_its_number(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    first = _draft_by_api(api, tenant, cp, "DRAFT-a")
    api.at(NOW).post(f"/v1/invoices/{first}/finalize", key=tenant.finance)
    api.at(NOW).post(f"/v1/invoices/{first}/status", key=tenant.finance, json_body={"status": "void"})
    second = _draft_by_api(api, tenant, cp, "DRAFT-b")
    response = api.at(NOW).post(f"/v1/invoices/{second}/finalize", key=tenant.finance)
    voided = api.at(NOW).get(f"/v1/invoices/{first}", key=tenant.read_only).json()
    assert (voided["status"], voided["number"]) == ("void", "2027-000001")
    assert response.json()["number"] == "2027-000002"


@pytest.mark.parametrize(("amount_paid", "status"), [(11900, "paid"), (1900, "partially_paid")])
def test_a_draft_with_credit_applied_is_finalised_paid_or_partly_paid(
    api: Api, tenant: TestTenant, amount_paid: int, status: str
) -> None:
    cp = _counterparty(api, tenant)
    draft = _engine_draft(tenant.tenant_id, cp, amount_paid=amount_paid)
    finalised = finalise_invoice(tenant.tenant_id, draft.invoice_id, now=NOW)
    assert finalised.status.value == status
    assert finalised.amount_outstanding == 11900 - amount_paid


def _charged_subscription(tenant_id: str, counterparty_id: str) -> str:
    """A stored charge_automatically subscription (as C's repository keeps it)."""
    start = date(2027, 3, 1)
    sub = domain_subscription(
        SubscriptionItem(
            item_id=new_id("subscription_item"),
            terms=price_terms("prc_1", 10000, product_name="Pro"),
            quantity=1,
        ),
        tenant_id=tenant_id,
        subscription_id=new_id("subscription"),
        counterparty_id=counterparty_id,
        start_date=start,
        billing_cycle_anchor=start,
        collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
        payment_method=PaymentMethod(processor="stripe", customer_id="cus_1", payment_method_id="pm_1"),
        days_until_due=None,
        current_period_start=start,
        current_period_end=date(2027, 4, 1),
        next_invoice_on=date(2027, 4, 1),
        created_at=NOW,
        updated_at=NOW,
        version=0,
    )
    return store_subscription(sub).subscription_id


@pytest.mark.parametrize(("amount_paid", "attempts"), [(0, 1), (11900, 0)])
def test_a_charged_subscriptions_invoice_gets_its_first_charge_attempt_with_its_number(
    api: Api, tenant: TestTenant, amount_paid: int, attempts: int
) -> None:
    # Given a draft of a subscription that charges a saved card (fully paid by credit, or not)
    cp = _counterparty(api, tenant)
    sub_id = _charged_subscription(tenant.tenant_id, cp)
    draft = _engine_draft(tenant.tenant_id, cp, subscription_id=sub_id, amount_paid=amount_paid)
    # When it is finalised
    finalised = finalise_invoice(tenant.tenant_id, draft.invoice_id, now=NOW)
    # Then what it still owes is to be charged, in the same transaction that numbered it
    charged = ChargeRepository().attempts_of(tenant.tenant_id, draft.invoice_id)
    assert len(charged) == attempts
    assert all(a.subscription_id == sub_id and a.attempt == 1 for a in charged)
    assert finalised.number == "2027-000001"
    # (taken off the due index again: the charge sweeps of other tests must not meet it)
    for waiting in charged:
        done = replace(waiting, status=ChargeStatus.FAILED)
        UnitOfWork("test attempt done").add(
            lambda write, w=waiting, d=done: ChargeRepository.stage_outcome(write, w, d, due_at=None, now=NOW)
        ).commit()


# --- drafts the status route must not open (review: GoBD numbering) ----------------------------


@pytest.mark.parametrize("made_by", ["engine", "person"])
def test_a_draft_numbered_at_finalisation_cannot_be_opened_through_the_status_route(
    api: Api, tenant: TestTenant, made_by: str
) -> None:
    # Given a subscription draft under review (or a person's draft numbered DRAFT-...)
    cp = _counterparty(api, tenant)
    if made_by == "engine":
        invoice_id = _engine_draft(tenant.tenant_id, cp, finalise_at=NOW + timedelta(hours=24)).invoice_id
    else:
        invoice_id = _draft_by_api(api, tenant, cp, "DRAFT-by-hand")
    # When someone sets it open through the status route
    response = api.at(NOW).post(
        f"/v1/invoices/{invoice_id}/status", key=tenant.finance, json_body={"status": "open"}
    )
    # Then it is refused and pointed to finalisation; nothing changed, no number taken
    assert response.status_code == 409, response.body
    assert error_of(response)["field"] == "status"
    assert f"POST /v1/invoices/{invoice_id}/finalize" in error_of(response)["message"]
    stored = invoice_repository.get_header(tenant.tenant_id, invoice_id)
    assert stored.status is InvoiceStatus.DRAFT and stored.number.startswith("DRAFT-")
    assert current_next(tenant.tenant_id, "2027") == 1
    # And finalising it numbers it
    finalised = api.at(NOW).post(f"/v1/invoices/{invoice_id}/finalize", key=tenant.finance)
    assert finalised.json()["number"] == "2027-000001"


def test_voiding_a_subscription_draft_gives_its_credit_back_once(api: Api, tenant: TestTenant) -> None:
    # Given a subscription draft that took 19.00 of the customer's credit (balance now 0)
    cp = _counterparty(api, tenant)
    draft = _engine_draft(tenant.tenant_id, cp, amount_paid=1900)
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 0
    # When it is voided (that period is then not billed)
    response = api.at(NOW).post(
        f"/v1/invoices/{draft.invoice_id}/status", key=tenant.finance, json_body={"status": "void"}
    )
    # Then the credit is back on the balance, with its ledger entry, in the same write
    assert response.status_code == 200, response.body
    assert (response.json()["status"], response.json()["amount_paid"]) == ("void", 0)
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 1900
    returned = [e for e in credit_ledger(tenant.tenant_id, cp, "EUR") if e.source_id == draft.invoice_id]
    assert [(e.amount, e.source) for e in returned] == [(1900, "invoice_void")]
    # And a second void is refused and gives nothing back again
    again = api.at(NOW).post(
        f"/v1/invoices/{draft.invoice_id}/status", key=tenant.finance, json_body={"status": "void"}
    )
    assert again.status_code == 409 and credit_balance(tenant.tenant_id, cp, "EUR") == 1900


def test_an_invoice_with_payments_that_is_no_subscription_draft_still_cannot_be_voided(
    api: Api, tenant: TestTenant
) -> None:
    cp = _counterparty(api, tenant)
    new = NewInvoice(
        direction=Direction.RECEIVABLE,
        number="RE-9",
        issue_date=date(2027, 3, 1),
        due_date=date(2027, 3, 31),
        currency="EUR",
        counterparty_id=cp,
        amount_due=11900,
        status=InvoiceStatus.DRAFT,
        amount_paid=1900,
    )
    prepared = prepare_invoice(tenants.get(tenant.tenant_id), new, now=NOW, source="api")
    stored = store_prepared(prepared, actor="system:test")
    response = api.at(NOW).post(
        f"/v1/invoices/{stored.invoice_id}/status", key=tenant.finance, json_body={"status": "void"}
    )
    assert response.status_code == 409 and "payments" in error_of(response)["message"]
    assert credit_balance(tenant.tenant_id, cp, "EUR") == 0


# --- tenant-wide numbers (review: unique per counterparty only) --------------------------------


def test_a_number_made_by_hand_for_another_customer_is_a_409_never_a_duplicate(
    api: Api, tenant: TestTenant
) -> None:
    # Given customer X's invoice made by hand with the number the sequence stands at
    x, y = _counterparty(api, tenant, "X GmbH"), _counterparty(api, tenant, "Y GmbH")
    by_hand = _draft_by_api(api, tenant, x, "2027-000001", status="open")
    draft = _engine_draft(tenant.tenant_id, y)
    # When customer Y's draft is finalised
    response = api.at(NOW).post(f"/v1/invoices/{draft.invoice_id}/finalize", key=tenant.finance)
    # Then it is refused on the number, naming the holder; the sequence does not skip (gap-free)
    assert response.status_code == 409, response.body
    error = error_of(response)
    assert error["field"] == "number" and by_hand in error["message"] and "number pattern" in error["message"]
    assert current_next(tenant.tenant_id, "2027") == 1
    assert invoice_repository.get_header(tenant.tenant_id, draft.invoice_id).status is InvoiceStatus.DRAFT


def test_a_pattern_change_that_formats_a_number_already_given_is_a_409(api: Api, tenant: TestTenant) -> None:
    # Given an all-time sequence `R{seq}` standing at 2701
    cp = _counterparty(api, tenant)
    InvoiceSequenceRecord(
        pk=tenant_pk(tenant.tenant_id), sk="INVSEQ#all", next_number=2701, created_at=NOW, updated_at=NOW
    ).save()
    settings = api.request(
        "PUT", "/v1/billing-settings", key=tenant.admin, json_body={"number_pattern": "R{seq}"}
    )
    assert settings.status_code == 200, settings.body
    first = _engine_draft(tenant.tenant_id, cp)
    assert finalise_invoice(tenant.tenant_id, first.invoice_id, now=NOW).number == "R2701"
    # When the pattern changes to a yearly one whose first number of 2027 is R2701 again
    changed = api.request(
        "PUT",
        "/v1/billing-settings",
        key=tenant.admin,
        json_body={"number_pattern": "R{YY}{seq:02}", "version": 1},
    )
    assert changed.status_code == 200, changed.body
    second = _engine_draft(tenant.tenant_id, _counterparty(api, tenant, "Another AG"))
    # Then finalising another customer's draft is refused on the number (never a duplicate: the
    # per-customer claim would not see it), and takes nothing
    with pytest.raises(ConflictError) as refused:
        finalise_invoice(tenant.tenant_id, second.invoice_id, now=NOW)
    assert refused.value.field == "number" and first.invoice_id in str(refused.value)
    assert current_next(tenant.tenant_id, "2027") == 1
    assert number_claimed_by(tenant.tenant_id, "R2701") == first.invoice_id


def test_a_sequence_number_is_claimed_tenant_wide(api: Api, tenant: TestTenant) -> None:
    cp = _counterparty(api, tenant)
    draft = _engine_draft(tenant.tenant_id, cp)
    finalised = finalise_invoice(tenant.tenant_id, draft.invoice_id, now=NOW)
    assert number_claimed_by(tenant.tenant_id, finalised.number) == draft.invoice_id
    other = make_tenant("Other GmbH", now=NOW)
    assert number_claimed_by(other.tenant_id, finalised.number) is None
