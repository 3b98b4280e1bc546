"""Applying matches (services.bank.matching) against DynamoDB Local: a sure proposal becomes one
bank_transfer payment allocated to exactly its targets, with the line, its statement's counts and the
day totals in the same transaction; an unsure or ambiguous one waits for a person; two workers on one
line make one payment; the bank_match sweep matches what an import left waiting.

The proposals are fixed here (the rules are domain.bank.matching's, tested on their own): these tests
are about what a proposal does to the books, not how it is found. No test reads the clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bench.dynamodb_meter import Meter, metered
from cashline.dal.bank_repository import bank
from cashline.dal.financing_repository import FinancingRepository
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    Discrepancy,
    DiscrepancyKind,
    MatchRule,
    MatchTarget,
    Proposal,
    TargetType,
    TransactionStatus,
)
from cashline.domain.invoices import Invoice, InvoiceStatus
from cashline.domain.payments import Payment, PaymentSource, PaymentStatus
from cashline.domain.plans import Installment, InstallmentStatus, Plan
from cashline.ids import new_id
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.bank import matching
from cashline.services.payments.context import context_for, invoices, payments
from cashline.services.payments.events import process_event
from tests.bank_setup import BankBooks, fixed_proposals, installment_under_way, invoice
from tests.unit.test_bank_camt import balance, camt, entry, report, tx
from tests.utils import Api, TestTenant, make_tenant

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def shop() -> TestTenant:
    return make_tenant("Bank matching GmbH", now=NOW)


@pytest.fixture
def books(shop: TestTenant) -> BankBooks:
    return BankBooks(shop.tenant_id, NOW)


@pytest.fixture
def proposals(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Proposal]]:
    return fixed_proposals(monkeypatch)


def _pays(
    inv: Invoice, amount: int, score: int = 97, *, rule: MatchRule = MatchRule.INVOICE_NUMBER
) -> Proposal:
    return Proposal(rule, score, (MatchTarget(TargetType.INVOICE, inv.invoice_id, amount, inv.number),))


def _match(tx: BankTransaction, now: datetime = NOW) -> BankTransaction:
    [after] = matching.match_lines(tx.tenant_id, [tx], now=now)
    return after


def test_a_sure_proposal_becomes_one_payment_with_the_line_and_its_counters(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    # Given an open invoice and a bank line paying it, proposed at 97
    inv = invoice(books.tenant_id, "RE-1001", 50_000, now=NOW)
    line = books.line(50_000, remittance="RE-1001")
    proposals[line.transaction_id] = [_pays(inv, 50_000)]

    # When matching runs
    after = _match(line)

    # Then the line is matched automatically, with the payment it made and an audit entry
    assert after.status is TransactionStatus.MATCHED and after.matched_by == "auto"
    assert after.match is not None and after.match.rule is MatchRule.INVOICE_NUMBER
    assert [h.action for h in after.history] == ["imported", "auto_matched"]
    [payment_id] = after.payment_ids
    payment = payments.get(books.tenant_id, payment_id)
    assert payment.source is PaymentSource.BANK_TRANSFER and payment.source_reference == line.transaction_id
    assert [(a.target_id, a.amount) for a in payment.allocations] == [(inv.invoice_id, 50_000)]
    assert payment.unallocated_amount == 0
    assert invoices.get_header(books.tenant_id, inv.invoice_id).status is InvoiceStatus.PAID
    # ...and the counters moved from open to auto in the same write
    assert books.totals() == {"lines": 1, "credit_amount": 50_000, "auto_count": 1, "auto_amount": 50_000}
    statement = bank.get_statement(books.tenant_id, books.statement.statement_id)
    assert (statement.matched, statement.unmatched) == (1, 0)

    # When matching runs again (a second import, the sweep): nothing changes
    again = _match(after)
    assert again.version == after.version and again.payment_ids == after.payment_ids
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 50_000


def test_an_overpayment_keeps_the_rest_as_credit_and_flags_it(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    inv = invoice(books.tenant_id, "RE-2001", 10_000, now=NOW)
    line = books.line(12_500, remittance="RE-2001")
    overpaid = Discrepancy(DiscrepancyKind.OVERPAID, 2_500, "EUR", target_id=inv.invoice_id)
    proposals[line.transaction_id] = [
        Proposal(
            MatchRule.CREDITOR_REFERENCE,
            92,
            (MatchTarget(TargetType.INVOICE, inv.invoice_id, 10_000),),
            discrepancies=(overpaid,),
        )
    ]

    after = _match(line)

    assert after.status is TransactionStatus.MATCHED and after.discrepancies == (overpaid,)
    payment = payments.get(books.tenant_id, after.payment_ids[0])
    assert (payment.amount, payment.allocated_amount, payment.unallocated_amount) == (12_500, 10_000, 2_500)
    assert payment.counterparty_id == inv.counterparty_id  # the payer's credit
    totals = books.totals()
    assert (totals["disc_overpaid_count"], totals["disc_overpaid_amount"]) == (1, 2_500)
    [flagged] = bank.list_discrepancies(books.tenant_id, status="open", limit=10, starting_after=None).items
    assert flagged.bank_transaction_id == line.transaction_id and flagged.discrepancy == overpaid


def test_unsure_or_ambiguous_proposals_wait_for_a_person(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    first = invoice(books.tenant_id, "RE-3001", 7_000, now=NOW, customer="K-1")
    second = invoice(books.tenant_id, "RE-3002", 7_000, now=NOW, customer="K-2")
    below = books.line(7_000)
    ambiguous = books.line(7_000)
    nothing = books.line(123)
    proposals[below.transaction_id] = [_pays(first, 7_000, 89, rule=MatchRule.AMOUNT)]
    # 93 reaches the threshold, but 90 (within 5 points) pays another invoice: a person chooses
    proposals[ambiguous.transaction_id] = [_pays(first, 7_000, 93), _pays(second, 7_000, 90)]

    after = matching.match_lines(books.tenant_id, [below, ambiguous, nothing], now=NOW)

    assert [tx.status for tx in after] == [
        TransactionStatus.SUGGESTED,
        TransactionStatus.SUGGESTED,
        TransactionStatus.UNMATCHED,
    ]
    assert [len(tx.proposals) for tx in after] == [1, 2, 0]
    assert all(tx.payment_ids == () for tx in after)
    assert invoices.get_header(books.tenant_id, first.invoice_id).amount_paid == 0
    assert books.totals()["open_count"] == 3 and "auto_count" not in books.totals()


def test_a_runner_up_naming_the_same_targets_is_no_ambiguity() -> None:
    target = (MatchTarget(TargetType.INVOICE, "inv_x", 100),)
    best = Proposal(MatchRule.INVOICE_NUMBER, 97, target)
    same = Proposal(MatchRule.AMOUNT, 95, target)
    other = Proposal(MatchRule.AMOUNT, 91, (MatchTarget(TargetType.INVOICE, "inv_y", 100),))
    assert matching.auto_choice([best, same], 90) is best
    assert matching.auto_choice([best, other], 90) is best  # 6 points below: not close
    assert matching.auto_choice([best], 98) is None  # the tenant's threshold


def test_two_workers_matching_one_line_make_one_payment(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    inv = invoice(books.tenant_id, "RE-4001", 30_000, now=NOW)
    line = books.line(30_000, remittance="RE-4001")
    proposals[line.transaction_id] = [_pays(inv, 30_000)]
    start = threading.Barrier(2)
    results: list[BankTransaction] = []

    def worker() -> None:
        start.wait()
        results.extend(matching.match_lines(books.tenant_id, [line], now=NOW))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = bank.get_transaction(books.tenant_id, line.transaction_id)
    assert stored.status is TransactionStatus.MATCHED and len(stored.payment_ids) == 1
    assert {tuple(r.payment_ids) for r in results} == {stored.payment_ids}
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 30_000
    assert (
        payments.by_reference(books.tenant_id, PaymentSource.BANK_TRANSFER, line.transaction_id) is not None
    )
    assert books.totals()["auto_count"] == 1 and "open_count" not in books.totals()


def test_the_sweep_matches_the_lines_an_import_left_waiting(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    inv = invoice(books.tenant_id, "RE-5001", 8_800, now=NOW)
    waiting = books.line(8_800, remittance="RE-5001", due_at=NOW)
    proposals[waiting.transaction_id] = [_pays(inv, 8_800)]

    handled = matching.match_due(NOW + timedelta(minutes=5))

    assert handled >= 1
    after = bank.get_transaction(books.tenant_id, waiting.transaction_id)
    assert after.status is TransactionStatus.MATCHED
    assert payments.get(books.tenant_id, after.payment_ids[0]).status is PaymentStatus.SUCCEEDED
    # Off the due index: the next sweep does not take it again
    matching.match_due(NOW + timedelta(minutes=10))
    assert bank.get_transaction(books.tenant_id, waiting.transaction_id).version == after.version


def _waiting_installment(tenant_id: str) -> tuple[Plan, Installment]:
    """An active, paid-out plan with one installment due today whose debit is under way (PROCESSING)."""
    return installment_under_way(tenant_id, now=NOW, due=NOW.date())


def test_a_debit_of_cashlines_installment_settles_it_once(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    plan, installment = _waiting_installment(books.tenant_id)
    line = books.line(12_000, direction=Direction.DEBIT, remittance=installment.installment_id)
    target = MatchTarget(TargetType.INSTALLMENT, installment.installment_id, 12_000)
    proposals[line.transaction_id] = [Proposal(MatchRule.INSTALLMENT, 100, (target,))]

    after = _match(line)

    assert after.status is TransactionStatus.MATCHED
    [payment_id] = after.payment_ids
    payment = payments.get(books.tenant_id, payment_id)
    assert [(a.target_type, a.target_id) for a in payment.allocations] == [
        ("installment", installment.installment_id)
    ]
    header, (settled,) = FinancingRepository().get_plan(books.tenant_id, plan.plan_id)
    assert settled.status is InstallmentStatus.PAID and header.paid_amount == 12_000
    assert books.totals()["debit_amount"] == 12_000 and books.totals()["auto_count"] == 1


def test_a_payout_line_reconciles_the_payout_once(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    payout = _recorded_payout(books.tenant_id, 48_750)
    first = books.line(48_750, remittance="STRIPE PAYOUT po_1")
    second = books.line(48_750, remittance="STRIPE PAYOUT po_1")
    target = MatchTarget(TargetType.PAYOUT, payout.id, 48_750, "po_1")
    for line in (first, second):
        proposals[line.transaction_id] = [Proposal(MatchRule.PROCESSOR_PAYOUT, 98, (target,))]

    matched, duplicate = matching.match_lines(books.tenant_id, [first, second], now=NOW)

    assert matched.status is TransactionStatus.MATCHED and matched.payment_ids == (payout.id,)
    # No new payment: the payout is marked reconciled, and a second line cannot take it too
    assert payments.get(books.tenant_id, payout.id).history[-1].action == "bank_reconciled"
    assert duplicate.status is TransactionStatus.SUGGESTED and duplicate.payment_ids == ()
    assert len(duplicate.proposals) == 1  # a person sees what it looked like


def _recorded_payout(tenant_id: str, amount: int) -> Payment:
    ctx = context_for(tenant_id, now=NOW, actor="webhook:stripe")
    event = PaymentEvent(
        source=PaymentSource.STRIPE,
        event_id=f"evt_{new_id('event')}",
        event_type="payout.paid",
        occurred_at=NOW,
        action=EventAction.PAYOUT,
        reference=f"po_{new_id('event')[-10:]}",
        amount=amount,
        currency="EUR",
        value_date=NOW.date(),
    )
    outcome = process_event(ctx, event)
    assert outcome.payment_id is not None
    return payments.get(tenant_id, outcome.payment_id)


def test_an_imported_statement_is_matched_once_end_to_end(
    api: Api, tenant: TestTenant, frozen_now: datetime
) -> None:
    # Given an open invoice, and a camt.053 whose one credit names it (the real rules, no fixed proposal)
    inv = invoice(tenant.tenant_id, "RE-9001", 50_000, now=frozen_now)
    details = tx(
        parties="<Dbtr><Nm>Kunde K-1</Nm></Dbtr>",
        remittance="<RmtInf><Ustrd>Rechnung RE-9001</Ustrd></RmtInf>",
    )
    balances = balance("OPBD", "1000.00") + balance("CLBD", "1500.00")
    body = camt(report(entry("500.00", details=f"<NtryDtls>{details}</NtryDtls>"), balances=balances))
    headers = {"Content-Type": "application/xml"}

    # When it is imported
    first = api.post("/v1/bank-statements", key=tenant.finance, raw_body=body, headers=headers)

    # Then the line is matched automatically and the invoice paid by one payment
    assert first.status_code == 201, first.body
    [statement] = first.json()["statements"]
    assert (statement["matched"], statement["unmatched"]) == (1, 0)
    [line] = api.get("/v1/bank-transactions?status=matched", key=tenant.read_only).json()["data"]
    assert line["matched_by"] == "auto" and line["match"]["targets"][0]["id"] == inv.invoice_id
    assert invoices.get_header(tenant.tenant_id, inv.invoice_id).status is InvoiceStatus.PAID

    # When the same file comes again: a 409, and nothing is paid twice
    again = api.post("/v1/bank-statements", key=tenant.finance, raw_body=body, headers=headers)
    assert again.status_code == 409
    assert invoices.get_header(tenant.tenant_id, inv.invoice_id).amount_paid == 50_000
    assert len(api.get("/v1/bank-transactions", key=tenant.read_only).json()["data"]) == 1


def test_a_proposal_the_books_no_longer_allow_waits_for_a_person(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    # Two lines proposed for one invoice (the same transfer sent twice): the first pays it
    inv = invoice(books.tenant_id, "RE-6001", 4_200, now=NOW)
    first, second = books.line(4_200, remittance="RE-6001"), books.line(4_200, remittance="RE-6001")
    for line in (first, second):
        proposals[line.transaction_id] = [_pays(inv, 4_200)]

    paid, waiting = matching.match_lines(books.tenant_id, [first, second], now=NOW)

    # The second cannot pay a paid invoice: it waits, nothing half-written, the batch goes on
    assert paid.status is TransactionStatus.MATCHED
    assert waiting.status is TransactionStatus.SUGGESTED and waiting.payment_ids == ()
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 4_200
    assert books.totals()["open_count"] == 1 and books.totals()["auto_count"] == 1


def test_applying_costs_the_same_calls_per_line_whatever_the_batch(
    books: BankBooks, proposals: dict[str, list[Proposal]]
) -> None:
    """What applying (not proposing: that is fixed here) costs per line, in DynamoDB calls."""

    def cost(count: int) -> tuple[Meter, Meter]:
        sure, unsure = [], []
        for n in range(count):
            inv = invoice(books.tenant_id, f"RE-C{count}-{n}", 1_000 + n, now=NOW, customer=f"C{count}-{n}")
            applied, waiting = books.line(1_000 + n), books.line(1_000 + n)
            proposals[applied.transaction_id] = [_pays(inv, 1_000 + n)]
            proposals[waiting.transaction_id] = [_pays(inv, 1_000 + n, 60, rule=MatchRule.AMOUNT)]
            sure.append(applied)
            unsure.append(waiting)
        with metered() as applying:
            matching.match_lines(books.tenant_id, sure, now=NOW)
        with metered() as suggesting:
            matching.match_lines(books.tenant_id, unsure, now=NOW)
        return applying, suggesting

    cost(1)  # warm: the tenant and its settings cached
    small_apply, small_suggest = cost(2)
    large_apply, large_suggest = cost(6)

    per_apply = (large_apply.total_calls - small_apply.total_calls) / 4
    per_suggest = (large_suggest.total_calls - small_suggest.total_calls) / 4
    print(f"\nper line: applied {per_apply} calls ({large_apply.describe()} for 6), suggested {per_suggest}")
    assert per_suggest <= 3  # the duplicate check's Query (gsi6), read the line, write it
    # 5 of its own (the duplicate check, the line read, the invoice, one transaction, the line read
    # back), 5 the reactions every payment runs after its commit (the reminder run, the risk)
    assert per_apply <= 10
