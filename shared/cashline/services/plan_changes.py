"""A financing plan's change written with what moves with it, in one transaction: the installments
cancelled or added, and the financed bill's change or the day totals alone (cancel before payout,
early repayment, payout).

Its own module so the debit sweeps and payment webhooks compose a plan change without importing the
bank calendars (`holidays`) that quoting a plan needs (services/financing.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cashline.dal.daily_totals import DayDelta, apply_in
from cashline.dal.financing_repository import PLAN_CONFLICT, FinancingRepository
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.transactions import Stage, UnitOfWork
from cashline.domain.invoices import Invoice, InvoiceEvent
from cashline.domain.plans import Installment, Plan

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

plans = FinancingRepository()
invoices = InvoiceRepository()


def change_plan(
    before: Plan,
    after: Plan,
    changes: Sequence[tuple[Installment, datetime | None]],
    *,
    days: list[DayDelta],
    invoice_change: tuple[Invoice, Invoice, InvoiceEvent] | None,
    now: datetime,
    overdue_instant: datetime | None = None,
) -> None:
    """The plan, the installments cancelled or added with it (each with its next debit instant or
    None) and the bill's change or the day totals alone, in one transaction: cancel, early repayment,
    payout. The bill's change carries the day totals (a transaction may touch a day item only once)."""
    work = UnitOfWork(PLAN_CONFLICT).add(
        lambda write: plans.stage_plan_change(write, before, after, changes, now)
    )
    if invoice_change is None:
        work.add(lambda write: apply_in(write, days, now))
    else:
        work.add(bill_stage(invoice_change, overdue_instant=overdue_instant, days=days))
    work.commit()


def bill_stage(
    change: tuple[Invoice, Invoice, InvoiceEvent], *, overdue_instant: datetime | None, days: list[DayDelta]
) -> Stage:
    """The bill's change with the installments' day totals merged into its own."""

    def stage(write: TransactWrite) -> None:
        invoices.stage_change(write, *change, overdue_instant=overdue_instant, extra_days=days)

    return stage
