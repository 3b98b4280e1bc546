"""Counterparty risk: payment behaviour kept current as invoices are paid, promises broken and
invoices disputed (best effort, after the change itself committed: a lost update costs one data
point of an analytic, never money), and the list of those getting worse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

from cashline.dal.party_repository import CounterpartyRepository
from cashline.dal.risk_repository import Risk, RiskRepository, paid_entry
from cashline.domain.invoices import Invoice
from cashline.domain.risk import Assessment
from cashline.errors import ConflictError, NotFoundError
from cashline.ids import is_id_of
from cashline.observability import logger

risks = RiskRepository()
parties = CounterpartyRepository()
ATTEMPTS = 5


def _update(
    tenant_id: str, counterparty_id: str, change: str, now: datetime, apply: Callable[[Risk], Risk]
) -> None:
    for _ in range(ATTEMPTS):
        profile = parties.get_profile(tenant_id, counterparty_id)
        current = risks.get(tenant_id, counterparty_id, profile.name)
        try:
            risks.save(apply(replace(current, name=profile.name)), now)
            return
        except ConflictError:
            continue
    logger.warning("counterparty risk not updated", counterparty_id=counterparty_id, change=change)


def record_paid(tenant_id: str, invoice: Invoice, paid_on: date, now: datetime) -> None:
    """An invoice paid in full: how late (or early) it was paid joins the counterparty's history."""

    def apply(risk: Risk) -> Risk:
        if any(r["invoice_id"] == invoice.invoice_id for r in risk.recent):
            return risk  # paid, reopened by a refund and paid again: counted once
        entry = paid_entry(invoice.invoice_id, invoice.due_date, paid_on)
        return replace(
            risk,
            paid_invoices=risk.paid_invoices + 1,
            delay_days_total=risk.delay_days_total + int(entry["delay"]),
            recent=[*risk.recent, entry],
        )

    _update(tenant_id, invoice.counterparty_id, "paid", now, apply)


def record_event(tenant_id: str, counterparty_id: str, kind: str, now: datetime) -> None:
    """`broken_promise` or `dispute`."""

    def apply(risk: Risk) -> Risk:
        if kind == "broken_promise":
            return replace(risk, broken_promises=risk.broken_promises + 1)
        return replace(risk, disputes=risk.disputes + 1)

    _update(tenant_id, counterparty_id, kind, now, apply)


def counterparty_risk(tenant_id: str, counterparty_id: str) -> tuple[Risk, Assessment]:
    if not is_id_of("counterparty", counterparty_id):
        raise NotFoundError("counterparty not found", field="counterparty_id")
    profile = parties.get_profile(tenant_id, counterparty_id)
    risk = risks.get(tenant_id, counterparty_id, profile.name)
    return risk, risk.assessment()


def flagged(tenant_id: str, limit: int) -> list[tuple[Risk, Assessment]]:
    return [(r, r.assessment()) for r in risks.flagged(tenant_id, limit)]
