"""The channels collection campaigns send through, built once per Lambda instance from its settings."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cashline.config import url_text
from chalicelib.runtime import api_ready, deferred, handler_clock, scheduler_ready

if TYPE_CHECKING:  # the settings models, adapters and services are imported on the first event
    from cashline.adapters import documents, messaging
    from cashline.config import ApiSettings, SchedulerSettings
    from cashline.services.billing import charging
    from cashline.services.collections import context
else:
    documents = deferred("cashline.adapters.documents")
    messaging = deferred("cashline.adapters.messaging")
    context = deferred("cashline.services.collections.context")
    charging = deferred("cashline.services.billing.charging")


def runtime_for(settings: ApiSettings | SchedulerSettings) -> context.CollectionRuntime:
    endpoint = url_text(settings.aws_endpoint)
    outbox = Path(settings.outbox_dir) if settings.outbox_dir else None
    return context.CollectionRuntime(
        email=messaging.EmailChannel(
            sender=settings.mail_from,
            region=settings.region,
            endpoint=endpoint,
            outbox=outbox,
            configuration_set=settings.ses_configuration_set,
            clock=handler_clock,
        ),
        sms=messaging.SmsChannel(
            region=settings.region,
            endpoint=endpoint,
            sender_id=settings.sms_sender_id,
            outbox=outbox,
            clock=handler_clock,
        ),
        documents=documents.DocumentStore(
            settings.documents_bucket, region=settings.region, endpoint=endpoint
        ),
    )


@lru_cache(maxsize=1)
def api_collection_runtime() -> context.CollectionRuntime:
    return runtime_for(api_ready())


@lru_cache(maxsize=1)
def scheduler_collection_runtime() -> context.CollectionRuntime:
    settings = scheduler_ready()
    # The step sweep's retry_payment steps charge; the API never runs a step, so its runtime cannot.
    return replace(runtime_for(settings), charges=charging.ChargeRuntime(settings))
