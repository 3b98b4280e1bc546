"""/v1/counterparties: create, read (with totals), change, list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.common import PageOutput, page_output
from cashline.schemas.parties import (
    CounterpartyListQuery,
    CounterpartyOutput,
    CreateCounterpartyRequest,
    UpdateCounterpartyRequest,
)
from chalicelib.http import Call, api_route
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services import counterparties
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    counterparties = deferred("cashline.services.counterparties")

counterparty_api = Blueprint(__name__)
TAG = "counterparties"


def _output(view: counterparties.CounterpartyView) -> CounterpartyOutput:
    return CounterpartyOutput.of(view.counterparty, view.totals)


@api_route(
    counterparty_api,
    "/v1/counterparties",
    method="POST",
    summary="Create a counterparty",
    request=CreateCounterpartyRequest,
    response=CounterpartyOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_counterparty(call: Call[CreateCounterpartyRequest, Any]) -> CounterpartyOutput:
    view = counterparties.create_counterparty(
        call.tenant_id, call.body.model_dump(exclude_none=True), now=call.now
    )
    return _output(view)


@api_route(
    counterparty_api,
    "/v1/counterparties",
    method="GET",
    summary="List counterparties by name",
    query=CounterpartyListQuery,
    response=PageOutput[CounterpartyOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_counterparties(call: Call[Any, CounterpartyListQuery]) -> PageOutput[CounterpartyOutput]:
    page = counterparties.list_counterparties(
        call.tenant_id,
        segment=call.query.segment,
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, CounterpartyOutput.of)


@api_route(
    counterparty_api,
    "/v1/counterparties/{counterparty_id}",
    method="GET",
    summary="A counterparty with its totals per direction and currency",
    response=CounterpartyOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_counterparty(call: Call[Any, Any]) -> CounterpartyOutput:
    view = counterparties.get_counterparty(call.tenant_id, call.path["counterparty_id"])
    return _output(view)


@api_route(
    counterparty_api,
    "/v1/counterparties/{counterparty_id}",
    method="PATCH",
    summary="Change a counterparty (send the version you read; null clears a field)",
    request=UpdateCounterpartyRequest,
    response=CounterpartyOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def update_counterparty(call: Call[UpdateCounterpartyRequest, Any]) -> CounterpartyOutput:
    changes = call.body.model_dump(exclude_unset=True, exclude={"version"})
    view = counterparties.update_counterparty(
        call.tenant_id,
        call.path["counterparty_id"],
        changes,
        expected_version=call.body.version,
        now=call.now,
    )
    return _output(view)
