"""The queue a person works (services.bank.queue and /v1/bank-transactions), against DynamoDB Local:
match by proposal or by chosen targets, ignore with a reason, unmatch (the payments reversed, the
invoices owing again), the 409 of a line someone else just changed, learning from a person's match,
every action in the line's history, and tenant isolation. No test reads the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from cashline.dal.bank_candidates import StoredCandidates
from cashline.dal.bank_records import LearnedPatternRecord, counterparty_iban_pk, learned_pk
from cashline.dal.bank_repository import bank
from cashline.dal.table import CashlineItem
from cashline.domain.bank.matching import remittance_key
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    MatchRule,
    MatchTarget,
    Proposal,
    TargetType,
    TransactionStatus,
)
from cashline.domain.invoices import InvoiceStatus
from cashline.domain.payments import PaymentStatus
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.services.bank import queue
from cashline.services.bank.applying import save_proposals
from cashline.services.payments.context import invoices, payments
from tests.bank_setup import BankBooks, invoice
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of, make_tenant

NOW = FROZEN_NOW
PAYER_IBAN = "DE89370400440532013000"


@pytest.fixture
def books(frozen_now: datetime, tenant: TestTenant) -> BankBooks:
    return BankBooks(tenant.tenant_id, frozen_now)


def _suggest(tx: BankTransaction, *proposals: Proposal) -> BankTransaction:
    return save_proposals(tx, list(proposals), now=NOW)


def _match(tx: BankTransaction, **how: Any) -> BankTransaction:
    how.setdefault("proposal", None)
    how.setdefault("targets", None)
    how.setdefault("keep_rest_as_credit", False)
    return queue.match_transaction(tx.tenant_id, tx.transaction_id, actor="key:finance", now=NOW, **how)


# --------------------------------------------------------------------------- below HTTP


def test_a_person_pays_two_invoices_with_one_line_and_matching_learns_the_payer(books: BankBooks) -> None:
    # Given two open invoices of one customer and a line paying both, which matching did not explain
    first = invoice(books.tenant_id, "RE-7001", 40_000, now=NOW, customer="K-7")
    second = invoice(books.tenant_id, "RE-7002", 20_000, now=NOW, customer="K-7")
    line = books.line(60_000, remittance="Sammelzahlung Maerz", iban=PAYER_IBAN)

    # When a person names both invoices
    after = _match(
        line,
        targets=[
            MatchTarget(TargetType.INVOICE, first.invoice_id, 40_000),
            MatchTarget(TargetType.INVOICE, second.invoice_id, 20_000),
        ],
    )

    # Then one payment pays exactly those, the line says who matched it, and both invoices are paid
    assert after.status is TransactionStatus.MATCHED and after.matched_by == "key:finance"
    assert after.match is not None and after.match.rule is MatchRule.PERSON
    # ...the targets typed by id carry the numbers a person recognises, like the matcher's proposals
    assert [t.label for t in after.match.targets] == ["RE-7001", "RE-7002"]
    [payment_id] = after.payment_ids
    payment = payments.get(books.tenant_id, payment_id)
    assert sorted((a.target_id, a.amount) for a in payment.allocations) == sorted(
        [(first.invoice_id, 40_000), (second.invoice_id, 20_000)]
    )
    for inv in (first, second):
        assert invoices.get_header(books.tenant_id, inv.invoice_id).status is InvoiceStatus.PAID
    assert after.history[-1].action == "matched" and after.history[-1].actor == "key:finance"
    assert books.totals() == {"lines": 1, "credit_amount": 60_000, "person_count": 1, "person_amount": 60_000}
    # ...and the payer's IBAN and remittance pattern now name the customer
    [iban_item] = list(CashlineItem.query(counterparty_iban_pk(books.tenant_id, PAYER_IBAN)))
    assert iban_item.sk == first.counterparty_id
    key = remittance_key("Sammelzahlung Maerz")
    if key is not None:
        learned = LearnedPatternRecord.get(learned_pk(books.tenant_id, key), "LEARN")
        assert learned.counterparty_id == first.counterparty_id
        assert StoredCandidates(books.tenant_id).learned_counterparty(key) == first.counterparty_id


def test_a_person_accepts_a_proposal_by_its_index(books: BankBooks) -> None:
    inv = invoice(books.tenant_id, "RE-7101", 9_900, now=NOW)
    other = invoice(books.tenant_id, "RE-7102", 9_900, now=NOW, customer="K-2")
    line = _suggest(
        books.line(9_900),
        Proposal(MatchRule.AMOUNT, 40, (MatchTarget(TargetType.INVOICE, other.invoice_id, 9_900),)),
        Proposal(MatchRule.AMOUNT, 40, (MatchTarget(TargetType.INVOICE, inv.invoice_id, 9_900),)),
    )
    assert line.status is TransactionStatus.SUGGESTED

    after = _match(line, proposal=1)

    assert after.match == line.proposals[1] and after.proposals == line.proposals
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 9_900
    assert invoices.get_header(books.tenant_id, other.invoice_id).amount_paid == 0


def test_unmatch_reverses_the_payment_and_the_line_can_be_matched_again(books: BankBooks) -> None:
    inv = invoice(books.tenant_id, "RE-7201", 15_000, now=NOW)
    line = books.line(15_000)
    matched = _match(line, targets=[MatchTarget(TargetType.INVOICE, inv.invoice_id, 15_000)])
    [payment_id] = matched.payment_ids

    # When the person undoes it
    undone = queue.unmatch_transaction(
        books.tenant_id, line.transaction_id, reason="wrong customer", actor="key:finance", now=NOW
    )

    # Then the payment is reversed, the invoice owes again, the line waits, the counters are back
    assert undone.status is TransactionStatus.UNMATCHED and undone.payment_ids == () and undone.match is None
    assert payments.get(books.tenant_id, payment_id).status is PaymentStatus.REVERSED
    header = invoices.get_header(books.tenant_id, inv.invoice_id)
    assert header.amount_paid == 0 and header.status is InvoiceStatus.OPEN
    assert [h.action for h in undone.history] == ["imported", "matched", "unmatched"]
    assert books.totals() == {"lines": 1, "credit_amount": 15_000, "open_count": 1, "open_amount": 15_000}
    statement = bank.get_statement(books.tenant_id, books.statement.statement_id)
    assert (statement.matched, statement.unmatched) == (0, 1)

    # And matched again: a new payment (its own reference), the invoice paid once
    again = _match(undone, targets=[MatchTarget(TargetType.INVOICE, inv.invoice_id, 15_000)])
    assert again.payment_ids != matched.payment_ids
    assert payments.get(books.tenant_id, again.payment_ids[0]).source_reference == f"{line.transaction_id}#2"
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 15_000


def test_ignore_needs_a_reason_and_moves_the_line_out_of_the_queue(books: BankBooks) -> None:
    line = books.line(2_000_00, direction=Direction.DEBIT, remittance="Umbuchung Tagesgeld")
    with pytest.raises(UnprocessableError) as refused:
        queue.ignore_transaction(books.tenant_id, line.transaction_id, reason="  ", actor="p", now=NOW)
    assert refused.value.field == "reason"

    ignored = queue.ignore_transaction(
        books.tenant_id, line.transaction_id, reason="transfer to savings", actor="p", now=NOW
    )

    assert ignored.status is TransactionStatus.IGNORED and ignored.ignore_reason == "transfer to savings"
    assert books.totals()["ignored_count"] == 1 and "open_count" not in books.totals()
    statement = bank.get_statement(books.tenant_id, books.statement.statement_id)
    assert (statement.matched, statement.unmatched) == (0, 0)
    with pytest.raises(ConflictError):  # no longer in the queue
        queue.ignore_transaction(books.tenant_id, line.transaction_id, reason="again", actor="p", now=NOW)


def test_a_line_changed_by_someone_else_is_a_conflict(books: BankBooks) -> None:
    inv = invoice(books.tenant_id, "RE-7301", 5_000, now=NOW)
    line = books.line(5_000)
    read_by_person = line.version
    queue.ignore_transaction(books.tenant_id, line.transaction_id, reason="looked at it", actor="a", now=NOW)
    queue.unmatch_transaction(books.tenant_id, line.transaction_id, reason="", actor="a", now=NOW)

    with pytest.raises(ConflictError) as conflict:
        _match(
            line,
            targets=[MatchTarget(TargetType.INVOICE, inv.invoice_id, 5_000)],
            expected_version=read_by_person,
        )

    assert conflict.value.field == "version"
    assert invoices.get_header(books.tenant_id, inv.invoice_id).amount_paid == 0


@pytest.mark.parametrize(
    ("targets", "keep_rest", "field"),
    [
        ([MatchTarget(TargetType.INVOICE, "inv_01JD3Z5W4YV6Q3R0M8X2N5B7C9", 1_000)], False, "targets[0].id"),
        ([MatchTarget(TargetType.BILL, "inv_01JD3Z5W4YV6Q3R0M8X2N5B7C9", 1_000)], False, "targets[0].type"),
        ([MatchTarget(TargetType.FEES, "fees", 400)], False, "targets"),
        (
            [
                MatchTarget(TargetType.INVOICE, "inv_01JD3Z5W4YV6Q3R0M8X2N5B7C9", 500),
                MatchTarget(TargetType.INVOICE, "inv_01JD3Z5W4YV6Q3R0M8X2N5B7C9", 500),
            ],
            False,
            "targets[1].id",
        ),
    ],
)
def test_targets_that_do_not_fit_the_line_are_refused_naming_the_field(
    books: BankBooks, targets: list[MatchTarget], keep_rest: bool, field: str
) -> None:
    line = books.line(1_000)
    with pytest.raises((UnprocessableError, NotFoundError)) as refused:
        _match(line, targets=targets, keep_rest_as_credit=keep_rest)
    assert refused.value.field == field
    assert bank.get_transaction(books.tenant_id, line.transaction_id).version == line.version


def test_keep_rest_as_credit_leaves_the_rest_with_the_payer(books: BankBooks) -> None:
    inv = invoice(books.tenant_id, "RE-7401", 8_000, now=NOW)
    line = books.line(10_000)
    target = [MatchTarget(TargetType.INVOICE, inv.invoice_id, 8_000)]
    with pytest.raises(UnprocessableError):
        _match(line, targets=target)

    after = _match(line, targets=target, keep_rest_as_credit=True)

    payment = payments.get(books.tenant_id, after.payment_ids[0])
    assert (payment.allocated_amount, payment.unallocated_amount) == (8_000, 2_000)
    assert [d.kind.value for d in after.discrepancies] == ["overpaid"]


# --------------------------------------------------------------------------- HTTP


def test_the_queue_over_http(api: Api, tenant: TestTenant, books: BankBooks) -> None:
    inv = invoice(books.tenant_id, "RE-7501", 12_300, now=NOW)
    waiting = _suggest(
        books.line(12_300, remittance="RE 7501"),
        Proposal(
            MatchRule.INVOICE_NUMBER_FUZZY,
            75,
            (MatchTarget(TargetType.INVOICE, inv.invoice_id, 12_300, "RE-7501"),),
        ),
    )
    nothing = books.line(999)
    path = f"/v1/bank-transactions/{waiting.transaction_id}"

    listed = api.get("/v1/bank-transactions?status=suggested", key=tenant.read_only).json()
    assert [t["id"] for t in listed["data"]] == [waiting.transaction_id]
    shown = api.get(path, key=tenant.read_only).json()
    assert shown["proposals"][0]["targets"][0] == {
        "type": "invoice",
        "id": inv.invoice_id,
        "amount": 12_300,
        "label": "RE-7501",
    }
    assert shown["status"] == "suggested" and shown["version"] == waiting.version

    # A read-only key cannot act; a stale version is a 409; the proposal is accepted
    assert api.post(f"{path}/match", key=tenant.read_only, json_body={"proposal": 0}).status_code == 403
    stale = api.post(f"{path}/match", key=tenant.finance, json_body={"proposal": 0, "version": 0})
    assert stale.status_code == 409 and error_of(stale)["field"] == "version"
    accepted = api.post(f"{path}/match", key=tenant.finance, json_body={"proposal": 0})
    assert accepted.status_code == 200, accepted.body
    assert accepted.json()["status"] == "matched" and len(accepted.json()["payment_ids"]) == 1
    again = api.post(f"{path}/match", key=tenant.finance, json_body={"proposal": 0})
    assert again.status_code == 409

    # Ignore the other one, then undo both
    ignore_path = f"/v1/bank-transactions/{nothing.transaction_id}/ignore"
    assert api.post(ignore_path, key=tenant.finance, json_body={}).status_code == 400
    ignored = api.post(ignore_path, key=tenant.finance, json_body={"reason": "bank interest"})
    assert ignored.status_code == 200 and ignored.json()["ignore_reason"] == "bank interest"
    undone = api.post(f"{path}/unmatch", key=tenant.finance, json_body={"reason": "checked"})
    assert undone.status_code == 200 and undone.json()["status"] == "suggested"
    assert [h["action"] for h in undone.json()["history"]] == [
        "imported",
        "suggested",
        "matched",
        "unmatched",
    ]
    bad = api.post(f"{path}/match", key=tenant.finance, json_body={"proposal": 0, "targets": []})
    assert bad.status_code == 400


def test_another_tenants_line_is_not_found(api: Api, tenant: TestTenant, books: BankBooks) -> None:
    line = books.line(1_000)
    stranger = make_tenant("Someone else", now=NOW)
    for method, suffix, body in [("GET", "", None), ("POST", "/ignore", {"reason": "mine"})]:
        response = api.request(
            method,
            f"/v1/bank-transactions/{line.transaction_id}{suffix}",
            key=stranger.finance,
            json_body=body,
        )
        assert response.status_code == 404, response.body
    assert bank.get_transaction(books.tenant_id, line.transaction_id).version == line.version
    assert api.get("/v1/bank-transactions/btx_nonsense", key=tenant.read_only).status_code == 404
