"""The adapters payments and alerts need, built once per Lambda instance from its settings."""

from __future__ import annotations

from functools import lru_cache

from cashline.adapters.event_bus import EventPublisher
from cashline.adapters.secrets import SecretStore
from cashline.config import AlertSettings, ApiSettings, SchedulerSettings, url_text
from cashline.services.alerts import AlertRuntime
from cashline.services.debits import mailer_for
from cashline.services.webhooks import IntakeRuntime
from chalicelib.runtime import api_ready


def secret_store(settings: AlertSettings, region: str) -> SecretStore:
    return SecretStore(
        prefix=settings.secrets_prefix, region=region, endpoint=url_text(settings.aws_endpoint)
    )


@lru_cache(maxsize=1)
def intake_runtime() -> IntakeRuntime:
    settings: ApiSettings = api_ready()
    return IntakeRuntime(
        secrets=secret_store(settings, settings.region),
        bucket=settings.documents_bucket,
        queue_url=settings.webhook_queue_url,
        region=settings.region,
        endpoint=url_text(settings.aws_endpoint),
        paypal_cert_file=settings.paypal_cert_file,
        gocardless_base_url=url_text(settings.gocardless_base_url),
    )


def alert_runtime_for(settings: SchedulerSettings | ApiSettings) -> AlertRuntime:
    endpoint = url_text(settings.aws_endpoint)
    return AlertRuntime(
        publisher=EventPublisher(settings.event_bus_name, region=settings.region, endpoint=endpoint),
        mailer=mailer_for(settings, settings, endpoint),
        secrets=secret_store(settings, settings.region),
        allow_private_webhooks=settings.allow_private_webhooks,
    )


@lru_cache(maxsize=1)
def api_alert_runtime() -> AlertRuntime:
    return alert_runtime_for(api_ready())
