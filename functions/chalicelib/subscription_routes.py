"""/v1/subscriptions and /v1/subscription-items: create, read, list, pause, resume, the upcoming
invoice, the invoices issued, changes, cancellation and metered usage. Thin: each route parses,
calls one service and shapes its answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.common import ListQuery, PageOutput, page_output
from cashline.schemas.invoices import InvoiceOutput
from cashline.schemas.subscription_changes import (
    CancelOutput,
    CancelRequest,
    ChangeOutput,
    ChangeRequest,
    UsageRecordOutput,
    UsageRequest,
)
from cashline.schemas.subscriptions import (
    NewSubscription,
    ResumeRequest,
    SubscriptionListQuery,
    SubscriptionOutput,
    UpcomingInvoiceOutput,
)
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services.billing import cancellation, changes, subscriptions, upcoming, usage
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    cancellation = deferred("cashline.services.billing.cancellation")
    changes = deferred("cashline.services.billing.changes")
    subscriptions = deferred("cashline.services.billing.subscriptions")
    upcoming = deferred("cashline.services.billing.upcoming")
    usage = deferred("cashline.services.billing.usage")

subscription_api = Blueprint(__name__)
TAG = "subscriptions"
ONE = "/v1/subscriptions/{subscription_id}"


@api_route(
    subscription_api,
    "/v1/subscriptions",
    method="POST",
    summary="Subscribe a counterparty to prices (the first invoice is issued when due)",
    request=NewSubscription,
    response=SubscriptionOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_subscription(call: Call[NewSubscription, Any]) -> SubscriptionOutput:
    sub = subscriptions.create_subscription(call.tenant_id, call.body, actor=actor_of(call), now=call.now)
    return SubscriptionOutput.of(sub)


@api_route(
    subscription_api,
    "/v1/subscriptions",
    method="GET",
    summary="List subscriptions, by status or counterparty",
    query=SubscriptionListQuery,
    response=PageOutput[SubscriptionOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_subscriptions(call: Call[Any, SubscriptionListQuery]) -> PageOutput[SubscriptionOutput]:
    page = subscriptions.list_subscriptions(
        call.tenant_id,
        status=call.query.status,
        counterparty_id=call.query.counterparty_id,
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, SubscriptionOutput.of)


@api_route(
    subscription_api,
    ONE,
    method="GET",
    summary="A subscription with its current period, next invoice date and pending scheduled change",
    response=SubscriptionOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_subscription(call: Call[Any, Any]) -> SubscriptionOutput:
    sub, pending = subscriptions.subscription_with_scheduled_change(
        call.tenant_id, call.path["subscription_id"]
    )
    return SubscriptionOutput.of(sub, pending)


@api_route(
    subscription_api,
    f"{ONE}/pause",
    method="POST",
    summary="Pause: no invoices until resumed (409 naming status when it cannot pause)",
    response=SubscriptionOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def pause_subscription(call: Call[Any, Any]) -> SubscriptionOutput:
    sub = subscriptions.pause_subscription(call.tenant_id, call.path["subscription_id"], now=call.now)
    return SubscriptionOutput.of(sub)


@api_route(
    subscription_api,
    f"{ONE}/resume",
    method="POST",
    summary="Resume a paused subscription (today, or a day since the pause)",
    request=ResumeRequest,
    response=SubscriptionOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def resume_subscription(call: Call[ResumeRequest, Any]) -> SubscriptionOutput:
    sub = subscriptions.resume_subscription(
        call.tenant_id, call.path["subscription_id"], on=call.body.on, now=call.now
    )
    return SubscriptionOutput.of(sub)


@api_route(
    subscription_api,
    f"{ONE}/upcoming-invoice",
    method="GET",
    summary="The next invoice as it would be issued now (nothing is written)",
    response=UpcomingInvoiceOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def upcoming_invoice(call: Call[Any, Any]) -> UpcomingInvoiceOutput:
    view = upcoming.upcoming_invoice(call.tenant_id, call.path["subscription_id"], now=call.now)
    return UpcomingInvoiceOutput.of(view)


@api_route(
    subscription_api,
    f"{ONE}/invoices",
    method="GET",
    summary="The invoices and credit notes issued for a subscription, newest first",
    query=ListQuery,
    response=PageOutput[InvoiceOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def subscription_invoices(call: Call[Any, ListQuery]) -> PageOutput[InvoiceOutput]:
    page = upcoming.subscription_invoices(
        call.tenant_id,
        call.path["subscription_id"],
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, InvoiceOutput.summary)


@api_route(
    subscription_api,
    f"{ONE}/change",
    method="POST",
    summary="Change items or quantities: now with proration, or from a later effective date",
    request=ChangeRequest,
    response=ChangeOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def change_subscription(call: Call[ChangeRequest, Any]) -> ChangeOutput:
    outcome = changes.change_subscription(
        call.tenant_id, call.path["subscription_id"], call.body, actor=actor_of(call), now=call.now
    )
    return changes.change_output(outcome)


@api_route(
    subscription_api,
    f"{ONE}/cancel",
    method="POST",
    summary="Cancel at the period's end, now or on a date (with or without a prorated credit)",
    request=CancelRequest,
    response=CancelOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def cancel_subscription(call: Call[CancelRequest, Any]) -> CancelOutput:
    outcome = cancellation.cancel_subscription(
        call.tenant_id, call.path["subscription_id"], call.body, actor=actor_of(call), now=call.now
    )
    return cancellation.cancel_output(outcome)


@api_route(
    subscription_api,
    "/v1/subscription-items/{item_id}/usage",
    method="POST",
    summary="Report usage of a metered item (Idempotency-Key header or idempotency_key; a repeat: 200)",
    request=UsageRequest,
    response=UsageRecordOutput,
    role=Role.FINANCE,
    status=201,
    also_answers=(200,),
    tag=TAG,
)
def record_usage(call: Call[UsageRequest, Any]) -> tuple[int, UsageRecordOutput]:
    # Not `idempotent=True`: the usage service claims the key in the same transaction as the usage,
    # so a repeat is answered from the first report itself.
    view = usage.record_usage(
        call.tenant_id,
        call.path["item_id"],
        call.body,
        idempotency_key=call.headers.get("idempotency-key"),
        now=call.now,
    )
    return (200 if view.replayed else 201), usage.usage_output(view)
