"""The `payout_bank_check` sweep: every "not in bank" check due at the tick (every tenant) is decided
by services.bank.discrepancy_checks.check_not_in_bank: flagged once as a NOT_IN_BANK discrepancy,
postponed, or dropped.

Reads only what is due (dal.due: one Query per shard of the sparse index), then per item a GetItem of
the payment, and once per tenant per run its reconciliation settings and the tenant (its time zone);
flagging is one TransactWriteItems of two items. A check changed meanwhile (a bank line matched the
payout, another sweep flagged it) is a ConflictError and is skipped: nothing of it was written.
"""

from __future__ import annotations

from datetime import date, datetime

from cashline.dal.bank_checks import NOT_IN_BANK_JOB, StoredBankChecks, due_bank_check, due_bank_checks
from cashline.dal.table import CashlineItem
from cashline.domain.access import Tenant, today_for
from cashline.domain.bank.bank_checks import BankCheck
from cashline.domain.payments import Payment
from cashline.errors import ConflictError
from cashline.observability import logger
from cashline.services.bank.discrepancy_checks import BankCheckStore, check_not_in_bank
from cashline.services.bank.match_money import reconciled_by
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

SWEEP_SCHEDULE = "payout_bank_check"
# The function's timeout is 300 s (functions/.chalice/config.json): stop in time, the next tick goes on.
SWEEP_TIME_BUDGET_S = 240.0


class _AwaitedChecks(StoredBankChecks):
    """The stored checks, with the tenant's business day from its time zone, and a payment a bank
    line reconciled already counted as no longer awaited (dropped, never flagged): a safety net for
    a match whose transaction did not delete the check."""

    def __init__(self) -> None:
        super().__init__(self._business_day_of)
        self._tenants: dict[str, Tenant] = {}  # read once per tenant per run
        self._days: dict[str, int] = {}

    def _business_day_of(self, tenant_id: str, now: datetime) -> date:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = tenants.get(tenant_id)
        return today_for(tenant, now)

    def not_in_bank_days(self, tenant_id: str) -> int:
        if tenant_id not in self._days:
            self._days[tenant_id] = super().not_in_bank_days(tenant_id)
        return self._days[tenant_id]

    def payment(self, tenant_id: str, payment_id: str) -> Payment | None:
        found = super().payment(tenant_id, payment_id)
        return None if found is None or reconciled_by(found) is not None else found


def check_due(now: datetime) -> int:
    """Decide every check due at `now` (every tenant); returns how many were flagged."""
    store = _AwaitedChecks()
    return sum(_decide(check, store, now) for check in due_bank_checks(now))


def run_bank_check(*, tick_at: datetime, worker: str) -> SweepResult:
    """The payout_bank_check schedule's sweep (claims the tick once; services.sweeps)."""
    store = _AwaitedChecks()

    def handle(item: CashlineItem) -> bool:
        check = due_bank_check(item)
        return check is not None and _decide(check, store, tick_at)

    return sweep(
        schedule=SWEEP_SCHEDULE,
        job=NOT_IN_BANK_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=handle,
        time_budget_s=SWEEP_TIME_BUDGET_S,
    )


def _decide(check: BankCheck, store: BankCheckStore, now: datetime) -> bool:
    """Whether this check was flagged now."""
    try:
        outcome = check_not_in_bank(check, store=store, now=now)
    except ConflictError:
        logger.info("bank check changed meanwhile; skipped", payment_id=check.payment_id)
        return False
    if outcome.discrepancy is not None:
        logger.info(
            "payment not in bank",
            tenant_id=check.tenant_id,
            payment_id=check.payment_id,
            discrepancy_id=outcome.discrepancy.discrepancy_id,
        )
    return outcome.action == "flagged"
