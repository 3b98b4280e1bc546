"""The channels collection campaigns send through, built once per Lambda instance from its settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cashline.adapters.documents import DocumentStore
from cashline.adapters.messaging import EmailChannel, SmsChannel
from cashline.config import url_text
from cashline.services.collections.context import CollectionRuntime
from chalicelib.runtime import api_ready, handler_clock, scheduler_ready

if TYPE_CHECKING:  # the settings models are imported on the first event (cashline.config)
    from cashline.config import ApiSettings, SchedulerSettings


def runtime_for(settings: ApiSettings | SchedulerSettings) -> CollectionRuntime:
    endpoint = url_text(settings.aws_endpoint)
    outbox = Path(settings.outbox_dir) if settings.outbox_dir else None
    return CollectionRuntime(
        email=EmailChannel(
            sender=settings.mail_from,
            region=settings.region,
            endpoint=endpoint,
            outbox=outbox,
            configuration_set=settings.ses_configuration_set,
            clock=handler_clock,
        ),
        sms=SmsChannel(
            region=settings.region,
            endpoint=endpoint,
            sender_id=settings.sms_sender_id,
            outbox=outbox,
            clock=handler_clock,
        ),
        documents=DocumentStore(settings.documents_bucket, region=settings.region, endpoint=endpoint),
    )


@lru_cache(maxsize=1)
def api_collection_runtime() -> CollectionRuntime:
    return runtime_for(api_ready())


@lru_cache(maxsize=1)
def scheduler_collection_runtime() -> CollectionRuntime:
    return runtime_for(scheduler_ready())
