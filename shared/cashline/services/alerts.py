"""Alerts: what finance must know at once (an invoice overdue, a debit failed, a dispute or
chargeback, a large payment cleared, a mandate ended), delivered three ways: a domain event on
EventBridge, an e-mail to the tenant's finance contacts, and the tenant's own webhook (signed like
Stripe's, retried with backoff).

An alert is written in the same transaction as the change it reports (dal/alert_repository.py): it
is never lost. Whoever commits the change tries to deliver it at once; the minutely outbox sweep
delivers what is left and the webhook retries that fall due. Delivery is at least once: a run that
dies midway is taken again when its lease ends, so receivers dedupe on the alert id
(`Cashline-Event-Id`, the event's `event_id`), as they would with any webhook.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from cashline.adapters.event_bus import DomainEvent, EventPublisher
from cashline.adapters.mailer import Email, Mailer
from cashline.adapters.secrets import SecretStore
from cashline.dal.alert_repository import ALERT_JOB, Alert, AlertRepository
from cashline.dal.payment_settings import PaymentSettings, get_payment_settings
from cashline.dal.table import CashlineItem
from cashline.domain.alert_messages import alert_locale, render_alert_email
from cashline.errors import ConflictError, NotFoundError
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.sweeps import SweepResult, sweep
from cashline.services.tenancy import tenants

ALERT_SCHEDULE = "alert_deliveries"
alerts = AlertRepository()


@dataclass(frozen=True, slots=True)
class AlertRuntime:
    publisher: EventPublisher
    mailer: Mailer
    secrets: SecretStore
    allow_private_webhooks: bool = False


def body_of(alert: Alert) -> bytes:
    """The webhook body: the same envelope as the EventBridge detail."""
    return json.dumps(
        {
            "id": alert.alert_id,
            "type": alert.alert_type,
            "tenant_id": alert.tenant_id,
            "created_at": alert.at.isoformat(),
            "data": alert.detail,
        },
        sort_keys=True,
    ).encode()


def deliver_now(alerts_to_send: Iterable[Alert], runtime: AlertRuntime, *, now: datetime) -> None:
    """Best effort, right after the change committed: what fails here the sweep does again."""
    for alert in alerts_to_send:
        try:
            deliver_alert(alert, runtime, now=now)
        except Exception:  # the outbox keeps it; the change itself is done
            logger.exception("alert delivery failed; the outbox sweep retries", alert_id=alert.alert_id)


def deliver_alert(alert: Alert, runtime: AlertRuntime, *, now: datetime) -> Alert | None:
    current = alerts.get(alert.tenant_id, alert.alert_id) if not alert.version else alert
    if current is None:
        return None
    claimed = alerts.claim(current, now)
    if claimed is None:
        return None  # another run has it, or it is done
    settings = get_payment_settings(alert.tenant_id)
    result = claimed
    if result.status == "pending":
        runtime.publisher.publish(
            [
                DomainEvent(
                    detail_type=result.alert_type,
                    tenant_id=result.tenant_id,
                    detail={"alert_id": result.alert_id, **result.detail},
                    event_id=result.alert_id,
                    occurred_at=result.at,
                )
            ]
        )
        result = replace(result, status="published")
    if result.email_status is None:
        result = replace(result, email_status=_email(result, settings, runtime.mailer, now))
    result, retry_at = _webhook(result, settings, runtime, now)
    alerts.save(result, next_attempt_at=retry_at, now=now)
    metrics.add_metric(name="AlertDelivered", unit=MetricUnit.Count, value=1)
    return result


def _email(alert: Alert, settings: PaymentSettings, mailer: Mailer, now: datetime) -> str:
    if not settings.finance_emails:
        return "none"
    email = render_alert_email(alert.alert_type, alert.detail, _locale_of(alert.tenant_id))
    for address in settings.finance_emails:
        mailer.send(
            Email(to=address, subject=email.subject, text=email.text, sent_at=now, tenant_id=alert.tenant_id)
        )
    return "sent"


def _locale_of(tenant_id: str) -> str:
    try:
        return alert_locale(tenants.get(tenant_id).country)
    except NotFoundError:  # a tenant being removed: its alert still goes out, in plain English
        return alert_locale(None)


def _webhook(
    alert: Alert, settings: PaymentSettings, runtime: AlertRuntime, now: datetime
) -> tuple[Alert, datetime | None]:
    # defer requests (~65 ms): only a tenant's own webhook needs it, never the API's cold start
    from cashline.adapters.outbound_webhooks import check_destination, deliver, next_attempt_delay

    if alert.webhook_status in {"delivered", "failed", "none"}:
        return alert, None
    if not settings.webhook_url or not settings.webhook_secret_id:
        return replace(alert, webhook_status="none"), None
    try:
        destination = check_destination(settings.webhook_url, allow_private=runtime.allow_private_webhooks)
        secret = str(runtime.secrets.get(settings.webhook_secret_id)["secret"])
    except ValueError as exc:
        return replace(alert, webhook_status="failed", last_error=str(exc)), None
    outcome = deliver(  # to the addresses just checked: no second DNS answer (rebinding)
        destination,
        body_of(alert),
        secret,
        now=int(now.timestamp()),
        event_id=alert.alert_id,
    )
    attempts = alert.webhook_attempts + 1
    if outcome.ok:
        return replace(alert, webhook_status="delivered", webhook_attempts=attempts, last_error=None), None
    delay = next_attempt_delay(attempts)
    logger.warning(
        "alert webhook not delivered",
        alert_id=alert.alert_id,
        attempts=attempts,
        error=outcome.error,
        status_code=outcome.status_code,
    )
    status = "retrying" if delay is not None else "failed"
    failed = replace(alert, webhook_status=status, webhook_attempts=attempts, last_error=outcome.error)
    return failed, (now + delay if delay is not None else None)


def run_alert_outbox(*, tick_at: datetime, worker: str, runtime: AlertRuntime) -> SweepResult:
    """Deliver the alerts nobody delivered at once, and the webhook retries that fell due."""

    def handle(item: CashlineItem) -> bool:
        alert = alerts.due_alert(item)
        if alert is None:
            return False
        try:
            return deliver_alert(alert, runtime, now=tick_at) is not None
        except ConflictError:
            return False

    return sweep(
        schedule=ALERT_SCHEDULE,
        job=ALERT_JOB,
        tick_at=tick_at,
        worker=worker,
        handle=handle,
    )
