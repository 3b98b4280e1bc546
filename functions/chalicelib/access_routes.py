"""The caller's tenant and its API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.errors import NotFoundError
from cashline.ids import is_id_of
from cashline.schemas.access import (
    ApiKeyOutput,
    CreateApiKeyRequest,
    CreatedApiKeyOutput,
    TenantOutput,
    UpdateTenantRequest,
)
from cashline.schemas.common import ListQuery, PageOutput, page_output
from chalicelib.http import Call, api_route
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services import access
else:
    access = deferred("cashline.services.access")  # imported by the first request that uses it

access_api = Blueprint(__name__)


def _key_id(call: Call[Any, Any]) -> str:
    key_id = call.path["key_id"]
    if not is_id_of("api_key", key_id):
        raise NotFoundError("api key not found", field="key_id")
    return key_id


@api_route(
    access_api,
    "/v1/tenant",
    method="GET",
    summary="The tenant of the calling key",
    response=TenantOutput,
    role=Role.READ_ONLY,
    tag="tenant",
)
def get_tenant(call: Call[Any, Any]) -> TenantOutput:
    return TenantOutput.of(access.get_tenant(call.tenant_id))


@api_route(
    access_api,
    "/v1/tenant",
    method="PATCH",
    summary="Change the tenant's settings",
    request=UpdateTenantRequest,
    response=TenantOutput,
    role=Role.ADMIN,
    tag="tenant",
)
def update_tenant(call: Call[UpdateTenantRequest, Any]) -> TenantOutput:
    changes = call.body.model_dump(exclude_unset=True, exclude={"version"}, exclude_none=True)
    tenant = access.update_tenant(call.tenant_id, changes, expected_version=call.body.version, now=call.now)
    return TenantOutput.of(tenant)


def _without_secret(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "secret": None}


@api_route(
    access_api,
    "/v1/api-keys",
    method="POST",
    summary="Create an API key (the secret is shown once)",
    request=CreateApiKeyRequest,
    response=CreatedApiKeyOutput,
    role=Role.ADMIN,
    status=201,
    idempotent=True,
    redact=_without_secret,
    tag="api keys",
)
def create_api_key(call: Call[CreateApiKeyRequest, Any]) -> CreatedApiKeyOutput:
    created = access.create_api_key(
        call.tenant_id,
        name=call.body.name,
        role=call.body.role,
        now=call.now,
        expires_in_days=call.body.expires_in_days,
    )
    return CreatedApiKeyOutput(**ApiKeyOutput.of(created.key).model_dump(), secret=created.secret)


@api_route(
    access_api,
    "/v1/api-keys",
    method="GET",
    summary="List the tenant's API keys, oldest first",
    query=ListQuery,
    response=PageOutput[ApiKeyOutput],
    role=Role.ADMIN,
    tag="api keys",
)
def list_api_keys(call: Call[Any, ListQuery]) -> PageOutput[ApiKeyOutput]:
    page = access.list_api_keys(
        call.tenant_id, limit=call.query.limit, starting_after=call.query.starting_after
    )
    return page_output(page, ApiKeyOutput.of)


@api_route(
    access_api,
    "/v1/api-keys/{key_id}",
    method="GET",
    summary="One API key (never its secret)",
    response=ApiKeyOutput,
    role=Role.ADMIN,
    tag="api keys",
)
def get_api_key(call: Call[Any, Any]) -> ApiKeyOutput:
    return ApiKeyOutput.of(access.get_api_key(call.tenant_id, _key_id(call)))


@api_route(
    access_api,
    "/v1/api-keys/{key_id}",
    method="DELETE",
    summary="Revoke an API key at once",
    response=ApiKeyOutput,
    role=Role.ADMIN,
    tag="api keys",
)
def revoke_api_key(call: Call[Any, Any]) -> ApiKeyOutput:
    principal_key = call.principal.key_id if call.principal else None
    key = access.revoke_api_key(call.tenant_id, _key_id(call), now=call.now, revoked_by=principal_key)
    return ApiKeyOutput.of(key)
