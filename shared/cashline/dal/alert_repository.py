"""The alert outbox: an alert is written in the same transaction as the change it reports, on the
`due` index, so it is delivered even when the process dies right after that change."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from cashline.dal.due import due_keys
from cashline.dal.errors import storage_errors
from cashline.dal.payment_records import ALERT_SK, AlertRecord, alert_pk
from cashline.errors import ConflictError

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
        gsi1pk=f"T#{alert.tenant_id}#ALERT",
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


def stage_alert(write: Any, alert: Alert) -> None:
    """Add a new alert to a transaction the caller owns; it is due at once."""
    write.save(_record(alert, alert.at), condition=AlertRecord.pk.does_not_exist())


class AlertRepository:
    def get(self, tenant_id: str, alert_id: str) -> Alert | None:
        try:
            return to_alert(AlertRecord.get(alert_pk(tenant_id, alert_id), ALERT_SK, consistent_read=True))
        except DoesNotExist:
            return None

    def claim(self, alert: Alert, now: datetime) -> Alert | None:
        """Take the alert for one delivery run (a lease on the version read); None if someone else has it."""
        lease_pk, lease_sk = due_keys(ALERT_JOB, now + ALERT_LEASE, alert.tenant_id, alert.alert_id)
        record = AlertRecord(pk=alert_pk(alert.tenant_id, alert.alert_id), sk=ALERT_SK)
        record.version = alert.version
        actions: list[Action] = [
            AlertRecord.due_pk.set(lease_pk),
            AlertRecord.due_sk.set(lease_sk),
            AlertRecord.updated_at.set(now),
        ]
        try:
            with storage_errors("alert taken by another delivery"):
                record.update(actions=actions, condition=AlertRecord.due_pk.exists())
        except ConflictError:
            return None
        return replace(alert, version=alert.version + 1)

    def save(self, alert: Alert, *, next_attempt_at: datetime | None, now: datetime) -> None:
        """Record the delivery's outcome on the claimed version; off the `due` index unless a retry waits."""
        record = _record(alert, next_attempt_at)
        record.updated_at = now
        record.version = alert.version
        with storage_errors("alert changed during delivery"):
            record.save()

    def recent(self, tenant_id: str, limit: int) -> list[Alert]:
        results = AlertRecord.gsi1.query(f"T#{tenant_id}#ALERT", limit=limit, scan_index_forward=False)
        return [to_alert(item) for item in results if isinstance(item, AlertRecord)]
