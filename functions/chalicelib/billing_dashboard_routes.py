"""/v1/subscriptions/overview: the dashboard's subscriptions panel (counts per status, MRR per plan,
the invoices of the next 30 days). Thin: one service call, read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.billing_overview import OverviewQuery, SubscriptionOverviewOutput
from chalicelib.http import Call, api_route
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services.billing import overview
else:  # imported by the first request that uses it (chalicelib.runtime.deferred)
    overview = deferred("cashline.services.billing.overview")

billing_dashboard_api = Blueprint(__name__)


@api_route(
    billing_dashboard_api,
    "/v1/subscriptions/overview",
    method="GET",
    summary="Subscriptions per status, MRR per plan and the invoices of the next 30 days",
    query=OverviewQuery,
    response=SubscriptionOverviewOutput,
    role=Role.READ_ONLY,
    tag="subscriptions",
)
def subscription_overview(call: Call[Any, OverviewQuery]) -> SubscriptionOverviewOutput:
    return SubscriptionOverviewOutput.of(overview.subscription_overview(call.tenant_id, now=call.now))
