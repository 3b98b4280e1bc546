"""/v1/invoices/{id}/finalize: a person ends a draft's review and finalises it now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.invoices import InvoiceOutput
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services.billing import finalising
else:  # imported by the first request that uses it (chalicelib.runtime.deferred)
    finalising = deferred("cashline.services.billing.finalising")

billing_invoice_api = Blueprint(__name__)
TAG = "invoices"


@api_route(
    billing_invoice_api,
    "/v1/invoices/{invoice_id}/finalize",
    method="POST",
    summary="Finalise a draft now: its number from the tenant's sequence (not a draft: 409)",
    response=InvoiceOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def finalize_invoice(call: Call[Any, Any]) -> InvoiceOutput:
    view = finalising.finalise_invoice_view(
        call.tenant_id, call.path["invoice_id"], now=call.now, actor=actor_of(call)
    )
    return InvoiceOutput.of(view)
