"""Routes for the local cloud only: what the system "sent". In AWS they answer 404."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.errors import NotFoundError
from cashline.schemas.financing import OutboxOutput
from chalicelib.http import Call, api_route
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.adapters import mailer
else:  # imported by the first request (chalicelib.runtime.deferred)
    mailer = deferred("cashline.adapters.mailer")

dev_api = Blueprint(__name__)


@api_route(
    dev_api,
    "/v1/dev/outbox",
    method="GET",
    summary="Local cloud only: the caller's tenant's e-mails and SMS sent, newest first",
    response=OutboxOutput,
    role=Role.READ_ONLY,
    tag="dev",
)
def outbox(call: Call[Any, Any]) -> OutboxOutput:
    settings = api_ready()
    if settings.stage not in {"local", "test"} or not settings.outbox_dir:
        raise NotFoundError("no such route")
    return OutboxOutput(data=mailer.read_outbox(Path(settings.outbox_dir), call.tenant_id))
