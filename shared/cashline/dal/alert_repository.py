"""The alert outbox: an alert is written in the same transaction as the change it reports, on the
`due` index, so it is delivered even when the process dies right after that change."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from cashline.dal.due import due_keys, lease
from cashline.dal.errors import storage_errors
from cashline.dal.payment_records import ALERT_SK, AlertRecord, alert_pk
from cashline.dal.table import CashlineItem

ALERT_JOB = "alert_delivery"
# A delivery that dies midway is taken again after this long.
ALERT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Alert:
    tenant_id: str
    alert_id: str
    alert_type: str  # invoice.overdue, debit.failed, payment.disputed, payment.received_large, mandate.ended
    detail: dict[str, Any]
    at: datetime
    status: str = "pending"  # pending: not on the event bus yet | published
    email_status: str | None = None  # sent | none (no finance contact)
    webhook_status: str | None = None  # delivered | retrying | failed | none
    webhook_attempts: int = 0
    last_error: str | None = None
    version: int = 0


def alerts_partition(tenant_id: str) -> str:
    """gsi1: a tenant's alerts, the latest last."""
    return f"T#{tenant_id}#ALERT"


def _record(alert: Alert, due_at: datetime | None) -> AlertRecord:
    record = AlertRecord(
        pk=alert_pk(alert.tenant_id, alert.alert_id),
        sk=ALERT_SK,
        tenant_id=alert.tenant_id,
        alert_id=alert.alert_id,
        alert_type=alert.alert_type,
        detail=alert.detail,
        status=alert.status,
        email_status=alert.email_status,
        webhook_status=alert.webhook_status,
        webhook_attempts=alert.webhook_attempts,
        last_error=alert.last_error,
        created_at=alert.at,
        updated_at=alert.at,
        gsi1pk=alerts_partition(alert.tenant_id),
        gsi1sk=f"{alert.at.isoformat()}#{alert.alert_id}",
    )
    if due_at is not None:
        record.due_pk, record.due_sk = due_keys(ALERT_JOB, due_at, alert.tenant_id, alert.alert_id)
    return record


def to_alert(record: AlertRecord) -> Alert:
    return Alert(
        tenant_id=record.tenant_id,
        alert_id=record.alert_id,
        alert_type=record.alert_type,
        detail=record.detail,
        at=record.created_at,
        status=record.status,
        email_status=record.email_status,
        webhook_status=record.webhook_status,
        webhook_attempts=int(record.webhook_attempts or 0),
        last_error=record.last_error,
        version=int(record.version or 0),
    )


def stage_alert(write: TransactWrite, alert: Alert) -> None:
    """Add a new alert to a transaction the caller owns; it is due at once."""
    write.save(_record(alert, alert.at), condition=AlertRecord.pk.does_not_exist())


class AlertRepository:
    def get(self, tenant_id: str, alert_id: str) -> Alert | None:
        try:
            return to_alert(AlertRecord.get(alert_pk(tenant_id, alert_id), ALERT_SK, consistent_read=True))
        except DoesNotExist:
            return None

    def claim(self, alert: Alert, now: datetime) -> Alert | None:
        """Take the alert for one delivery run (dal.due.lease, on the version read); None if someone
        else has it or it is done. If the run dies, the alert is due again ALERT_LEASE later."""
        record = AlertRecord(pk=alert_pk(alert.tenant_id, alert.alert_id), sk=ALERT_SK)
        record.version = alert.version
        taken = lease(
            record,
            job=ALERT_JOB,
            tenant_id=alert.tenant_id,
            entity_id=alert.alert_id,
            until=now + ALERT_LEASE,
            now=now,
        )
        return replace(alert, version=alert.version + 1) if taken else None

    @staticmethod
    def due_alert(item: CashlineItem) -> Alert | None:
        """A due item from the sweep (services.sweeps) as the alert it is, or None."""
        return to_alert(item) if isinstance(item, AlertRecord) else None

    def save(self, alert: Alert, *, next_attempt_at: datetime | None, now: datetime) -> None:
        """Record the delivery's outcome on the claimed version; off the `due` index unless a retry waits."""
        record = _record(alert, next_attempt_at)
        record.updated_at = now
        record.version = alert.version
        with storage_errors("alert changed during delivery"):
            record.save()

    def recent(self, tenant_id: str, limit: int) -> list[Alert]:
        results = AlertRecord.gsi1.query(alerts_partition(tenant_id), limit=limit, scan_index_forward=False)
        return [to_alert(item) for item in results if isinstance(item, AlertRecord)]
