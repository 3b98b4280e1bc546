"""`cashline backfill-bank-lookups` against DynamoDB Local: counterparties and payouts stored the way
they were before bank reconciliation (their records only, without the IBAN and amount lookups) get
exactly the lookups new ones get; a second run adds nothing; matching's lookups then find them; a
tenant not named is left untouched. Instants are fixed, never the wall clock."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cashline.dal.bank_backfill import absent, all_tenant_ids, counterparty_iban_pages, put_if_absent
from cashline.dal.bank_candidates import StoredCandidates
from cashline.dal.bank_records import CounterpartyIbanRecord
from cashline.dal.party_repository import profile_record
from cashline.dal.payment_repository import payment_record
from cashline.dal.table import CashlineItem
from cashline.domain.payments import Direction as PaymentDirection
from cashline.domain.payments import Payment, PaymentKind, PaymentSource, PaymentStatus
from cashline.ids import new_id
from cashline.services.access import TenantSettings, create_tenant
from cashline.services.bank.backfill import LookupCount, backfill_bank_lookups, backfill_tenant
from tests.bank_setup import a_counterparty

pytestmark = pytest.mark.usefixtures("local_cloud")

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
IBAN = "DE02 1203 0000 0000 2020 51"


def a_payment(tenant_id: str, kind: PaymentKind, amount: int) -> Payment:
    return Payment(
        id=new_id("payment"),
        tenant_id=tenant_id,
        direction=PaymentDirection.RECEIVABLE if kind is PaymentKind.PAYOUT else PaymentDirection.PAYABLE,
        source=PaymentSource.STRIPE,
        source_reference=f"po_{amount}",
        kind=kind,
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency="EUR",
        value_date=TODAY,
        created_at=NOW,
        updated_at=NOW,
    )


def old_books(tenant_id: str) -> dict[str, str]:
    """Written the old way: the profile and payment records only, none of the lookup items. Two
    counterparties with an IBAN, one without; a payout, a refund, and a card payment (no lookup)."""
    with_iban = a_counterparty(tenant_id, IBAN, now=NOW)
    other = replace(a_counterparty(tenant_id, "FR7630006000011234567890189", now=NOW), name="Bravo SA")
    without = replace(a_counterparty(tenant_id, None, now=NOW), name="Charlie AG")
    payout = a_payment(tenant_id, PaymentKind.PAYOUT, 98_000)
    refund = a_payment(tenant_id, PaymentKind.REFUND, 4_500)
    card = replace(a_payment(tenant_id, PaymentKind.PAYMENT, 12_000), direction=PaymentDirection.RECEIVABLE)
    for counterparty in (with_iban, other, without):
        profile_record(counterparty).save()
    for payment in (payout, refund, card):
        payment_record(payment).save()
    return {"counterparty": with_iban.counterparty_id, "payout": payout.id, "refund": refund.id}


def lookups_of(tenant_id: str) -> set[tuple[str, str]]:
    """The tenant's lookup items of the two kinds (by their exact keys)."""
    found: set[tuple[str, str]] = set()
    for pk in (
        f"T#{tenant_id}#CPIBAN#DE02120300000000202051",
        f"T#{tenant_id}#CPIBAN#FR7630006000011234567890189",
        f"T#{tenant_id}#PAYAMT#payout#EUR#98000",
        f"T#{tenant_id}#PAYAMT#refund#EUR#4500",
        f"T#{tenant_id}#PAYAMT#payment#EUR#12000",
    ):
        found |= {(item.pk, item.sk) for item in CashlineItem.query(pk, consistent_read=True)}
    return found


def test_the_backfill_adds_exactly_the_missing_lookups_and_a_second_run_nothing() -> None:
    t = new_id("tenant")
    known = old_books(t)
    books = StoredCandidates(t)
    assert (
        books.counterparty_of_iban(IBAN) is None and books.payments_near("payout", "EUR", 98_000, TODAY) == []
    )

    (dry,) = backfill_bank_lookups([t], dry_run=True)
    assert dry.lookups == {
        "counterparty_iban": LookupCount(needed=2, missing=2, written=0),
        "payment_amount": LookupCount(needed=2, missing=2, written=0),
    }
    assert lookups_of(t) == set()  # a dry run writes nothing

    (first,) = backfill_bank_lookups([t], dry_run=False)
    assert {name: c.written for name, c in first.lookups.items()} == {
        "counterparty_iban": 2,
        "payment_amount": 2,
    }
    assert len(lookups_of(t)) == 4  # no lookup for the card payment, none for the counterparty without IBAN
    (again,) = backfill_bank_lookups([t], dry_run=False)
    assert again.lookups == {
        "counterparty_iban": LookupCount(needed=2, missing=0, written=0),
        "payment_amount": LookupCount(needed=2, missing=0, written=0),
    }

    assert books.counterparty_of_iban(IBAN) == known["counterparty"]
    (payout,) = books.payments_near("payout", "EUR", 98_000, TODAY)
    (refund,) = books.payments_near("refund", "EUR", 4_500, TODAY)
    assert (payout.payment_id, refund.payment_id) == (known["payout"], known["refund"])


def test_an_existing_lookup_is_left_as_it_is() -> None:
    t = new_id("tenant")
    known = old_books(t)
    learned = CounterpartyIbanRecord(
        pk=f"T#{t}#CPIBAN#DE02120300000000202051",
        sk=known["counterparty"],
        counterparty_id=known["counterparty"],
        source="learned",
        created_at=NOW,
        updated_at=NOW,
    )
    learned.save()
    (result,) = backfill_bank_lookups([t], dry_run=False)
    assert result.lookups["counterparty_iban"] == LookupCount(needed=2, missing=1, written=1)
    kept = CounterpartyIbanRecord.get(learned.pk, learned.sk, consistent_read=True)
    assert kept.source == "learned"
    # And a lookup put between the read and the write (another writer) is left too, not counted
    (page,) = list(counterparty_iban_pages(t))
    assert absent(page) == [] and [put_if_absent(lookup) for lookup in page] == [False, False]


def test_naming_one_tenant_leaves_another_untouched() -> None:
    t, other = new_id("tenant"), new_id("tenant")
    old_books(t)
    old_books(other)
    backfill_bank_lookups([t], dry_run=False)
    assert len(lookups_of(t)) == 4 and lookups_of(other) == set()


def test_pages_are_followed_to_the_end() -> None:
    """More counterparties than one page (the source's pages are read until the last)."""
    t = new_id("tenant")
    for n in range(105):
        profile_record(replace(a_counterparty(t, f"DE{n:020d}", now=NOW), name=f"Party {n:03d}")).save()
    result = backfill_tenant(
        t,
        {"counterparty_iban": counterparty_iban_pages},
        absent=absent,
        put_if_absent=put_if_absent,
        dry_run=False,
    )
    assert result.lookups["counterparty_iban"] == LookupCount(needed=105, missing=105, written=105)


def test_all_tenants_are_found_by_the_operator_scan() -> None:
    tenant = create_tenant(
        TenantSettings(name="Backfill GmbH", country="DE", base_currency="EUR", timezone="Europe/Berlin"),
        now=NOW,
    )
    assert tenant.tenant_id in set(all_tenant_ids())


def _cashline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud.cli", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_counts_on_a_dry_run_then_writes_for_the_named_tenant() -> None:
    tenant = create_tenant(
        TenantSettings(name="Old Books GmbH", country="DE", base_currency="EUR", timezone="Europe/Berlin"),
        now=NOW,
    )
    old_books(tenant.tenant_id)
    dry = _cashline("backfill-bank-lookups", tenant.tenant_id, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == "tenants: 1  missing: 4  written: 0  (dry run)"
    done = _cashline("backfill-bank-lookups", tenant.tenant_id)
    again = _cashline("backfill-bank-lookups", tenant.tenant_id)
    assert done.stdout.splitlines()[-1] == "tenants: 1  missing: 4  written: 4", done.stderr
    assert again.stdout.splitlines()[-1] == "tenants: 1  missing: 0  written: 0"


@pytest.mark.parametrize("args", [(), ("ten_x", "--all-tenants")])
def test_neither_or_both_of_a_tenant_and_all_tenants_is_a_usage_error(args: tuple[str, ...]) -> None:
    done = _cashline("backfill-bank-lookups", *args)
    assert done.returncode == 2 and "--all-tenants" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_tenant_says_so() -> None:
    done = _cashline("backfill-bank-lookups", "ten_doesnotexist")
    assert done.returncode == 1 and "not_found" in done.stderr and done.stdout == ""
