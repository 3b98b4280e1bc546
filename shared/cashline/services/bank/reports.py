"""The reconciliation report and the discrepancies list.

The report is summed from the reconciliation day totals only (`T#<t>#RECON#<ba>`, one Query per
account for the days asked): lines in, credits and debits, and the lines matched automatically, by a
person, ignored and still open, with their amounts, and the discrepancies by kind. No bank line is
listed, so its cost does not grow with the number of lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from cashline.dal.bank_repository import DayTotals, StoredDiscrepancy, bank
from cashline.dal.pagination import Page
from cashline.domain.access import today_for
from cashline.domain.bank.reconciliation import BankAccount, DiscrepancyKind
from cashline.errors import NotFoundError, UnprocessableError
from cashline.ids import is_id_of
from cashline.services.tenancy import tenants

# The longest period one report sums: a year of days is one Query of at most 366 items per account.
MAX_REPORT_DAYS = 366
# A tenant's accounts the report reads (one page of the account list).
MAX_ACCOUNTS = 100
DISCREPANCY_STATUSES = frozenset({"open", "resolved"})


@dataclass(frozen=True)
class CountAmount:
    count: int = 0
    amount: int = 0  # minor units of the account's currency


@dataclass(frozen=True)
class AccountReconciliation:
    bank_account_id: str
    name: str
    currency: str
    balance: int | None
    balance_date: date | None
    lines: int
    credits: int  # money in, minor units
    debits: int  # money out, minor units (positive)
    matched_auto: CountAmount
    matched_person: CountAmount
    ignored: CountAmount
    open: CountAmount
    discrepancies: dict[DiscrepancyKind, CountAmount] = field(default_factory=dict)


@dataclass(frozen=True)
class ReconciliationReport:
    first: date
    last: date
    accounts: list[AccountReconciliation]


def reconciliation_report(
    tenant_id: str, *, first: date | None, last: date | None, bank_account_id: str | None, now: datetime
) -> ReconciliationReport:
    """Lines in, matched automatically, by a person, ignored and open, per account, for booking days
    `first`..`last` (both inclusive; by default from the 1st of the tenant's current month to its
    today), summed from the day totals. A line counts on its booking day in the bucket it is in now
    (a line imported in March and matched in April is matched in March)."""
    if first is None or last is None:
        today = today_for(tenants.get(tenant_id), now)
        last = last or today
        first = first or last.replace(day=1)
    if last < first:
        raise UnprocessableError("`to` is before `from`", field="to")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise UnprocessableError(f"a report covers at most {MAX_REPORT_DAYS} days", field="to")
    accounts = _accounts(tenant_id, bank_account_id)
    return ReconciliationReport(
        first=first,
        last=last,
        accounts=[
            _summed(account, bank.totals(tenant_id, account.bank_account_id, first, last))
            for account in accounts
        ],
    )


def list_discrepancies(
    tenant_id: str, *, status: str, limit: int, starting_after: str | None
) -> Page[StoredDiscrepancy]:
    """A page of the tenant's discrepancies (open or resolved), newest first."""
    if status not in DISCREPANCY_STATUSES:
        raise UnprocessableError("status is open or resolved", field="status")
    return bank.list_discrepancies(tenant_id, status=status, limit=limit, starting_after=starting_after)


def _accounts(tenant_id: str, bank_account_id: str | None) -> list[BankAccount]:
    if bank_account_id is not None:
        if not is_id_of("bank_account", bank_account_id):
            raise NotFoundError("bank account not found", field="bank_account_id")
        return [bank.get_account(tenant_id, bank_account_id)]
    return bank.list_accounts(tenant_id, limit=MAX_ACCOUNTS, starting_after=None).items


def _summed(account: BankAccount, days: list[DayTotals]) -> AccountReconciliation:
    """One account's days added up (only the account's own currency: a statement in another currency
    on the same account is not mixed into its amounts)."""
    sums: dict[str, int] = {}
    for day in days:
        if day.currency != account.currency:
            continue
        for name, value in day.counters.items():
            sums[name] = sums.get(name, 0) + value

    def pair(prefix: str) -> CountAmount:
        return CountAmount(count=sums.get(f"{prefix}_count", 0), amount=sums.get(f"{prefix}_amount", 0))

    return AccountReconciliation(
        bank_account_id=account.bank_account_id,
        name=account.name,
        currency=account.currency,
        balance=account.balance,
        balance_date=account.balance_date,
        lines=sums.get("lines", 0),
        credits=sums.get("credit_amount", 0),
        debits=sums.get("debit_amount", 0),
        matched_auto=pair("auto"),
        matched_person=pair("person"),
        ignored=pair("ignored"),
        open=pair("open"),
        discrepancies={
            kind: pair(f"disc_{kind.value}")
            for kind in DiscrepancyKind
            if sums.get(f"disc_{kind.value}_count")
        },
    )
