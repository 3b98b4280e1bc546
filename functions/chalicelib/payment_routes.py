"""/v1/payments, /v1/processor-connections, /v1/payment-settings and the processors' webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.domain.payments import PaymentSource
from cashline.ids import new_id
from cashline.schemas.common import ListQuery, OutputModel, PageOutput, page_output
from cashline.schemas.payments import (
    AllocateRequest,
    ConnectionOutputItem,
    CreateConnectionRequest,
    Payment,
    PaymentSettingsItem,
    PaymentSettingsRequest,
    PaymentsQuery,
    RecordPaymentRequest,
    RotateSecretRequest,
)
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.payment_runtime import api_alert_runtime, intake_runtime
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.dal import payment_repository, payment_settings
    from cashline.dal.payment_settings import PaymentSettings
    from cashline.services import alerts, connections, webhooks
    from cashline.services.connections import Connection
    from cashline.services.payments import context as payment_context
    from cashline.services.payments import manual, settings
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    payment_repository = deferred("cashline.dal.payment_repository")
    payment_settings = deferred("cashline.dal.payment_settings")
    alerts = deferred("cashline.services.alerts")
    connections = deferred("cashline.services.connections")
    webhooks = deferred("cashline.services.webhooks")
    payment_context = deferred("cashline.services.payments.context")
    manual = deferred("cashline.services.payments.manual")
    settings = deferred("cashline.services.payments.settings")

payment_api = Blueprint(__name__)
TAG = "payments"


class WebhookReceipt(OutputModel):
    received: int


def _connection_item(connection: Connection) -> ConnectionOutputItem:
    return ConnectionOutputItem(
        id=connection.connection_id,
        provider=connection.provider,
        name=connection.name,
        status=connection.status,
        webhook_path=connection.webhook_path,
        secret_hint=connection.secret_hint,
        previous_secret_expires_at=connection.previous_secret_expires_at,
        has_api_credentials=connection.has_api_credentials,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


@api_route(
    payment_api,
    "/v1/processor-connections",
    method="POST",
    summary="Connect a Stripe, GoCardless or PayPal account; answers with the webhook path to register",
    request=CreateConnectionRequest,
    response=ConnectionOutputItem,
    role=Role.ADMIN,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_connection(call: Call[CreateConnectionRequest, Any]) -> ConnectionOutputItem:
    body = call.body
    connection = connections.create(
        intake_runtime().secrets,
        call.tenant_id,
        provider=body.provider,
        name=body.name,
        webhook_secret=body.webhook_secret,
        api_key=body.api_key,
        now=call.now,
    )
    return _connection_item(connection)


@api_route(
    payment_api,
    "/v1/processor-connections",
    method="GET",
    summary="The tenant's processor connections (secrets are never shown)",
    query=ListQuery,
    response=PageOutput[ConnectionOutputItem],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_connections(call: Call[Any, ListQuery]) -> PageOutput[ConnectionOutputItem]:
    page = connections.list_connections(
        call.tenant_id, limit=call.query.limit, starting_after=call.query.starting_after
    )
    return page_output(page, _connection_item)


@api_route(
    payment_api,
    "/v1/processor-connections/{connection_id}",
    method="GET",
    summary="One processor connection",
    response=ConnectionOutputItem,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_connection(call: Call[Any, Any]) -> ConnectionOutputItem:
    return _connection_item(connections.get(call.tenant_id, call.path["connection_id"]))


@api_route(
    payment_api,
    "/v1/processor-connections/{connection_id}/rotate-secret",
    method="POST",
    summary="Set a new webhook secret; the previous one stays valid for `previous_valid_hours`",
    request=RotateSecretRequest,
    response=ConnectionOutputItem,
    role=Role.ADMIN,
    tag=TAG,
)
def rotate_secret(call: Call[RotateSecretRequest, Any]) -> ConnectionOutputItem:
    connection = connections.rotate(
        intake_runtime().secrets,
        call.tenant_id,
        call.path["connection_id"],
        webhook_secret=call.body.webhook_secret,
        valid_hours=call.body.previous_valid_hours,
        now=call.now,
    )
    return _connection_item(connection)


def _webhook(provider: str) -> Any:
    def receive(call: Call[Any, Any]) -> WebhookReceipt:
        receipt = webhooks.receive(
            provider, call.path["connection_id"], call.headers, call.raw_body, intake_runtime(), now=call.now
        )
        return WebhookReceipt(received=receipt.events)

    return receive


for _provider in ("stripe", "gocardless", "paypal"):
    api_route(
        payment_api,
        f"/v1/webhooks/{_provider}/{{connection_id}}",
        method="POST",
        summary=f"{_provider.capitalize()} webhook: verified, kept in S3, queued, acknowledged",
        response=WebhookReceipt,
        role=None,
        accepts=("application/json",),
        tag="webhooks",
    )(_webhook(_provider))


@api_route(
    payment_api,
    "/v1/payments",
    method="POST",
    summary="Record a payment by hand or from the bank-transfer channel (Idempotency-Key honoured)",
    request=RecordPaymentRequest,
    response=Payment,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def record_payment(call: Call[RecordPaymentRequest, Any]) -> Payment:
    body = call.body
    ctx = payment_context.context_for(call.tenant_id, now=call.now, actor=actor_of(call))
    source = PaymentSource(body.source)
    event = manual.manual_event(
        source=source,
        amount=body.amount,
        currency=body.currency,
        value_date=body.value_date,
        method=body.method.value,
        payer_name=body.payer_name,
        payer_iban=body.payer_iban,
        remittance_reference=body.remittance_reference,
        invoice_id=body.invoice_id,
        bank_reference=body.bank_reference,
        event_id=new_id("event"),
        now=call.now,
    )
    payment = manual.record_payment(
        ctx,
        event,
        invoice_amount=body.invoice_amount,
        counterparty_id=body.counterparty_id,
        direction=body.direction,
    )
    alerts.deliver_now(ctx.committed_alerts, api_alert_runtime(), now=call.now)
    return Payment.of(payment)


@api_route(
    payment_api,
    "/v1/payments",
    method="GET",
    summary="Payments, newest value date first, filtered by status, kind, source, method, currency, "
    "counterparty, unallocated or value date range",
    query=PaymentsQuery,
    response=PageOutput[Payment],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_payments(call: Call[Any, PaymentsQuery]) -> PageOutput[Payment]:
    q = call.query
    flt = payment_repository.PaymentFilter(
        status=q.status.value if q.status else None,
        kind=q.kind.value if q.kind else None,
        source=q.source.value if q.source else None,
        method=q.method.value if q.method else None,
        currency=q.currency,
        counterparty_id=q.counterparty_id,
        unallocated=q.unallocated,
        value_date_from=q.value_date_from,
        value_date_to=q.value_date_to,
    )
    page = manual.list_payments(call.tenant_id, flt, limit=q.limit, starting_after=q.starting_after)
    return page_output(page, Payment.of)


@api_route(
    payment_api,
    "/v1/payments/{payment_id}",
    method="GET",
    summary="One payment with its allocations and history",
    response=Payment,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_payment(call: Call[Any, Any]) -> Payment:
    return Payment.of(manual.get_payment(call.tenant_id, call.path["payment_id"]))


@api_route(
    payment_api,
    "/v1/payments/{payment_id}/allocations",
    method="POST",
    summary="Apply a payment's unallocated money (held, or the payer's credit) to invoices",
    request=AllocateRequest,
    response=Payment,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def allocate_payment(call: Call[AllocateRequest, Any]) -> Payment:
    ctx = payment_context.context_for(call.tenant_id, now=call.now, actor=actor_of(call))
    shares = [(item.invoice_id, item.amount) for item in call.body.allocations]
    return Payment.of(manual.assign(ctx, call.path["payment_id"], shares))


def _settings_item(settings: PaymentSettings, *, secret: str | None = None) -> PaymentSettingsItem:
    return PaymentSettingsItem(
        allocation_rule=settings.allocation_rule,
        alert_thresholds=settings.alert_thresholds,
        finance_emails=list(settings.finance_emails),
        webhook_url=settings.webhook_url,
        webhook_secret=secret,
        auto_apply_credit=settings.auto_apply_credit,
        version=settings.version,
    )


@api_route(
    payment_api,
    "/v1/payment-settings",
    method="GET",
    summary="Allocation rule, alert thresholds, finance contacts, outbound webhook",
    response=PaymentSettingsItem,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_settings(call: Call[Any, Any]) -> PaymentSettingsItem:
    return _settings_item(payment_settings.get_payment_settings(call.tenant_id))


@api_route(
    payment_api,
    "/v1/payment-settings",
    method="PUT",
    summary="Set the allocation rule, alert thresholds, finance contacts and outbound webhook "
    "(send the version you read; a new webhook URL answers with its signing secret, once)",
    request=PaymentSettingsRequest,
    response=PaymentSettingsItem,
    role=Role.ADMIN,
    tag=TAG,
)
def put_settings(call: Call[PaymentSettingsRequest, Any]) -> PaymentSettingsItem:
    saved, secret = settings.update_settings(
        call.tenant_id,
        call.body,
        intake_runtime().secrets,
        allow_private=api_ready_allows_private(),
        now=call.now,
    )
    return _settings_item(saved, secret=secret)


def api_ready_allows_private() -> bool:
    """Whether outbound webhooks may reach private addresses (the local stage); a function, so a
    test can ask for the production check."""
    return api_ready().allow_private_webhooks
