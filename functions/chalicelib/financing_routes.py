"""/v1/financing: settings, quotes, plans on payable bills, cancel, early repayment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.common import ListQuery, PageOutput, page_output
from cashline.schemas.financing import (
    FinancingRequest,
    FinancingSettingsModel,
    PlanOutput,
    QuoteOutput,
    QuoteRequest,
)
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services import financing
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    financing = deferred("cashline.services.financing")

financing_api = Blueprint(__name__)
TAG = "financing"


def _plan_request(body: FinancingRequest) -> financing.PlanRequest:
    return financing.PlanRequest(
        payout_date=body.payout_date, installments=body.installments, first_debit_date=body.first_debit_date
    )


@api_route(
    financing_api,
    "/v1/financing/settings",
    method="GET",
    summary="Pricing, retries, reminders, debit method",
    response=FinancingSettingsModel,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_settings(call: Call[Any, Any]) -> FinancingSettingsModel:
    return FinancingSettingsModel.of(financing.settings(call.tenant_id))


@api_route(
    financing_api,
    "/v1/financing/settings",
    method="PUT",
    summary="Set pricing, retries, reminders and the debit method (send the version you read)",
    request=FinancingSettingsModel,
    response=FinancingSettingsModel,
    role=Role.ADMIN,
    tag=TAG,
)
def put_settings(call: Call[FinancingSettingsModel, Any]) -> FinancingSettingsModel:
    saved = financing.update_settings(call.tenant_id, call.body.to_settings(), now=call.now)
    return FinancingSettingsModel.of(saved)


@api_route(
    financing_api,
    "/v1/financing/quotes",
    method="POST",
    summary="What a plan would cost (nothing stored)",
    request=QuoteRequest,
    response=QuoteOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def create_quote(call: Call[QuoteRequest, Any]) -> QuoteOutput:
    schedule = financing.quote(
        call.tenant_id,
        principal=call.body.amount,
        currency=call.body.currency,
        request=_plan_request(call.body),
        now=call.now,
    )
    return QuoteOutput.of(schedule)


@api_route(
    financing_api,
    "/v1/invoices/{invoice_id}/financing",
    method="POST",
    summary="Finance an open payable bill: Cashline pays the supplier, you repay in installments",
    request=FinancingRequest,
    response=PlanOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def finance_invoice(call: Call[FinancingRequest, Any]) -> PlanOutput:
    plan = financing.finance_invoice(
        call.tenant_id, call.path["invoice_id"], _plan_request(call.body), actor=actor_of(call), now=call.now
    )
    return PlanOutput.of(*financing.get_plan(call.tenant_id, plan.plan_id))


@api_route(
    financing_api,
    "/v1/financing/plans",
    method="GET",
    summary="Plans, newest first",
    query=ListQuery,
    response=PageOutput[PlanOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_plans(call: Call[Any, ListQuery]) -> PageOutput[PlanOutput]:
    page = financing.list_plans(
        call.tenant_id, limit=call.query.limit, starting_after=call.query.starting_after
    )
    return page_output(page, PlanOutput.of)


@api_route(
    financing_api,
    "/v1/financing/plans/{plan_id}",
    method="GET",
    summary="A plan and its installments",
    response=PlanOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_plan(call: Call[Any, Any]) -> PlanOutput:
    return PlanOutput.of(*financing.get_plan(call.tenant_id, call.path["plan_id"]))


@api_route(
    financing_api,
    "/v1/financing/plans/{plan_id}/cancel",
    method="POST",
    summary="Cancel before the payout: the bill is yours to pay again",
    response=PlanOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def cancel_plan(call: Call[Any, Any]) -> PlanOutput:
    return PlanOutput.of(
        *financing.cancel_plan(call.tenant_id, call.path["plan_id"], actor=actor_of(call), now=call.now)
    )


@api_route(
    financing_api,
    "/v1/financing/plans/{plan_id}/repay",
    method="POST",
    summary="Repay the rest early: one debit, the fee recalculated for the months used",
    response=PlanOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def repay_plan(call: Call[Any, Any]) -> PlanOutput:
    return PlanOutput.of(*financing.repay_early(call.tenant_id, call.path["plan_id"], now=call.now))
