"""What a bank line's match may name, and what its unmatch takes back (services.bank.match_targets,
match_money, queue), against DynamoDB Local: a payout or payment target is a payment of the right
kind, side and amount, never another line's bank transfer; invoices never share a line with money
recorded elsewhere; keep_rest_as_credit needs an invoice; unmatch reverses only what the line
created; an installment paid by the bank and by the processor's "paid" has one payment, whichever
comes first. Every refusal names the field. No test reads the clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cashline.dal.bank_repository import bank
from cashline.dal.financing_repository import FinancingRepository
from cashline.dal.payment_repository import PaymentWrites
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    MatchRule,
    MatchTarget,
    Proposal,
    TargetType,
    TransactionStatus,
)
from cashline.domain.invoices import Direction as InvoiceDirection
from cashline.domain.invoices import InvoiceStatus
from cashline.domain.payments import (
    Payer,
    Payment,
    PaymentKind,
    PaymentSource,
    PaymentStatus,
    Targets,
)
from cashline.domain.plans import Installment, InstallmentStatus, Plan, PlanStatus
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.bank import queue
from cashline.services.bank.applying import Change, apply_match
from cashline.services.payments.context import commit, context_for, invoices, payments
from cashline.services.payments.events import process_event
from tests.bank_setup import BankBooks, installment_under_way, invoice
from tests.utils import Api, TestTenant, error_of, make_tenant

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
REFUSED = (UnprocessableError, NotFoundError, ConflictError)


@pytest.fixture
def shop() -> TestTenant:
    return make_tenant("Match rules GmbH", now=NOW)


@pytest.fixture
def books(shop: TestTenant) -> BankBooks:
    return BankBooks(shop.tenant_id, NOW)


def _match(tx: BankTransaction, *targets: MatchTarget, keep_rest: bool = False) -> BankTransaction:
    return queue.match_transaction(
        tx.tenant_id,
        tx.transaction_id,
        proposal=None,
        targets=list(targets),
        keep_rest_as_credit=keep_rest,
        actor="key:finance",
        now=NOW,
    )


def _apply(tx: BankTransaction, *targets: MatchTarget) -> BankTransaction:
    """What the matcher does with a sure proposal naming `targets` (no person's checks before)."""
    proposal = Proposal(MatchRule.PROCESSOR_PAYOUT, 98, tuple(targets))
    change = Change(tx.tenant_id, tx.transaction_id, None, "auto", NOW)
    return apply_match(change, proposal, by_person=False)


def _unmatch(tx: BankTransaction) -> BankTransaction:
    return queue.unmatch_transaction(
        tx.tenant_id, tx.transaction_id, reason="wrong", actor="key:finance", now=NOW + timedelta(hours=1)
    )


def _refused(call: Any, *args: Any, **kwargs: Any) -> str | None:
    with pytest.raises(REFUSED) as refused:
        call(*args, **kwargs)
    return refused.value.field


def _untouched(tx: BankTransaction) -> None:
    assert bank.get_transaction(tx.tenant_id, tx.transaction_id).version == tx.version


def _event(tenant_id: str, action: EventAction, amount: int, **extra: Any) -> Payment:
    """A Stripe event processed the way the webhook processes it; the payment it recorded."""
    ctx = context_for(tenant_id, now=NOW, actor="webhook:stripe")
    event = PaymentEvent.model_validate(
        {
            "source": PaymentSource.STRIPE,
            "event_id": f"evt_{new_id('event')}",
            "event_type": "test",
            "occurred_at": NOW,
            "action": action,
            "reference": extra.pop("reference", f"po_{new_id('event')[-10:]}"),
            "amount": amount,
            "currency": "EUR",
            "value_date": NOW.date(),
            **extra,
        }
    )
    outcome = process_event(ctx, event)
    assert outcome.payment_id is not None
    return payments.get(tenant_id, outcome.payment_id)


def _refund(tenant_id: str, amount: int) -> Payment:
    """A Stripe refund Cashline recorded (money out of the account)."""
    ctx = context_for(tenant_id, now=NOW, actor="webhook:stripe")
    refund = Payment(
        id=new_id("payment"),
        tenant_id=tenant_id,
        direction=InvoiceDirection.RECEIVABLE,
        source=PaymentSource.STRIPE,
        source_reference=f"re_{new_id('event')[-10:]}",
        kind=PaymentKind.REFUND,
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency="EUR",
        value_date=NOW.date(),
        payer=Payer(name="Kunde AG"),
        targets=Targets(),
        created_at=NOW,
        updated_at=NOW,
    )
    writes = PaymentWrites(tenant_id, NOW)
    writes.payments.append((None, refund))
    commit(ctx, writes)
    return refund


# --------------------------------------------------------------------------- (1) payout and payment targets


def test_a_line_cannot_reconcile_the_payment_another_line_created_and_unmatch_spares_it(
    books: BankBooks,
) -> None:
    # Given line 1 matched to an invoice (it created pay_X)
    inv = invoice(books.tenant_id, "RE-9001", 7_000, now=NOW)
    first = _match(books.line(7_000), MatchTarget(TargetType.INVOICE, inv.invoice_id, 7_000))
    [pay_x] = first.payment_ids
    assert first.reconciled_payment_ids == () and first.created_payment_ids == (pay_x,)
    second = books.line(7_000)

    # When line 2 names pay_X as its payout, or as a payment by the matcher's path
    assert _refused(_match, second, MatchTarget(TargetType.PAYOUT, pay_x, 7_000)) == "targets[0].id"
    assert _refused(_apply, second, MatchTarget(TargetType.PAYOUT, pay_x, 7_000)) == "targets[0].id"
    _untouched(second)

    # And a line stored before the fix that claims pay_X anyway (no reconciled_payment_ids) is unmatched
    legacy = bank.save_transaction(
        second,
        replace(second, status=TransactionStatus.MATCHED, matched_by="key:finance", payment_ids=(pay_x,)),
        due_at=None,
    )
    _unmatch(legacy)

    # Then pay_X stands and the invoice stays paid: only line 1 can take it back
    assert payments.get(books.tenant_id, pay_x).status is PaymentStatus.SUCCEEDED
    assert invoices.get_header(books.tenant_id, inv.invoice_id).status is InvoiceStatus.PAID
    assert bank.get_transaction(books.tenant_id, first.transaction_id).status is TransactionStatus.MATCHED


def test_a_payout_target_is_a_payout_of_the_lines_amount(books: BankBooks) -> None:
    payout = _event(books.tenant_id, EventAction.PAYOUT, 50)
    line = books.line(10_000, remittance="STRIPE PAYOUT")

    # A payout of 50 does not reconcile a credit of 10,000, by a person or the matcher
    assert _refused(_match, line, MatchTarget(TargetType.PAYOUT, payout.id, 10_000)) == "targets[0].amount"
    assert _refused(_apply, line, MatchTarget(TargetType.PAYOUT, payout.id, 10_000)) == "targets[0].amount"
    # A customer's incoming payment is no payout
    incoming = _event(books.tenant_id, EventAction.SUCCEEDED, 10_000, reference=f"pi_{new_id('event')}")
    assert _refused(_apply, line, MatchTarget(TargetType.PAYOUT, incoming.id, 10_000)) == "targets[0].id"
    # An unknown or another tenant's payment is a 404 naming the target
    other = _event(make_tenant("Other GmbH", now=NOW).tenant_id, EventAction.PAYOUT, 10_000)
    assert _refused(_match, line, MatchTarget(TargetType.PAYOUT, other.id, 10_000)) == "targets[0].id"
    _untouched(line)

    # A payout of the line's amount is reconciled (not created) and its unmatch only un-reconciles it
    exact = _event(books.tenant_id, EventAction.PAYOUT, 10_000)
    matched = _match(line, MatchTarget(TargetType.PAYOUT, exact.id, 10_000))
    assert matched.payment_ids == (exact.id,) and matched.reconciled_payment_ids == (exact.id,)
    undone = _unmatch(matched)
    after = payments.get(books.tenant_id, exact.id)
    assert after.status is PaymentStatus.SUCCEEDED and after.reversed_amount == 0
    assert [h.action for h in after.history][-2:] == ["bank_reconciled", "bank_unreconciled"]
    assert undone.payment_ids == () and undone.reconciled_payment_ids == ()


def test_a_payment_target_is_a_refund_or_chargeback_on_a_debit(books: BankBooks) -> None:
    incoming = _event(books.tenant_id, EventAction.SUCCEEDED, 3_000, reference=f"pi_{new_id('event')}")
    refund = _refund(books.tenant_id, 3_000)
    debit = books.line(3_000, direction=Direction.DEBIT)
    credit = books.line(3_000)

    # A debit does not reconcile a customer's incoming payment; a credit is no refund
    assert _refused(_apply, debit, MatchTarget(TargetType.PAYMENT, incoming.id, 3_000)) == "targets[0].id"
    assert _refused(_apply, credit, MatchTarget(TargetType.PAYMENT, refund.id, 3_000)) == "targets[0].type"
    assert _refused(_apply, debit, MatchTarget(TargetType.PAYMENT, refund.id, 2_000)) == "targets[0].amount"

    matched = _match(debit, MatchTarget(TargetType.PAYMENT, refund.id, 3_000))
    assert matched.reconciled_payment_ids == (refund.id,)


# --------------------------------------------------------------------------- (2) (3) the set of targets


def test_invoices_and_a_payout_cannot_share_a_line(books: BankBooks) -> None:
    inv = invoice(books.tenant_id, "RE-9101", 4_000, now=NOW)
    payout = _event(books.tenant_id, EventAction.PAYOUT, 6_000)
    line = books.line(10_000)
    targets = (
        MatchTarget(TargetType.INVOICE, inv.invoice_id, 4_000),
        MatchTarget(TargetType.PAYOUT, payout.id, 6_000),
    )

    assert _refused(_match, line, *targets) == "targets"
    assert _refused(_apply, line, *targets) == "targets"

    _untouched(line)
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 0
    assert payments.get(books.tenant_id, payout.id).history == payout.history


def test_keep_rest_as_credit_needs_an_invoice(books: BankBooks) -> None:
    line = books.line(10_000)

    field = _refused(_match, line, MatchTarget(TargetType.FEES, "fees", 100), keep_rest=True)

    assert field == "keep_rest_as_credit"
    _untouched(line)


# --------------------------------------------------------------------------- (4) installments


def _installment_with_processor(tenant_id: str) -> tuple[Plan, Installment]:
    """A plan of 120.00 with one installment due today whose Stripe debit (pi_...) is under way."""
    return installment_under_way(
        tenant_id,
        now=NOW,
        due=NOW.date(),
        processor="stripe",
        processor_reference=f"pi_{new_id('event')[-12:]}",
        phase="poll",
    )


def _paid_webhook(tenant_id: str, installment: Installment) -> Payment:
    return _event(
        tenant_id,
        EventAction.SUCCEEDED,
        installment.amount,
        reference=installment.processor_reference,
        targets={"installment_id": installment.installment_id, "plan_id": installment.plan_id},
    )


def test_a_bank_line_first_then_the_processors_paid_make_one_payment(books: BankBooks) -> None:
    plan, installment = _installment_with_processor(books.tenant_id)
    line = books.line(12_000, direction=Direction.DEBIT, remittance=installment.installment_id)

    matched = _match(line, MatchTarget(TargetType.INSTALLMENT, installment.installment_id, 12_000))

    # The line's payment is the processor's (source and reference), the installment paid with it
    [payment_id] = matched.payment_ids
    assert matched.reconciled_payment_ids == ()
    recorded = payments.get(books.tenant_id, payment_id)
    assert (recorded.source, recorded.source_reference) == (
        PaymentSource.STRIPE,
        installment.processor_reference,
    )
    header, (settled,) = FinancingRepository().get_plan(books.tenant_id, plan.plan_id)
    assert settled.status is InstallmentStatus.PAID and header.paid_amount == 12_000
    assert header.status is PlanStatus.COMPLETED

    # When the processor's "paid" arrives, it merges into that payment
    merged = _paid_webhook(books.tenant_id, installment)

    assert merged.id == payment_id
    assert payments.by_reference(
        books.tenant_id, PaymentSource.STRIPE, installment.processor_reference or ""
    ) == payments.get(books.tenant_id, payment_id)
    header, (settled,) = FinancingRepository().get_plan(books.tenant_id, plan.plan_id)
    assert header.paid_amount == 12_000  # paid once


def test_the_processors_paid_first_then_the_bank_line_reconciles_its_payment(books: BankBooks) -> None:
    plan, installment = _installment_with_processor(books.tenant_id)
    paid = _paid_webhook(books.tenant_id, installment)
    line = books.line(12_000, direction=Direction.DEBIT, remittance=installment.installment_id)

    matched = _match(line, MatchTarget(TargetType.INSTALLMENT, installment.installment_id, 12_000))

    assert matched.payment_ids == (paid.id,) and matched.reconciled_payment_ids == (paid.id,)
    assert payments.get(books.tenant_id, paid.id).history[-1].action == "bank_reconciled"
    header, _ = FinancingRepository().get_plan(books.tenant_id, plan.plan_id)
    assert header.paid_amount == 12_000
    # A second line of the same debit cannot take the same payment
    again = books.line(12_000, direction=Direction.DEBIT)
    target = MatchTarget(TargetType.INSTALLMENT, installment.installment_id, 12_000)
    with pytest.raises(ConflictError):
        _match(again, target)


# --------------------------------------------------------------------------- (5) field names


def test_installment_refusals_name_the_target(books: BankBooks) -> None:
    _, installment = _installment_with_processor(books.tenant_id)
    line = books.line(12_000, direction=Direction.DEBIT)

    unknown = MatchTarget(TargetType.INSTALLMENT, new_id("installment"), 12_000)
    assert _refused(_match, line, unknown) == "targets[0].id"
    wrong = MatchTarget(TargetType.INSTALLMENT, installment.installment_id, 11_000)
    assert _refused(_apply, line, wrong) == "targets[0].amount"
    payment = MatchTarget(TargetType.PAYMENT, new_id("payment"), 12_000)
    assert _refused(_match, line, payment) == "targets[0].id"
    _untouched(line)


def test_the_match_routes_refusals_over_http(api: Api, frozen_now: datetime, tenant: TestTenant) -> None:
    books = BankBooks(tenant.tenant_id, frozen_now)
    inv = invoice(tenant.tenant_id, "RE-9301", 4_000, now=frozen_now)
    payout = _event(tenant.tenant_id, EventAction.PAYOUT, 6_000)
    line = books.line(10_000)
    path = f"/v1/bank-transactions/{line.transaction_id}/match"

    def refusal(body: dict[str, Any]) -> tuple[int, str]:
        answer = api.post(path, key=tenant.finance, json_body=body)
        return answer.status_code, error_of(answer)["field"]

    assert refusal({"targets": [{"type": "payout", "id": new_id("payment"), "amount": 10_000}]}) == (
        404,
        "targets[0].id",
    )
    assert refusal({"targets": [{"type": "payout", "id": payout.id, "amount": 10_000}]}) == (
        422,
        "targets[0].amount",
    )
    mixed = [
        {"type": "invoice", "id": inv.invoice_id, "amount": 4_000},
        {"type": "payout", "id": payout.id, "amount": 6_000},
    ]
    assert refusal({"targets": mixed}) == (422, "targets")
    fees = {"targets": [{"type": "fees", "amount": 100}], "keep_rest_as_credit": True}
    assert refusal(fees) == (422, "keep_rest_as_credit")
    _untouched(line)
