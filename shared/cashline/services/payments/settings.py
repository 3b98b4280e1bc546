"""A tenant's payment settings: allocation rule, alert thresholds, finance contacts, outbound webhook."""

from __future__ import annotations

import secrets
from datetime import datetime

from cashline.adapters.secrets import SecretStore
from cashline.dal.payment_settings import PaymentSettings, get_payment_settings, save_payment_settings
from cashline.errors import ConflictError, ValidationError
from cashline.schemas.payments import PaymentSettingsRequest


def update_settings(
    tenant_id: str,
    request: PaymentSettingsRequest,
    store: SecretStore,
    *,
    allow_private: bool,
    now: datetime,
) -> tuple[PaymentSettings, str | None]:
    """Save the settings; a new webhook URL gets a new signing secret, returned once."""
    current = get_payment_settings(tenant_id)
    if request.version != current.version:
        raise ConflictError(
            "payment settings were changed since this version; read them again", field="version"
        )
    url = str(request.webhook_url) if request.webhook_url else None
    secret, secret_id = None, current.webhook_secret_id
    if url:
        # Deferred: the outbound webhook adapter loads requests, not needed at cold start.
        from cashline.adapters.outbound_webhooks import check_destination

        try:
            check_destination(url, allow_private=allow_private)
        except ValueError as exc:
            raise ValidationError(str(exc), field="webhook_url") from None
        if url != current.webhook_url or not secret_id:
            secret = "whsec_" + secrets.token_urlsafe(32)
            secret_id = store.name_for("webhooks", tenant_id)
            store.put(secret_id, {"secret": secret})
    wanted = PaymentSettings(
        allocation_rule=request.allocation_rule,
        alert_thresholds=dict(request.alert_thresholds),
        finance_emails=tuple(request.finance_emails),
        webhook_url=url,
        webhook_secret_id=secret_id if url else None,
        auto_apply_credit=request.auto_apply_credit,
        version=current.version,
    )
    return save_payment_settings(tenant_id, wanted, now), secret
