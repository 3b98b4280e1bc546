"""/v1/billing-settings: how a tenant bills (VAT registration, numbering, drafts, retries, the seller
details and logo its invoices show)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.billing_settings import BillingSettingsOutput, BillingSettingsRequest
from chalicelib.http import Call, api_route
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.services import documents
    from cashline.services.billing import settings
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    documents = deferred("cashline.services.documents")
    settings = deferred("cashline.services.billing.settings")

billing_settings_api = Blueprint(__name__)
TAG = "billing"
# The types a logo is sent as; their bytes must agree (services.billing.settings.checked_logo). Both
# are API Gateway binary types (app.py), so the image arrives byte for byte.
LOGO_CONTENT_TYPES = ("image/png", "image/jpeg")


def _store() -> Any:
    return documents.store_for(api_ready())


@api_route(
    billing_settings_api,
    "/v1/billing-settings",
    method="GET",
    summary="VAT registration, invoice number pattern, drafts, payment term and charge retries",
    response=BillingSettingsOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_billing_settings(call: Call[Any, Any]) -> BillingSettingsOutput:
    return BillingSettingsOutput.of(settings.get_billing_settings(call.tenant_id))


@api_route(
    billing_settings_api,
    "/v1/billing-settings",
    method="PUT",
    summary="Replace the billing settings (send the version you read; fields left out take defaults)",
    request=BillingSettingsRequest,
    response=BillingSettingsOutput,
    role=Role.ADMIN,
    tag=TAG,
)
def put_billing_settings(call: Call[BillingSettingsRequest, Any]) -> BillingSettingsOutput:
    saved = settings.replace_billing_settings(call.tenant_id, call.body.settings(), now=call.now)
    return BillingSettingsOutput.of(saved)


@api_route(
    billing_settings_api,
    "/v1/billing-settings/logo",
    method="PUT",
    summary="Replace the logo invoices show: a PNG or JPEG as the body, at most 512 KiB and 2000 x 2000 px",
    response=BillingSettingsOutput,
    role=Role.ADMIN,
    tag=TAG,
    accepts=LOGO_CONTENT_TYPES,
)
def put_logo(call: Call[Any, Any]) -> BillingSettingsOutput:
    saved = settings.replace_logo(
        call.tenant_id, call.raw_body, content_type=call.content_type, documents=_store(), now=call.now
    )
    return BillingSettingsOutput.of(saved)


@api_route(
    billing_settings_api,
    "/v1/billing-settings/logo",
    method="DELETE",
    summary="Remove the logo: invoices go out without one (nothing changes when there is none)",
    response=BillingSettingsOutput,
    role=Role.ADMIN,
    tag=TAG,
)
def delete_logo(call: Call[Any, Any]) -> BillingSettingsOutput:
    return BillingSettingsOutput.of(settings.delete_logo(call.tenant_id, documents=_store(), now=call.now))
