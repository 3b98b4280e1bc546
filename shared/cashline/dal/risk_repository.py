"""A counterparty's payment behaviour: item `T#<tenant>#CP#<cp>` / `RISK`, changed read-modify-write on
its version (a paid invoice, a broken promise, a dispute), on the sparse index
`gsi1 T#<tenant>#RISK` / `<recent delay>#<cp>` while it is flagged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist

from cashline.dal.errors import storage_errors
from cashline.dal.party_records import counterparty_pk
from cashline.dal.table import CashlineItem
from cashline.domain.risk import RECENT, Assessment, assess

RISK_SK = "RISK"


class CounterpartyRiskRecord(CashlineItem, discriminator="counterparty_risk"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    name = UnicodeAttribute()
    paid_invoices = NumberAttribute(default=0)
    delay_days_total = NumberAttribute(default=0)
    recent = JSONAttribute(null=True)  # [{invoice_id, due_date, paid_on, delay}] oldest first, at most RECENT
    broken_promises = NumberAttribute(default=0)
    disputes = NumberAttribute(default=0)
    reasons = JSONAttribute(null=True)


@dataclass
class Risk:
    tenant_id: str
    counterparty_id: str
    name: str
    paid_invoices: int = 0
    delay_days_total: int = 0
    recent: list[dict[str, Any]] = field(default_factory=list)
    broken_promises: int = 0
    disputes: int = 0
    version: int = 0
    updated_at: datetime | None = None

    def assessment(self) -> Assessment:
        return assess([int(r["delay"]) for r in self.recent], self.broken_promises, self.disputes)


def _risk(r: CounterpartyRiskRecord) -> Risk:
    return Risk(
        tenant_id=r.tenant_id,
        counterparty_id=r.counterparty_id,
        name=r.name,
        paid_invoices=int(r.paid_invoices or 0),
        delay_days_total=int(r.delay_days_total or 0),
        recent=list(r.recent or []),
        broken_promises=int(r.broken_promises or 0),
        disputes=int(r.disputes or 0),
        version=int(r.version or 0),
        updated_at=r.updated_at,
    )


class RiskRepository:
    def get(self, tenant_id: str, counterparty_id: str, name: str) -> Risk:
        try:
            return _risk(
                CounterpartyRiskRecord.get(
                    counterparty_pk(tenant_id, counterparty_id), RISK_SK, consistent_read=True
                )
            )
        except DoesNotExist:
            return Risk(tenant_id=tenant_id, counterparty_id=counterparty_id, name=name)

    def many(self, tenant_id: str, counterparty_ids: list[str]) -> dict[str, Risk]:
        """Several counterparties' behaviour: BatchGetItem, 100 keys a call."""
        keys = [(counterparty_pk(tenant_id, cp), RISK_SK) for cp in dict.fromkeys(counterparty_ids)]
        found: dict[str, Risk] = {}
        for item in CounterpartyRiskRecord.batch_get(keys):
            found[item.counterparty_id] = _risk(item)
        return found

    def save(self, risk: Risk, now: datetime) -> Risk:
        assessment = risk.assessment()
        record = CounterpartyRiskRecord(
            pk=counterparty_pk(risk.tenant_id, risk.counterparty_id),
            sk=RISK_SK,
            tenant_id=risk.tenant_id,
            counterparty_id=risk.counterparty_id,
            name=risk.name,
            paid_invoices=risk.paid_invoices,
            delay_days_total=risk.delay_days_total,
            recent=risk.recent[-RECENT:],
            broken_promises=risk.broken_promises,
            disputes=risk.disputes,
            reasons=list(assessment.reasons) or None,
            created_at=now,
            updated_at=now,
        )
        if assessment.flagged:
            record.gsi1pk = f"T#{risk.tenant_id}#RISK"
            record.gsi1sk = (
                f"{int((assessment.recent_average_delay_days or 0) + 10_000):06d}#{risk.counterparty_id}"
            )
        if risk.version:
            record.version = risk.version
        with storage_errors("counterparty risk changed meanwhile"):
            record.save()
        return _risk(record)

    def flagged(self, tenant_id: str, limit: int) -> list[Risk]:
        results = CounterpartyRiskRecord.gsi1.query(
            f"T#{tenant_id}#RISK", scan_index_forward=False, limit=limit
        )
        return [_risk(item) for item in results if isinstance(item, CounterpartyRiskRecord)]


def paid_entry(invoice_id: str, due_date: date, paid_on: date) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "due_date": due_date.isoformat(),
        "paid_on": paid_on.isoformat(),
        "delay": (paid_on - due_date).days,
    }
