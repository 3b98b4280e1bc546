"""Reconciliation's storage (cashline.dal.bank_repository) against DynamoDB Local: accounts and their
claims, statements claimed once, bank lines claimed once by fingerprint, versioned line changes that
move the status indexes, the transaction list planner and its cursor, the bank_match due index,
ADD-only day totals, discrepancies, settings, and another tenant's ids never found.

Each test uses tenants of its own; instants are fixed, never the wall clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from cashline.dal import bank_queries
from cashline.dal.bank_records import TOTALS_COUNTERS, ReconciliationTotalsRecord
from cashline.dal.bank_repository import (
    BankRepository,
    ReconciliationSettings,
    StoredDiscrepancy,
    TransactionFilter,
)
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankAccount,
    BankTransaction,
    Discrepancy,
    DiscrepancyKind,
    HistoryEntry,
    MatchRule,
    MatchTarget,
    Proposal,
    ShortfallCause,
    StoredStatement,
    TargetType,
    TransactionStatus,
)
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.ids import new_id
from tests.bank_books import bank_line

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
repo = BankRepository()


def a_tenant() -> str:
    return new_id("tenant")


def an_account(
    tenant_id: str, *, iban: str | None = "DE89370400440532013000", operating: bool = False
) -> BankAccount:
    return BankAccount(
        tenant_id=tenant_id,
        bank_account_id=new_id("bank_account"),
        name="Main account",
        currency="EUR",
        iban=iban,
        account_other=None if iban else "1234567",
        bic="COBADEFFXXX",
        operating=operating,
        csv_mapping={"amount": "Betrag"},
        created_from_file=False,
        balance=None,
        balance_date=None,
        created_at=NOW,
        updated_at=NOW,
    )


def a_statement(tenant_id: str, account_id: str, *, to_date: date | None) -> StoredStatement:
    return StoredStatement(
        tenant_id=tenant_id,
        statement_id=new_id("bank_statement"),
        import_id=new_id("bank_import"),
        bank_account_id=account_id,
        account="DE89370400440532013000",
        format="camt.053.001.02",
        kind="statement",
        currency="EUR",
        bank_statement_id="STMT-1",
        sequence="1",
        from_date=to_date,
        to_date=to_date,
        opening_balance=123400,
        closing_balance=98700,
        transaction_count=2,
        duplicate_lines=0,
        credits_total=50000,
        debits_total=74700,
        balanced=True,
        matched=0,
        unmatched=2,
        created_at=NOW,
    )


def a_line(
    tenant_id: str,
    account_id: str,
    statement_id: str,
    *,
    amount: int = 12345,
    booked: date = date(2026, 3, 1),
    direction: Direction = Direction.CREDIT,
    status: TransactionStatus = TransactionStatus.UNMATCHED,
) -> BankTransaction:
    btx = new_id("bank_transaction")
    return bank_line(
        tenant_id=tenant_id,
        transaction_id=btx,
        bank_account_id=account_id,
        statement_id=statement_id,
        import_id="bsi_x",
        fingerprint=f"fp-{btx}",
        amount=amount,
        direction=direction,
        booking_date=booked,
        value_date=booked,
        bank_reference="REF-1",
        creditor_reference="RF18539007547034",
        remittance="Rechnung INV-7034",
        counterparty_name="Acme GmbH",
        counterparty_iban="DE02120300000000202051",
        transaction_code="NTRF",
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def store(*lines: BankTransaction, due_at: datetime | None = None) -> list[BankTransaction]:
    work = UnitOfWork("lines")
    for number, line in enumerate(lines, start=1):
        work.add(
            lambda write, line=line, number=number: repo.stage_new_transaction(
                write, line, number, due_at=due_at
            )
        )
    work.commit()
    return [replace(line, version=1) for line in lines]


# --------------------------------------------------------------------------- accounts


def test_an_account_claims_its_identification_and_the_operating_currency() -> None:
    # Given an operating account
    t = a_tenant()
    first = repo.create_account(an_account(t, operating=True))
    assert first.version == 1
    # When the same IBAN (written another way) is created again, or a second operating EUR account
    with pytest.raises(ConflictError) as same_iban:
        repo.create_account(an_account(t, iban="DE89370400440532013000"))
    with pytest.raises(ConflictError) as second_operating:
        repo.create_account(an_account(t, iban="DE02120300000000202051", operating=True))
    # Then each names the field and the holder, and nothing of the refused ones was written
    assert same_iban.value.field == "iban" and same_iban.value.details == {
        "existing_id": first.bank_account_id
    }
    assert second_operating.value.field == "operating"
    assert second_operating.value.details == {"existing_id": first.bank_account_id}
    assert [a.bank_account_id for a in repo.list_accounts(t, limit=10, starting_after=None).items] == [
        first.bank_account_id
    ]
    # And the account is found by its identification however it is spaced or cased
    found = repo.account_by_identification(t, "de89 3704 0044 0532 0130 00")
    assert found == first
    assert repo.account_by_identification(a_tenant(), "DE89370400440532013000") is None


def test_another_tenant_never_finds_an_account_and_an_other_identification_is_claimed_too() -> None:
    t = a_tenant()
    other = repo.create_account(an_account(t, iban=None))
    assert repo.account_by_identification(t, "1234567") == other
    with pytest.raises(ConflictError) as taken:
        repo.create_account(an_account(t, iban=None))
    assert taken.value.field == "account"
    with pytest.raises(NotFoundError):
        repo.get_account(a_tenant(), other.bank_account_id)


def test_an_update_is_versioned_and_moves_the_operating_claim() -> None:
    t = a_tenant()
    first = repo.create_account(an_account(t, operating=True))
    second = repo.create_account(an_account(t, iban="DE02120300000000202051"))
    # When the first stops being the operating account, the second may become it
    later = NOW + timedelta(hours=1)
    renamed = repo.update_account(first, replace(first, name="Old main", operating=False, updated_at=later))
    assert (renamed.name, renamed.operating, renamed.version) == ("Old main", False, 2)
    promoted = repo.update_account(second, replace(second, operating=True, updated_at=later))
    assert promoted.operating
    # And a change on a stale version is a conflict that writes nothing
    with pytest.raises(ConflictError) as stale:
        repo.update_account(first, replace(first, name="Lost", updated_at=later))
    assert stale.value.field == "version"
    assert repo.get_account(t, first.bank_account_id).name == "Old main"
    # And the first cannot take the operating claim back while the second holds it
    with pytest.raises(ConflictError) as taken:
        repo.update_account(renamed, replace(renamed, operating=True, updated_at=later))
    assert taken.value.details == {"existing_id": second.bank_account_id}


def test_a_balance_moves_forward_only_and_never_conflicts_with_a_patch() -> None:
    t = a_tenant()
    account = repo.create_account(an_account(t))
    march = date(2026, 3, 1)
    UnitOfWork("balance").add(lambda w: repo.stage_account_balance(w, account, 98700, march, NOW)).commit()
    # An older statement's balance fails the unit of work (the service stages only newer ones)
    with pytest.raises(ConflictError):
        UnitOfWork("balance").add(
            lambda w: repo.stage_account_balance(w, account, 1, date(2026, 2, 1), NOW)
        ).commit()
    stored = repo.get_account(t, account.bank_account_id)
    assert (stored.balance, stored.balance_date, stored.version) == (98700, march, 1)
    # A PATCH on the version read before the balance arrived still succeeds and keeps the balance
    patched = repo.update_account(account, replace(account, name="Renamed", updated_at=NOW))
    assert (patched.name, patched.balance, patched.balance_date) == ("Renamed", 98700, march)


# --------------------------------------------------------------------------- statements and lines


def test_a_statement_is_claimed_once_and_listed_newest_first() -> None:
    t = a_tenant()
    ba = new_id("bank_account")
    older = a_statement(t, ba, to_date=date(2026, 2, 28))
    newer = a_statement(t, ba, to_date=date(2026, 3, 1))
    for statement, key in ((older, "STMT-1#2026-02-28"), (newer, "STMT-2#2026-03-01")):
        UnitOfWork("statement").add(lambda w, s=statement, k=key: repo.stage_statement(w, s, k)).commit()
    # The same statement again (same account, kind and key) fails whole
    again = a_statement(t, ba, to_date=date(2026, 2, 28))
    with pytest.raises(ConflictError):
        UnitOfWork("statement").add(lambda w: repo.stage_statement(w, again, "STMT-1#2026-02-28")).commit()
    with pytest.raises(NotFoundError):
        repo.get_statement(t, again.statement_id)
    assert repo.statement_claim(t, ba, "statement", "STMT-1#2026-02-28") == older.statement_id
    assert repo.statement_claim(t, ba, "intraday", "STMT-1#2026-02-28") is None
    # Counts change by ADD
    UnitOfWork("counts").add(
        lambda w: repo.stage_statement_counts(w, t, older.statement_id, matched=2, unmatched=-2)
    ).commit()
    assert repo.get_statement(t, older.statement_id) == replace(older, matched=2, unmatched=0)
    # Newest to_date first, all or one account's
    listed = repo.list_statements(t, bank_account_id=None, limit=1, starting_after=None)
    assert [s.statement_id for s in listed.items] == [newer.statement_id]
    rest = repo.list_statements(t, bank_account_id=None, limit=5, starting_after=listed.next_cursor)
    assert [s.statement_id for s in rest.items] == [older.statement_id]
    by_account = repo.list_statements(t, bank_account_id=ba, limit=5, starting_after=None)
    assert len(by_account.items) == 2
    assert repo.list_statements(t, bank_account_id="ba_other", limit=5, starting_after=None).items == []
    with pytest.raises(NotFoundError):
        repo.get_statement(a_tenant(), older.statement_id)


def test_an_import_record_round_trips() -> None:
    t = a_tenant()
    bsi = new_id("bank_import")
    UnitOfWork("import").add(
        lambda w: repo.stage_import(w, bsi, t, "mt940", "ab" * 32, ["bst_1", "bst_2"], NOW)
    ).commit()
    stored = repo.get_import(t, bsi)
    assert (stored.format, stored.statement_ids, stored.created_at) == ("mt940", ("bst_1", "bst_2"), NOW)
    with pytest.raises(NotFoundError):
        repo.get_import(a_tenant(), bsi)


def test_a_bank_line_is_stored_once_and_round_trips_with_what_cashline_made_of_it() -> None:
    t = a_tenant()
    proposal = Proposal(
        rule=MatchRule.CREDITOR_REFERENCE,
        score=92,
        targets=(
            MatchTarget(TargetType.INVOICE, "inv_1", 12000, "INV-7034"),
            MatchTarget(TargetType.FEES, "fees", 345),
        ),
        counterparty_id="cp_1",
        discrepancies=(
            Discrepancy(DiscrepancyKind.UNDERPAID, 345, "EUR", ShortfallCause.BANK_FEES, "short", "inv_1"),
        ),
        reason="RF18 names INV-7034",
    )
    line = replace(
        a_line(t, "ba_1", "bst_1"),
        status=TransactionStatus.MATCHED,
        proposals=(proposal,),
        match=proposal,
        matched_by="auto",
        payment_ids=("pay_1",),
        discrepancies=proposal.discrepancies,
        history=(HistoryEntry(NOW, "auto_matched", "auto", "score 92"),),
    )
    (stored,) = store(line)
    assert repo.get_transaction(t, line.transaction_id) == stored
    assert repo.lines_seen(t, "ba_1", [line.fingerprint, "unknown"]) == {
        line.fingerprint: line.transaction_id
    }
    # The same line (same fingerprint) under another id fails whole: nothing of the batch is written
    twin = replace(a_line(t, "ba_1", "bst_1"), fingerprint=line.fingerprint)
    innocent = a_line(t, "ba_1", "bst_1")
    with pytest.raises(ConflictError):
        store(innocent, twin)
    for absent in (twin, innocent):
        with pytest.raises(NotFoundError):
            repo.get_transaction(t, absent.transaction_id)
    # The same fingerprint on another account or tenant is another line
    assert repo.lines_seen(t, "ba_2", [line.fingerprint]) == {}
    assert repo.lines_seen(a_tenant(), "ba_1", [line.fingerprint]) == {}
    with pytest.raises(NotFoundError):
        repo.get_transaction(a_tenant(), line.transaction_id)


def test_lines_seen_reads_more_than_one_batch() -> None:
    t = a_tenant()
    lines = [a_line(t, "ba_1", "bst_1") for _ in range(130)]
    for start in range(0, len(lines), 40):  # the service writes chunks of <= 40 lines per transaction
        store(*lines[start : start + 40])
    fingerprints = [line.fingerprint for line in lines] + [f"new-{n}" for n in range(20)]
    seen = repo.lines_seen(t, "ba_1", fingerprints)
    assert seen == {line.fingerprint: line.transaction_id for line in lines}


def test_a_change_is_versioned_and_moves_the_line_between_status_lists() -> None:
    t = a_tenant()
    (line,) = store(a_line(t, "ba_1", "bst_1"))
    unmatched = TransactionFilter(status=TransactionStatus.UNMATCHED)
    assert [
        x.transaction_id for x in repo.list_transactions(t, unmatched, limit=5, starting_after=None).items
    ] == [line.transaction_id]
    # When it is matched on the version read
    matched = replace(
        line, status=TransactionStatus.MATCHED, matched_by="auto", updated_at=NOW + timedelta(minutes=1)
    )
    saved = repo.save_transaction(line, matched)
    assert saved.version == 2 and repo.get_transaction(t, line.transaction_id) == saved
    # Then it left the unmatched list for the matched one (all and per account)
    assert repo.list_transactions(t, unmatched, limit=5, starting_after=None).items == []
    per_account = TransactionFilter(status=TransactionStatus.MATCHED, bank_account_id="ba_1")
    assert [
        x.transaction_id for x in repo.list_transactions(t, per_account, limit=5, starting_after=None).items
    ] == [line.transaction_id]
    # And a change on the stale version is refused, writing nothing
    with pytest.raises(ConflictError):
        repo.save_transaction(line, replace(line, status=TransactionStatus.IGNORED, ignore_reason="x"))
    assert repo.get_transaction(t, line.transaction_id).status is TransactionStatus.MATCHED
    # And cleared fields are removed, not kept
    back = repo.save_transaction(saved, replace(saved, status=TransactionStatus.UNMATCHED, matched_by=None))
    assert repo.get_transaction(t, line.transaction_id) == back and back.matched_by is None


def _ids(t: str, flt: TransactionFilter, limit: int = 50) -> list[str]:
    return [x.transaction_id for x in repo.list_transactions(t, flt, limit=limit, starting_after=None).items]


def test_the_list_picks_an_index_per_filter_and_filters_the_rest() -> None:
    t = a_tenant()
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    a1 = a_line(t, "ba_1", "bst_1", amount=1000, booked=d1)
    a2 = a_line(t, "ba_1", "bst_1", amount=2000, booked=d2, direction=Direction.DEBIT)
    a3 = a_line(t, "ba_1", "bst_2", amount=3000, booked=d3, status=TransactionStatus.SUGGESTED)
    b1 = a_line(t, "ba_2", "bst_3", amount=2000, booked=d2)
    store(a1, a2)  # lines 1, 2 of bst_1
    store(a3)
    store(b1)
    assert bank_queries.plan(t, TransactionFilter(statement_id="bst_1")).index == "gsi3"
    assert _ids(t, TransactionFilter(statement_id="bst_1")) == [
        a1.transaction_id,
        a2.transaction_id,
    ]  # file order
    newest_first = _ids(t, TransactionFilter())
    assert (
        newest_first[0] == a3.transaction_id
        and newest_first[-1] == a1.transaction_id
        and len(newest_first) == 4
    )
    assert set(_ids(t, TransactionFilter(bank_account_id="ba_1"))) == {
        a1.transaction_id,
        a2.transaction_id,
        a3.transaction_id,
    }
    assert _ids(t, TransactionFilter(status=TransactionStatus.SUGGESTED)) == [a3.transaction_id]
    assert _ids(t, TransactionFilter(status=TransactionStatus.UNMATCHED, bank_account_id="ba_2")) == [
        b1.transaction_id
    ]
    assert set(_ids(t, TransactionFilter(first=d2, last=d2))) == {a2.transaction_id, b1.transaction_id}
    assert _ids(t, TransactionFilter(statement_id="bst_1", first=d2)) == [a2.transaction_id]
    assert _ids(t, TransactionFilter(amount_min=1500, amount_max=2500, direction=Direction.CREDIT)) == [
        b1.transaction_id
    ]
    assert _ids(t, TransactionFilter(statement_id="bst_1", status=TransactionStatus.SUGGESTED)) == []
    assert _ids(a_tenant(), TransactionFilter()) == []


def test_the_cursor_pages_through_and_refuses_another_list() -> None:
    t = a_tenant()
    lines = [a_line(t, "ba_1", "bst_1", booked=date(2026, 3, 1) + timedelta(days=n)) for n in range(7)]
    store(*lines)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = repo.list_transactions(t, TransactionFilter(), limit=3, starting_after=cursor)
        seen += [x.transaction_id for x in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [line.transaction_id for line in reversed(lines)]
    first_page = repo.list_transactions(t, TransactionFilter(), limit=3, starting_after=None)
    with pytest.raises(ValidationError) as foreign:
        repo.list_transactions(
            a_tenant(), TransactionFilter(), limit=3, starting_after=first_page.next_cursor
        )
    assert foreign.value.field == "starting_after"
    with pytest.raises(ValidationError):
        repo.list_transactions(
            t, TransactionFilter(bank_account_id="ba_1"), limit=3, starting_after=first_page.next_cursor
        )


def test_a_page_examines_a_bounded_number_of_items(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 12 lines of which only the oldest passes the amount filter, and a budget of 5 examined
    monkeypatch.setattr(bank_queries, "MAX_EXAMINED_PER_PAGE", 5)
    monkeypatch.setattr(bank_queries, "FILTERED_REQUEST_SIZE", 2)
    t = a_tenant()
    lines = [
        a_line(t, "ba_1", "bst_1", amount=100, booked=date(2026, 3, 1) + timedelta(days=n)) for n in range(12)
    ]
    lines[0] = replace(lines[0], amount=999)
    store(*lines)
    flt = TransactionFilter(amount_min=500)
    # Then each page stops after 5 examined, empty but with a cursor, until the match is reached
    pages = []
    cursor: str | None = None
    while True:
        page = repo.list_transactions(t, flt, limit=10, starting_after=cursor)
        pages.append([x.transaction_id for x in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [[], [], [lines[0].transaction_id]]


# ---------------------------------------------------------------- due, totals, discrepancies, settings


def test_a_line_waits_on_the_bank_match_due_index_until_it_is_matched() -> None:
    t = a_tenant()
    due_at = datetime(2001, 1, 1, tzinfo=UTC)  # long before any other test's due items
    (line,) = store(a_line(t, "ba_1", "bst_1"), due_at=due_at)
    assert line.transaction_id not in [
        x.transaction_id for x in repo.due_transactions(due_at - timedelta(seconds=1), limit=500)
    ]
    due = [x for x in repo.due_transactions(due_at, limit=500) if x.transaction_id == line.transaction_id]
    assert due == [line]
    # One worker takes it; a second with the same version does not
    taken = repo.lease_transaction(line, until=due_at + timedelta(minutes=5), now=due_at)
    assert taken is not None and taken.version == 2
    assert repo.lease_transaction(line, until=due_at + timedelta(minutes=5), now=due_at) is None
    # Matched: off the index
    repo.save_transaction(taken, replace(taken, status=TransactionStatus.MATCHED), due_at=None)
    later = due_at + timedelta(days=1)
    assert line.transaction_id not in [x.transaction_id for x in repo.due_transactions(later, limit=500)]


def test_day_totals_only_add_and_are_read_in_one_range() -> None:
    t = a_tenant()
    # The record declares exactly the counters the repository accepts
    declared = {name for name in ReconciliationTotalsRecord.get_attributes() if name in TOTALS_COUNTERS}
    assert declared == set(TOTALS_COUNTERS)
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    imported = {"lines": 2, "credit_amount": 5000, "open_count": 2, "open_amount": 5000}
    UnitOfWork("totals").add(lambda w: repo.stage_totals(w, t, "ba_1", d1, "EUR", imported)).commit()
    UnitOfWork("totals").add(
        lambda w: repo.stage_totals(
            w,
            t,
            "ba_1",
            d1,
            "EUR",
            {"open_count": -1, "open_amount": -3000, "auto_count": 1, "auto_amount": 3000},
        )
    ).commit()
    UnitOfWork("totals").add(
        lambda w: repo.stage_totals(w, t, "ba_1", d2, "USD", {"disc_underpaid_count": 1})
    ).commit()
    days = repo.totals(t, "ba_1", d1, d2)
    assert [(d.day, d.currency) for d in days] == [(d1, "EUR"), (d2, "USD")]
    assert days[0].counters == {
        "lines": 2,
        "credit_amount": 5000,
        "open_count": 1,
        "open_amount": 2000,
        "auto_count": 1,
        "auto_amount": 3000,
    }
    assert repo.totals(t, "ba_1", d2, d2)[0].counters == {"disc_underpaid_count": 1}
    assert repo.totals(t, "ba_2", d1, d2) == [] and repo.totals(a_tenant(), "ba_1", d1, d2) == []
    with pytest.raises(ValueError, match="unknown"):
        UnitOfWork("totals").add(
            lambda w: repo.stage_totals(w, t, "ba_1", d1, "EUR", {"matched": 1})
        ).commit()


def test_discrepancies_are_listed_by_status_and_resolved_on_their_version() -> None:
    t = a_tenant()
    flagged = StoredDiscrepancy(
        discrepancy_id=new_id("bank_discrepancy"),
        tenant_id=t,
        bank_account_id="ba_1",
        bank_transaction_id="btx_1",
        payment_id=None,
        discrepancy=Discrepancy(
            DiscrepancyKind.OVERPAID, 500, "EUR", detail="kept as credit", target_id="inv_1"
        ),
        status="open",
        at=NOW,
    )
    UnitOfWork("disc").add(lambda w: repo.stage_discrepancy(w, flagged)).commit()
    stored = repo.get_discrepancy(t, flagged.discrepancy_id)
    assert stored == replace(flagged, version=1)
    assert repo.list_discrepancies(t, status="open", limit=5, starting_after=None).items == [stored]
    resolved = repo.resolve_discrepancy(stored, NOW + timedelta(hours=1))
    assert resolved.status == "resolved" and resolved.version == 2
    assert repo.list_discrepancies(t, status="open", limit=5, starting_after=None).items == []
    assert repo.list_discrepancies(t, status="resolved", limit=5, starting_after=None).items == [resolved]
    with pytest.raises(ConflictError):
        repo.resolve_discrepancy(stored, NOW)
    with pytest.raises(NotFoundError):
        repo.get_discrepancy(a_tenant(), flagged.discrepancy_id)


def test_settings_default_then_save_on_their_version() -> None:
    t = a_tenant()
    defaults = repo.get_settings(t)
    assert defaults == ReconciliationSettings(auto_match_threshold=90, not_in_bank_days=5, version=0)
    saved = repo.update_settings(t, replace(defaults, auto_match_threshold=95), NOW)
    assert repo.get_settings(t) == saved == ReconciliationSettings(95, 5, 1)
    with pytest.raises(ConflictError):
        repo.update_settings(t, replace(defaults, not_in_bank_days=3), NOW)  # stale: version 0
    assert repo.get_settings(a_tenant()).version == 0


def test_a_line_rescheduled_stays_due_at_its_new_instant_and_nothing_asked_reads_nothing() -> None:
    t = a_tenant()
    first_due = datetime(2001, 2, 1, tzinfo=UTC)
    (line,) = store(a_line(t, "ba_1", "bst_1"), due_at=first_due)
    later = first_due + timedelta(hours=2)
    suggested = repo.save_transaction(line, replace(line, status=TransactionStatus.SUGGESTED), due_at=later)

    def due_ids(at: datetime) -> list[str]:
        return [x.transaction_id for x in repo.due_transactions(at, limit=500)]

    assert line.transaction_id not in due_ids(first_due)
    assert line.transaction_id in due_ids(later)
    assert repo.get_transaction(t, line.transaction_id) == suggested
    assert repo.lines_seen(t, "ba_1", []) == {}
    UnitOfWork("nothing").add(
        lambda w: repo.stage_totals(w, t, "ba_1", date(2026, 3, 1), "EUR", {"lines": 0})
    ).add(
        lambda w: repo.stage_statement_counts(w, t, "bst_1")
    ).commit()  # nothing to write: no item is created
    assert repo.totals(t, "ba_1", date(2026, 3, 1), date(2026, 3, 1)) == []
