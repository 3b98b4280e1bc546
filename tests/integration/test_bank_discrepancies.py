"""A discrepancy's life against DynamoDB Local: stored with the match that found it and named on the
line; resolved ("unmatched") and no longer counted when the line is unmatched; a payout's NOT_IN_BANK
resolved in the transaction of the bank line that shows it late; resolved by a person once
(POST /v1/bank-discrepancies/{id}/resolve: 409 the second time, 404 for another tenant's); and the
same money twice flagged DUPLICATE on the later line, which then waits for a person. Each is written
once however many workers or people act at the same moment.

Every instant is given; no test reads the clock.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from cashline.dal.bank_repository import StoredDiscrepancy, bank
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    DiscrepancyKind,
    MatchTarget,
    TargetType,
    TransactionStatus,
)
from cashline.domain.payments import Payment, PaymentMethod, PaymentSource
from cashline.errors import ConflictError
from cashline.schemas.payment_events import EventAction, PaymentEvent
from cashline.services.bank import bank_check_sweep, matching, queue
from cashline.services.bank.flags import resolve_discrepancy
from cashline.services.payments.context import context_for, payments
from cashline.services.payments.events import process_event
from tests.bank_setup import BankBooks, invoice
from tests.utils import Api, TestTenant, error_of, make_tenant

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
PAID = date(2026, 11, 2)
FLAGGED_AT = datetime(2026, 11, 8, tzinfo=UTC)  # value date + 5 days (the default) has passed
PAYER_IBAN = "DE89370400440532013000"


@pytest.fixture
def shop() -> TestTenant:
    return make_tenant("Abgleich GmbH", now=NOW)


@pytest.fixture
def books(shop: TestTenant) -> BankBooks:
    return BankBooks(shop.tenant_id, NOW)


def _stored(tx: BankTransaction) -> list[StoredDiscrepancy]:
    return bank.discrepancies(tx.tenant_id, list(tx.discrepancy_ids))


def _overpaid_match(books: BankBooks, number: str, *, at: datetime = NOW) -> BankTransaction:
    """A line of 10,500 a person matched to an invoice of 10,000, keeping 500 as credit (OVERPAID)."""
    inv = invoice(books.tenant_id, number, 10_000, now=NOW)
    line = books.line(10_500, remittance=number)
    return queue.match_transaction(
        books.tenant_id,
        line.transaction_id,
        proposal=None,
        targets=[MatchTarget(TargetType.INVOICE, inv.invoice_id, 10_000)],
        keep_rest_as_credit=True,
        actor="key:finance",
        now=at,
    )


# --------------------------------------------------------------------------- (1) unmatch


def test_the_line_names_what_its_match_stored_and_unmatch_resolves_it(books: BankBooks) -> None:
    # Given a match that found an overpayment
    matched = _overpaid_match(books, "RE-9001")
    [found] = matched.discrepancies
    [bdc] = matched.discrepancy_ids
    [stored] = _stored(matched)
    assert found.kind is DiscrepancyKind.OVERPAID and found.amount == 500
    assert (stored.discrepancy_id, stored.status, stored.discrepancy) == (bdc, "open", found)
    assert (stored.bank_transaction_id, stored.payment_id) == (matched.transaction_id, matched.payment_ids[0])
    assert books.totals()["disc_overpaid_count"] == 1 and books.totals()["disc_overpaid_amount"] == 500

    # When the person unmatches the line
    later = NOW + timedelta(hours=2)
    undone = queue.unmatch_transaction(
        books.tenant_id, matched.transaction_id, reason="wrong invoice", actor="key:other", now=later
    )

    # Then the discrepancy is resolved in that transaction, and neither the line nor the totals count it
    assert undone.discrepancies == () and undone.discrepancy_ids == ()
    resolved = bank.get_discrepancy(books.tenant_id, bdc)
    assert (resolved.status, resolved.note, resolved.resolved_by) == ("resolved", "unmatched", "key:other")
    assert resolved.resolved_at == later
    assert not any(name.startswith("disc_") for name in books.totals())
    assert bdc not in {
        d.discrepancy_id
        for d in bank.list_discrepancies(books.tenant_id, status="open", limit=50, starting_after=None).items
    }

    # And a new match stores a new one
    again = queue.match_transaction(
        books.tenant_id,
        matched.transaction_id,
        proposal=None,
        targets=list(matched.match.targets) if matched.match else [],
        keep_rest_as_credit=True,
        actor="key:finance",
        now=later + timedelta(hours=1),
    )
    assert len(again.discrepancy_ids) == 1 and again.discrepancy_ids[0] != bdc
    assert [d.status for d in _stored(again)] == ["open"]
    assert books.totals()["disc_overpaid_count"] == 1


def test_unmatch_leaves_a_discrepancy_a_person_resolved_as_they_did(books: BankBooks) -> None:
    matched = _overpaid_match(books, "RE-9002")
    [bdc] = matched.discrepancy_ids
    by_person = resolve_discrepancy(
        books.tenant_id, bdc, note="credit agreed", actor="key:finance", now=NOW + timedelta(hours=1)
    )

    undone = queue.unmatch_transaction(
        books.tenant_id, matched.transaction_id, reason="", actor="key:other", now=NOW + timedelta(hours=2)
    )

    assert undone.status is TransactionStatus.SUGGESTED or undone.status is TransactionStatus.UNMATCHED
    assert bank.get_discrepancy(books.tenant_id, bdc) == by_person
    assert not any(name.startswith("disc_") for name in books.totals())


# --------------------------------------------------------------------------- (2) a payout seen late


def _payout(tenant_id: str, amount: int) -> Payment:
    """A Stripe `payout.paid` through the payment services (it starts the "not in bank" check)."""
    event = PaymentEvent.model_validate(
        {
            "source": PaymentSource.STRIPE,
            "event_id": f"evt_{uuid.uuid4().hex}",
            "event_type": "test.payout",
            "occurred_at": NOW,
            "action": EventAction.PAYOUT,
            "reference": f"po_{uuid.uuid4().hex[:14]}",
            "amount": amount,
            "currency": "EUR",
            "value_date": PAID,
            "method": PaymentMethod.BANK_TRANSFER,
        }
    )
    outcome = process_event(context_for(tenant_id, now=NOW, actor="webhook:stripe"), event)
    assert outcome.payment_id is not None
    return payments.get(tenant_id, outcome.payment_id)


def _not_in_bank_of(tenant_id: str, payment_id: str) -> StoredDiscrepancy:
    found = bank.open_discrepancy_of_payment(tenant_id, payment_id)
    assert found is not None and found.discrepancy.kind is DiscrepancyKind.NOT_IN_BANK
    return found


def test_a_payout_the_bank_shows_late_resolves_its_not_in_bank_discrepancy(books: BankBooks) -> None:
    # Given a payout flagged NOT_IN_BANK after the tenant's days
    payout = _payout(books.tenant_id, 48_750)
    bank_check_sweep.check_due(FLAGGED_AT)
    flagged = _not_in_bank_of(books.tenant_id, payout.id)

    # When its bank line arrives and a person matches it to the payout
    seen = FLAGGED_AT + timedelta(days=1)
    line = books.line(48_750, remittance="STRIPE PAYOUT", payer="Stripe", booking_date=seen.date())
    matched = queue.match_transaction(
        books.tenant_id,
        line.transaction_id,
        proposal=None,
        targets=[MatchTarget(TargetType.PAYOUT, payout.id, 48_750)],
        keep_rest_as_credit=False,
        actor="key:finance",
        now=seen,
    )

    # Then the discrepancy was resolved in the match's transaction, naming the line
    assert matched.status is TransactionStatus.MATCHED
    resolved = bank.get_discrepancy(books.tenant_id, flagged.discrepancy_id)
    assert (resolved.status, resolved.resolved_by, resolved.resolved_at) == ("resolved", "key:finance", seen)
    assert resolved.note == f"bank line {line.transaction_id} matched the payment"
    assert bank.open_discrepancy_of_payment(books.tenant_id, payout.id) is None


def test_a_match_whose_resolution_lost_a_race_writes_nothing_and_is_tried_again(books: BankBooks) -> None:
    """The resolution is conditional on the discrepancy's version: a person resolving it between the
    match's read and its commit makes the match read again; it then leaves the person's resolution."""
    payout = _payout(books.tenant_id, 12_340)
    bank_check_sweep.check_due(FLAGGED_AT)
    flagged = _not_in_bank_of(books.tenant_id, payout.id)
    line = books.line(12_340, payer="Stripe", booking_date=FLAGGED_AT.date())

    original = bank.open_discrepancy_of_payment
    raced: list[StoredDiscrepancy] = []

    def stale_then_real(tenant_id: str, payment_id: str) -> StoredDiscrepancy | None:
        found = original(tenant_id, payment_id)
        if found is not None and not raced:  # a person resolves it right after the match read it
            raced.append(
                resolve_discrepancy(
                    tenant_id, found.discrepancy_id, note="seen", actor="key:p", now=FLAGGED_AT
                )
            )
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bank, "open_discrepancy_of_payment", stale_then_real)
        matched = queue.match_transaction(
            books.tenant_id,
            line.transaction_id,
            proposal=None,
            targets=[MatchTarget(TargetType.PAYOUT, payout.id, 12_340)],
            keep_rest_as_credit=False,
            actor="key:finance",
            now=FLAGGED_AT + timedelta(hours=1),
        )

    assert matched.status is TransactionStatus.MATCHED and matched.version == line.version + 1
    assert bank.get_discrepancy(books.tenant_id, flagged.discrepancy_id) == raced[0]


# --------------------------------------------------------------------------- (3) a person resolves


def test_a_person_resolves_a_discrepancy_once_over_http(api: Api, shop: TestTenant, books: BankBooks) -> None:
    matched = _overpaid_match(books, "RE-9101")
    [bdc] = matched.discrepancy_ids
    path = f"/v1/bank-discrepancies/{bdc}/resolve"
    at = NOW + timedelta(days=1)

    assert api.at(at).post(path, key=shop.read_only, json_body={"note": "x"}).status_code == 403
    too_long = api.at(at).post(path, key=shop.finance, json_body={"note": "x" * 501})
    assert too_long.status_code == 400 and error_of(too_long)["field"] == "note"
    unknown = api.at(at).post(path, key=shop.finance, json_body={"note": "x", "extra": 1})
    assert unknown.status_code == 400

    done = api.at(at).post(path, key=shop.finance, json_body={"note": "credit agreed with the customer"})
    assert done.status_code == 200, done.body
    body = done.json()
    assert body["id"] == bdc and body["status"] == "resolved" and body["kind"] == "overpaid"
    assert body["note"] == "credit agreed with the customer" and body["resolved_by"]
    assert datetime.fromisoformat(body["resolved_at"]) == at

    again = api.at(at).post(path, key=shop.finance, json_body={"note": "again"})
    assert again.status_code == 409 and error_of(again)["field"] == "status"
    listed = api.get("/v1/bank-discrepancies?status=resolved", key=shop.read_only).json()
    assert [d["id"] for d in listed["data"]] == [bdc] and listed["data"][0]["note"].startswith("credit")
    shown = api.get(f"/v1/bank-transactions/{matched.transaction_id}", key=shop.read_only).json()
    assert shown["discrepancy_ids"] == [bdc]


def test_another_tenants_discrepancy_is_not_found(api: Api, books: BankBooks) -> None:
    matched = _overpaid_match(books, "RE-9201")
    [bdc] = matched.discrepancy_ids
    stranger = make_tenant("Fremd GmbH", now=NOW)

    response = api.post(f"/v1/bank-discrepancies/{bdc}/resolve", key=stranger.finance, json_body={"note": ""})
    assert response.status_code == 404 and error_of(response)["field"] == "discrepancy_id"
    nonsense = api.post("/v1/bank-discrepancies/bdc_nope/resolve", key=stranger.finance, json_body={})
    assert nonsense.status_code == 404
    assert bank.get_discrepancy(books.tenant_id, bdc).status == "open"
    resolve_discrepancy(books.tenant_id, bdc, note="", actor="a", now=NOW)
    with pytest.raises(ConflictError):
        resolve_discrepancy(books.tenant_id, bdc, note="", actor="b", now=NOW)


# --------------------------------------------------------------------------- (4) the same money twice


def _paid_twice(books: BankBooks, number: str, *, days_apart: int) -> tuple[BankTransaction, BankTransaction]:
    invoice(books.tenant_id, number, 25_000, now=NOW)
    first_day = NOW.date() - timedelta(days=days_apart)
    first = books.line(25_000, remittance=f"Rechnung {number}", iban=PAYER_IBAN, booking_date=first_day)
    second = books.line(25_000, remittance=f"Rechnung {number}", iban=PAYER_IBAN)
    return first, second


def test_the_same_money_twice_is_flagged_and_waits_for_a_person(books: BankBooks) -> None:
    first, second = _paid_twice(books, "RE-9301", days_apart=3)

    # When both are matched (an import, or the sweep)
    done_first, done_second = matching.match_lines(books.tenant_id, [first, second], now=NOW)

    # Then the first pays the invoice; the second is flagged DUPLICATE, stored, counted, and waits
    assert done_first.status is TransactionStatus.MATCHED and done_first.discrepancies == ()
    assert done_second.status is TransactionStatus.SUGGESTED and done_second.payment_ids == ()
    [dup] = done_second.discrepancies
    assert (dup.kind, dup.amount, dup.target_id) == (DiscrepancyKind.DUPLICATE, 25_000, first.transaction_id)
    [stored] = _stored(done_second)
    assert (stored.status, stored.bank_transaction_id, stored.discrepancy) == (
        "open",
        second.transaction_id,
        dup,
    )
    assert books.totals()["disc_duplicate_count"] == 1 and books.totals()["disc_duplicate_amount"] == 25_000

    # And matching it again (the sweep after a lease ran out) flags it no second time
    [still] = matching.match_lines(books.tenant_id, [done_second], now=NOW + timedelta(minutes=20))
    assert still.discrepancy_ids == done_second.discrepancy_ids
    assert books.totals()["disc_duplicate_count"] == 1

    # A person may still match it (it paid another invoice after all): the flag stays with the line,
    # and unmatching leaves it open
    other = invoice(books.tenant_id, "RE-9302", 25_000, now=NOW, customer="K-2")
    matched = queue.match_transaction(
        books.tenant_id,
        second.transaction_id,
        proposal=None,
        targets=[MatchTarget(TargetType.INVOICE, other.invoice_id, 25_000)],
        keep_rest_as_credit=False,
        actor="key:finance",
        now=NOW + timedelta(hours=1),
    )
    assert matched.status is TransactionStatus.MATCHED
    assert (matched.discrepancies, matched.discrepancy_ids) == ((dup,), (stored.discrepancy_id,))
    undone = queue.unmatch_transaction(
        books.tenant_id, second.transaction_id, reason="", actor="key:finance", now=NOW + timedelta(hours=2)
    )
    assert undone.discrepancy_ids == (stored.discrepancy_id,)
    assert bank.get_discrepancy(books.tenant_id, stored.discrepancy_id).status == "open"
    assert books.totals()["disc_duplicate_count"] == 1


def test_of_two_identical_lines_of_one_day_only_the_later_is_flagged(books: BankBooks) -> None:
    invoice(books.tenant_id, "RE-9401", 7_700, now=NOW)
    lines = [books.line(7_700, remittance="RE-9401", iban=PAYER_IBAN) for _ in range(2)]

    done = matching.match_lines(books.tenant_id, lines, now=NOW)

    flagged = [tx for tx in done if tx.discrepancies]
    assert len(flagged) == 1 and flagged[0].status is TransactionStatus.SUGGESTED
    [earlier] = [tx for tx in done if not tx.discrepancies]
    assert flagged[0].discrepancies[0].target_id == earlier.transaction_id


@pytest.mark.parametrize(
    ("days_apart", "second_text", "second_iban"),
    [
        (11, "Rechnung RE-9501", PAYER_IBAN),  # outside the 10 days
        (2, "Rechnung RE-9502", PAYER_IBAN),  # another invoice named
        (2, "Rechnung RE-9501", "FR1420041010050500013M02606"),  # another payer
    ],
)
def test_what_only_looks_alike_is_no_duplicate(
    books: BankBooks, days_apart: int, second_text: str, second_iban: str
) -> None:
    invoice(books.tenant_id, "RE-9501", 3_300, now=NOW)
    invoice(books.tenant_id, "RE-9502", 3_300, now=NOW, customer="K-2")
    first = books.line(
        3_300,
        remittance="Rechnung RE-9501",
        iban=PAYER_IBAN,
        booking_date=NOW.date() - timedelta(days=days_apart),
    )
    second = books.line(3_300, remittance=second_text, iban=second_iban)

    _, done = matching.match_lines(books.tenant_id, [first, second], now=NOW)

    assert done.discrepancies == () and "disc_duplicate_count" not in books.totals()


# --------------------------------------------------------------------------- exactly once, concurrently


def _together(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment (threads behind a barrier); each answer, or the error raised."""
    barrier = threading.Barrier(len(calls))
    answers: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            answers[index] = call()
        except Exception as exc:  # the answer under test
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_workers_matching_a_duplicate_at_once_flag_it_once(books: BankBooks) -> None:
    first, second = _paid_twice(books, "RE-9601", days_apart=1)
    matching.match_lines(books.tenant_id, [first], now=NOW)

    answers = _together(*[lambda: matching.match_lines(books.tenant_id, [second], now=NOW)] * 3)

    assert not [a for a in answers if isinstance(a, Exception)]
    stored = [
        d
        for d in bank.list_discrepancies(books.tenant_id, status="open", limit=50, starting_after=None).items
        if d.bank_transaction_id == second.transaction_id
    ]
    assert [d.discrepancy.kind for d in stored] == [DiscrepancyKind.DUPLICATE]
    line = bank.get_transaction(books.tenant_id, second.transaction_id)
    assert line.discrepancy_ids == (stored[0].discrepancy_id,) and line.status is TransactionStatus.SUGGESTED
    assert books.totals()["disc_duplicate_count"] == 1


def test_two_people_resolving_at_once_resolve_it_once(books: BankBooks) -> None:
    [bdc] = _overpaid_match(books, "RE-9701").discrepancy_ids

    answers = _together(
        *[
            lambda who=who: resolve_discrepancy(books.tenant_id, bdc, note=who, actor=who, now=NOW)
            for who in ("key:a", "key:b", "key:c")
        ]
    )

    resolved = [a for a in answers if isinstance(a, StoredDiscrepancy)]
    assert len(resolved) == 1 and all(isinstance(a, ConflictError) for a in answers if a not in resolved)
    assert bank.get_discrepancy(books.tenant_id, bdc) == resolved[0]
