"""Matching's lookups of a tenant's books (cashline.dal.bank_candidates.StoredCandidates) against
DynamoDB Local: each answers what matching needs (open invoices only, exactly one counterparty per
IBAN, ...), and each costs the same number of DynamoDB calls whether the tenant has 10 or 2,000 open
invoices (counted by bench.dynamodb_meter, which sees every botocore call).

Invoices are written straight to the table as their header and number-lookup records, the way the
invoice repository writes them; instants are fixed, never the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from bench.dynamodb_meter import metered
from cashline.dal.bank_candidates import StoredCandidates
from cashline.dal.bank_repository import BankRepository
from cashline.dal.financing_repository import installment_record
from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.payment_repository import amount_lookup_record, payment_record
from cashline.dal.transactions import UnitOfWork
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import DocumentKind, Invoice, InvoiceStatus
from cashline.domain.payments import Direction as PaymentDirection
from cashline.domain.payments import Payment, PaymentKind, PaymentSource, PaymentStatus
from cashline.domain.plans import Installment, InstallmentStatus
from cashline.ids import new_id
from tests.bank_setup import a_counterparty as stored_counterparty
from tests.bank_setup import stored_invoice, write_invoices

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
IBAN = "DE02120300000000202051"


def an_invoice(tenant_id: str, number: str, amount: int, **changes: Any) -> Invoice:
    return stored_invoice(tenant_id, number, amount, now=NOW, **changes)


def filler(tenant_id: str, count: int) -> list[Invoice]:
    """`count` open invoices of 40 other customers, amounts and numbers none of the tests look up."""
    return [
        an_invoice(
            tenant_id,
            f"F-{n:06d}",
            100_000 + n,
            counterparty_id=f"cp_filler{n % 40}",
            due_date=date(2026, 1, 1) + timedelta(days=n % 120),
        )
        for n in range(count)
    ]


def a_payment(tenant_id: str, kind: PaymentKind, amount: int, value_date: date) -> Payment:
    return Payment(
        id=new_id("payment"),
        tenant_id=tenant_id,
        direction=PaymentDirection.RECEIVABLE if kind is PaymentKind.PAYOUT else PaymentDirection.PAYABLE,
        source=PaymentSource.STRIPE,
        source_reference="po_123",
        kind=kind,
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency="EUR",
        value_date=value_date,
        created_at=NOW,
        updated_at=NOW,
    )


def an_installment(
    amount: int, due: date, status: InstallmentStatus = InstallmentStatus.SCHEDULED
) -> Installment:
    return Installment(
        installment_id=new_id("installment"),
        plan_id=new_id("plan"),
        sequence=1,
        kind="scheduled",
        due_date=due,
        amount=amount,
        currency="EUR",
        status=status,
    )


def books(open_filler: int) -> tuple[str, dict[str, Any]]:
    """A tenant whose books hold what every lookup should find, beside `open_filler` other invoices."""
    t = new_id("tenant")
    target = an_invoice(t, "INV-007034", 12345)
    paid_twin = an_invoice(t, "INV-007035", 12345, status=InvoiceStatus.PAID, amount_paid=12345)
    partly = an_invoice(t, "INV-007036", 20000, status=InvoiceStatus.PARTIALLY_PAID, amount_paid=5000)
    financed = an_invoice(t, "INV-007037", 12345, financing_plan_id="fin_1")
    credit_note = an_invoice(t, "CN-1", 12345, document_kind=DocumentKind.CREDIT_NOTE)
    dollars = an_invoice(t, "INV-007038", 12345, currency="USD")
    write_invoices([target, paid_twin, partly, financed, credit_note, dollars, *filler(t, open_filler)])
    work = UnitOfWork("books")
    inst = an_installment(4200, TODAY + timedelta(days=3))
    far = an_installment(4200, TODAY + timedelta(days=9))
    work.add(lambda w: w.save(installment_record(t, inst, None, NOW)))
    work.add(lambda w: w.save(installment_record(t, far, None, NOW)))
    payout = a_payment(t, PaymentKind.PAYOUT, 98000, TODAY - timedelta(days=2))
    refund = a_payment(t, PaymentKind.REFUND, 98000, TODAY)
    work.add(lambda w: w.save(payment_record(payout)))
    work.add(lambda w: w.save(payment_record(refund)))
    for lookup in (amount_lookup_record(payout), amount_lookup_record(refund)):
        work.add(partial(lambda w, item: w.save(item), item=lookup))
    work.add(
        lambda w: BankRepository().stage_learned(
            w, t, iban=None, remittance_key="MIETE WOHNUNG", counterparty_id="cp_payer", now=NOW
        )
    )
    work.commit()
    return t, {"target": target, "partly": partly, "installment": inst, "payout": payout, "refund": refund}


def a_counterparty(tenant_id: str, iban: str | None) -> Counterparty:
    return stored_counterparty(tenant_id, iban, now=NOW)


def test_each_lookup_finds_only_what_a_bank_line_may_pay() -> None:
    t, known = books(open_filler=10)
    books_ = StoredCandidates(t)
    target, partly = known["target"], known["partly"]
    # By number: the open invoice, not the paid one with the next number
    (found,) = books_.invoices_by_number("receivable", "INV007034")
    assert (found.invoice_id, found.outstanding, found.number) == (target.invoice_id, 12345, "INV-007034")
    assert books_.invoices_by_number("receivable", "INV007035") == []
    assert books_.invoices_by_number("payable", "INV007034") == []
    # By amount: not paid, not partly paid, not financed, not a credit note, not another currency
    assert [i.invoice_id for i in books_.invoices_owing("receivable", "EUR", 12345)] == [target.invoice_id]
    assert books_.invoices_owing("receivable", "EUR", 12346) == []
    assert [i.invoice_id for i in books_.invoices_owing("receivable", "USD", 12345)] != []
    # The payer's open invoices: the partly paid one with what it still owes, oldest due first
    of_payer = books_.open_invoices_of("cp_payer", "receivable", "EUR")
    assert {i.invoice_id for i in of_payer} == {target.invoice_id, partly.invoice_id}
    assert next(i.outstanding for i in of_payer if i.invoice_id == partly.invoice_id) == 15000
    # Learned pattern; installments and payments within 5 days only
    assert books_.learned_counterparty("MIETE WOHNUNG") == "cp_payer"
    assert books_.learned_counterparty("MIETE GARAGE") is None
    (inst,) = books_.installments_due("EUR", 4200, TODAY)
    assert (inst.installment_id, inst.end_to_end_id) == (
        known["installment"].installment_id,
        inst.installment_id,
    )
    assert books_.installments_due("EUR", 4201, TODAY) == []
    (payout,) = books_.payments_near("payout", "EUR", 98000, TODAY)
    assert (payout.payment_id, payout.reference, payout.source) == (
        known["payout"].id,
        "po_123",
        "stripe",
    )
    assert [p.payment_id for p in books_.payments_near("refund", "EUR", 98000, TODAY)] == [known["refund"].id]
    assert books_.payments_near("payout", "EUR", 98000, TODAY + timedelta(days=10)) == []
    # Another tenant's books are not these
    other = StoredCandidates(new_id("tenant"))
    assert other.invoices_by_number("receivable", "INV007034") == []
    assert other.learned_counterparty("MIETE WOHNUNG") is None


def test_a_counterparty_iban_is_found_when_exactly_one_counterparty_has_it() -> None:
    # Given a counterparty created with an IBAN (the party repository writes the lookup with it)
    t = new_id("tenant")
    parties = CounterpartyRepository()
    first = parties.create(a_counterparty(t, IBAN))
    books_ = StoredCandidates(t)
    assert books_.counterparty_of_iban(IBAN) == first.counterparty_id
    assert books_.counterparty_of_iban("de02 1203 0000 0000 2020 51") == first.counterparty_id
    # When its IBAN changes, the lookup moves with it
    moved = parties.update(first, replace(first, iban="DE89370400440532013000"))
    assert books_.counterparty_of_iban(IBAN) is None
    assert books_.counterparty_of_iban("DE89370400440532013000") == moved.counterparty_id
    # And a second counterparty with the same IBAN makes it ambiguous (no answer)
    parties.create(a_counterparty(t, "DE89370400440532013000"))
    assert books_.counterparty_of_iban("DE89370400440532013000") is None
    # A person's confirmation is a lookup too
    UnitOfWork("learn").add(
        lambda w: BankRepository().stage_learned(
            w, t, iban="GB33BUKB20201555555555", remittance_key=None, counterparty_id="cp_x", now=NOW
        )
    ).commit()
    assert books_.counterparty_of_iban("GB33BUKB20201555555555") == "cp_x"
    assert StoredCandidates(new_id("tenant")).counterparty_of_iban(IBAN) is None


LOOKUPS: dict[str, Callable[[StoredCandidates], object]] = {
    "invoices_by_number": lambda b: b.invoices_by_number("receivable", "INV007034"),
    "invoices_by_number (unknown)": lambda b: b.invoices_by_number("receivable", "NOPE1"),
    "invoices_owing": lambda b: b.invoices_owing("receivable", "EUR", 12345),
    "open_invoices_of": lambda b: b.open_invoices_of("cp_payer", "receivable", "EUR"),
    "open_invoices_of (busy customer)": lambda b: b.open_invoices_of("cp_filler1", "receivable", "EUR"),
    "counterparty_of_iban": lambda b: b.counterparty_of_iban(IBAN),
    "learned_counterparty": lambda b: b.learned_counterparty("MIETE WOHNUNG"),
    "installments_due": lambda b: b.installments_due("EUR", 4200, TODAY),
    "payments_near": lambda b: b.payments_near("payout", "EUR", 98000, TODAY),
}


def calls_per_lookup(open_filler: int) -> dict[str, tuple[int, str]]:
    t, _ = books(open_filler)
    books_ = StoredCandidates(t)
    figures = {}
    for name, lookup in LOOKUPS.items():
        with metered() as meter:
            lookup(books_)
        figures[name] = (meter.total_calls, meter.describe())
    return figures


def test_the_calls_per_lookup_do_not_grow_with_the_open_invoices() -> None:
    small = calls_per_lookup(open_filler=10)
    large = calls_per_lookup(open_filler=2_000)
    assert small == large
    # And each is one keyed read (two for a number or a payment by amount: the lookup, then the
    # headers or payments in one BatchGet)
    assert small["invoices_by_number"] == (2, "BatchGetItem x1, Query x1")
    assert small["payments_near"] == (2, "BatchGetItem x1, Query x1")
    assert small["learned_counterparty"] == (1, "GetItem x1")
    two = {"invoices_by_number", "payments_near"}
    assert all(calls == 1 for name, (calls, _) in small.items() if name not in two)
