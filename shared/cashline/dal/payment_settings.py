"""A tenant's payment settings: allocation rule, alert thresholds, finance contacts, outbound webhook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from cashline.dal.errors import storage_errors
from cashline.dal.payment_records import PAYMENT_SETTINGS_SK, PaymentSettingsRecord
from cashline.dal.table import tenant_pk
from cashline.domain.allocation import AllocationRule


@dataclass(frozen=True, slots=True)
class PaymentSettings:
    allocation_rule: AllocationRule = AllocationRule.OLDEST_FIRST
    alert_thresholds: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    finance_emails: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_secret_id: str | None = None
    auto_apply_credit: bool = True
    version: int = 0


def get_payment_settings(tenant_id: str) -> PaymentSettings:
    try:
        r = PaymentSettingsRecord.get(tenant_pk(tenant_id), PAYMENT_SETTINGS_SK, consistent_read=True)
    except DoesNotExist:
        return PaymentSettings()
    return PaymentSettings(
        allocation_rule=AllocationRule(r.allocation_rule),
        alert_thresholds={k: int(v) for k, v in (r.alert_thresholds or {}).items()},
        finance_emails=tuple(str(email) for email in r.finance_emails or ()),
        webhook_url=r.webhook_url,
        webhook_secret_id=r.webhook_secret_id,
        auto_apply_credit=r.auto_apply_credit == "yes",
        version=int(r.version or 0),
    )


def save_payment_settings(tenant_id: str, settings: PaymentSettings, now: datetime) -> PaymentSettings:
    record = PaymentSettingsRecord(
        pk=tenant_pk(tenant_id),
        sk=PAYMENT_SETTINGS_SK,
        allocation_rule=settings.allocation_rule.value,
        alert_thresholds=settings.alert_thresholds or None,
        finance_emails=list(settings.finance_emails) or None,
        webhook_url=settings.webhook_url,
        webhook_secret_id=settings.webhook_secret_id,
        auto_apply_credit="yes" if settings.auto_apply_credit else "no",
        created_at=now,
        updated_at=now,
    )
    if settings.version:  # version 0 is the first save: PynamoDB then requires that none exists
        record.version = settings.version
    with storage_errors("payment settings were changed by someone else; read them again", field="version"):
        record.save()
    return get_payment_settings(tenant_id)
