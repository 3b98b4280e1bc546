"""Tenant and API-key requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cashline.domain.access import ApiKey, KeyStatus, Role, Tenant
from cashline.schemas.common import CurrencyCode, OutputModel, RequestModel

Name = Annotated[str, Field(min_length=1, max_length=120)]


class TenantOutput(OutputModel):
    id: str = Field(examples=["ten_01JD3Z5W4YV6Q3R0M8X2N5B7C9"])
    object: str = "tenant"
    name: str
    country: str = Field(description="ISO 3166-1 alpha-2; selects the bank-holiday calendar")
    base_currency: str
    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin")
    tax_id: str | None = Field(description="The tenant's VAT id; tells imported e-invoices' direction")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Send it back when updating: optimistic locking")

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOutput:
        return cls(
            id=tenant.tenant_id,
            name=tenant.name,
            country=tenant.country,
            base_currency=tenant.base_currency,
            timezone=tenant.timezone,
            tax_id=tenant.tax_id,
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
            version=tenant.version,
        )


class UpdateTenantRequest(RequestModel):
    version: int = Field(ge=0, description="The version you read; a stale version gives 409")
    name: Name | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)
    base_currency: CurrencyCode | None = None
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    tax_id: str | None = Field(default=None, min_length=4, max_length=32)


class CreateApiKeyRequest(RequestModel):
    name: Name
    role: Role
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyOutput(OutputModel):
    id: str = Field(examples=["key_01JD3Z5W4YV6Q3R0M8X2N5B7C9"])
    object: str = "api_key"
    name: str
    role: Role
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOutput:
        return cls(
            id=key.key_id,
            name=key.name,
            role=key.role,
            status=key.status,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class CreatedApiKeyOutput(ApiKeyOutput):
    secret: str | None = Field(
        description="The key to send as `Authorization: Bearer <secret>`. Shown once: a replay of the "
        "same Idempotency-Key returns null here."
    )


class HealthDependency(OutputModel):
    name: str
    ok: bool
    latency_ms: int
    detail: str | None


class HealthOutput(OutputModel):
    status: str = Field(description="ok, or degraded when a dependency fails")
    stage: str
    dependencies: list[HealthDependency]
