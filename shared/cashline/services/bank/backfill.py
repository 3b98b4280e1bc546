"""`cashline backfill-bank-lookups`: give counterparties and payments stored before bank
reconciliation the lookup items new ones get when written (the counterparty IBAN lookup
`T#<t>#CPIBAN#<iban>`, the payment amount lookup `T#<t>#PAYAMT#<kind>#<currency>#<amount>`), so the
payer-IBAN rule and the payout/refund rules see them.

Plain Python over the functions it is handed (defaults: dal.bank_backfill): each source yields a
tenant's lookups a page at a time (read by Query only); the absent ones are found with one BatchGet
per page and put with a condition (attribute_not_exists), so an existing lookup is left and a second
run writes nothing. Re-running is resuming: the pages already done cost one read each and no write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from cashline.dal import bank_backfill

T = TypeVar("T")


@dataclass
class LookupCount:
    """One kind of lookup of one tenant: how many its records need, how many were missing, and
    how many this run wrote (0 on a dry run; fewer than missing when a writer put one meanwhile)."""

    needed: int = 0
    missing: int = 0
    written: int = 0


@dataclass
class TenantBackfill:
    tenant_id: str
    lookups: dict[str, LookupCount] = field(default_factory=dict)


def backfill_tenant(
    tenant_id: str,
    sources: Mapping[str, Callable[[str], Iterable[Sequence[T]]]],
    *,
    absent: Callable[[Sequence[T]], list[T]],
    put_if_absent: Callable[[T], bool],
    dry_run: bool,
) -> TenantBackfill:
    """Each source's lookups of `tenant_id`, page by page: count the absent ones, put them unless
    `dry_run`."""
    result = TenantBackfill(tenant_id)
    for name, pages in sources.items():
        count = result.lookups.setdefault(name, LookupCount())
        for page in pages(tenant_id):
            count.needed += len(page)
            missing = absent(page)
            count.missing += len(missing)
            if not dry_run:
                count.written += sum(1 for lookup in missing if put_if_absent(lookup))
    return result


def backfill_bank_lookups(
    tenant_ids: Iterable[str],
    *,
    dry_run: bool,
    on_tenant: Callable[[TenantBackfill], None] = lambda _: None,
) -> list[TenantBackfill]:
    """Backfill both lookups for each tenant in turn, against the table (dal.bank_backfill);
    `on_tenant` hears each tenant as it is done (the CLI prints it: progress of a long run)."""
    sources = {
        "counterparty_iban": bank_backfill.counterparty_iban_pages,
        "payment_amount": bank_backfill.payment_amount_pages,
    }
    done = []
    for tenant_id in tenant_ids:
        result = backfill_tenant(
            tenant_id,
            sources,
            absent=bank_backfill.absent,
            put_if_absent=bank_backfill.put_if_absent,
            dry_run=dry_run,
        )
        on_tenant(result)
        done.append(result)
    return done
