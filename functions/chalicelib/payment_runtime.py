"""The adapters payments and alerts need, built once per Lambda instance from its settings."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from cashline.config import url_text
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:  # the settings models, services and adapters are imported on the first event
    from cashline.adapters import event_bus, secrets
    from cashline.config import AlertSettings, ApiSettings, SchedulerSettings
    from cashline.services import alerts, debits, webhooks
else:
    event_bus = deferred("cashline.adapters.event_bus")
    secrets = deferred("cashline.adapters.secrets")
    alerts = deferred("cashline.services.alerts")
    debits = deferred("cashline.services.debits")
    webhooks = deferred("cashline.services.webhooks")


def secret_store(settings: AlertSettings, region: str) -> secrets.SecretStore:
    return secrets.SecretStore(
        prefix=settings.secrets_prefix, region=region, endpoint=url_text(settings.aws_endpoint)
    )


@lru_cache(maxsize=1)
def intake_runtime() -> webhooks.IntakeRuntime:
    settings: ApiSettings = api_ready()
    return webhooks.IntakeRuntime(
        secrets=secret_store(settings, settings.region),
        bucket=settings.documents_bucket,
        queue_url=settings.webhook_queue_url,
        region=settings.region,
        endpoint=url_text(settings.aws_endpoint),
        paypal_cert_file=settings.paypal_cert_file,
        gocardless_base_url=url_text(settings.gocardless_base_url),
        stripe_api_base=url_text(settings.stripe_api_base),
    )


def alert_runtime_for(settings: SchedulerSettings | ApiSettings) -> alerts.AlertRuntime:
    endpoint = url_text(settings.aws_endpoint)
    return alerts.AlertRuntime(
        publisher=event_bus.EventPublisher(
            settings.event_bus_name, region=settings.region, endpoint=endpoint
        ),
        mailer=debits.mailer_for(settings, settings, endpoint),
        secrets=secret_store(settings, settings.region),
        allow_private_webhooks=settings.allow_private_webhooks,
    )


@lru_cache(maxsize=1)
def api_alert_runtime() -> alerts.AlertRuntime:
    return alert_runtime_for(api_ready())
