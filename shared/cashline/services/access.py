"""Tenants and API keys: create, read, change, revoke (a request's key is checked in
cashline.services.authentication, which the authorizer imports alone)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cashline.dal.access_repository import ApiKeyRepository
from cashline.dal.pagination import Page
from cashline.domain.access import (
    ApiKey,
    KeyStatus,
    Role,
    Tenant,
    format_api_key,
    hash_secret,
    new_secret,
)
from cashline.domain.counterparties import normalize_tax_id
from cashline.domain.money import CurrencyError, normalize_currency
from cashline.errors import ConflictError, ValidationError
from cashline.ids import new_id
from cashline.observability import MetricUnit, logger, metrics
from cashline.services.tenancy import tenants

api_keys = ApiKeyRepository()


@dataclass(frozen=True, slots=True)
class TenantSettings:
    name: str
    country: str
    base_currency: str
    timezone: str
    tax_id: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key: ApiKey
    secret: str  # the whole presentable key; shown once, never stored


def _checked_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise tenant settings; each error names its field."""
    checked = dict(changes)
    if "name" in changes:
        checked["name"] = changes["name"].strip()
        if not checked["name"]:
            raise ValidationError("name must not be empty", field="name")
    if "base_currency" in changes:
        try:
            checked["base_currency"] = normalize_currency(changes["base_currency"])
        except CurrencyError as exc:
            raise ValidationError(str(exc), field="base_currency") from exc
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"unknown time zone {changes['timezone']!r}", field="timezone") from exc
    if changes.get("tax_id"):
        checked["tax_id"] = normalize_tax_id(changes["tax_id"])
    if "country" in changes:
        checked["country"] = changes["country"].upper()
        if len(checked["country"]) != 2 or not checked["country"].isalpha():
            raise ValidationError("country must be an ISO 3166-1 alpha-2 code", field="country")
    return checked


def create_tenant(settings: TenantSettings, *, now: datetime) -> Tenant:
    checked = _checked_changes(asdict(settings))
    tenant = Tenant(
        tenant_id=new_id("tenant"),
        name=checked["name"],
        country=checked["country"],
        base_currency=checked["base_currency"],
        timezone=checked["timezone"],
        tax_id=checked.get("tax_id"),
        created_at=now,
        updated_at=now,
        version=0,
    )
    return tenants.create(tenant)


def get_tenant(tenant_id: str) -> Tenant:
    return tenants.get(tenant_id)


def update_tenant(
    tenant_id: str, changes: dict[str, str | None], *, expected_version: int, now: datetime
) -> Tenant:
    unknown = set(changes) - set(TenantSettings.__dataclass_fields__)
    if unknown:
        raise ValidationError("not a tenant setting", field=sorted(unknown)[0])
    return tenants.update(
        tenant_id, expected_version=expected_version, changes=_checked_changes(changes), at=now
    )


def create_api_key(
    tenant_id: str, *, name: str, role: Role, now: datetime, expires_in_days: int | None = None
) -> CreatedApiKey:
    tenants.get(tenant_id)  # a key for a tenant that does not exist is a 404, not an orphan
    key_id = new_id("api_key")
    secret = new_secret()
    key = ApiKey(
        tenant_id=tenant_id,
        key_id=key_id,
        name=name.strip(),
        role=role,
        status=KeyStatus.ACTIVE,
        secret_sha256=hash_secret(secret),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        revoked_at=None,
        version=0,
    )
    stored = api_keys.create(key)
    metrics.add_metric(name="ApiKeyCreated", unit=MetricUnit.Count, value=1)
    logger.info("api key created", tenant_id=tenant_id, key_id=key_id, role=role.value)
    return CreatedApiKey(key=stored, secret=format_api_key(tenant_id, key_id, secret))


def list_api_keys(tenant_id: str, *, limit: int, starting_after: str | None) -> Page[ApiKey]:
    return api_keys.list(tenant_id, limit=limit, starting_after=starting_after)


def get_api_key(tenant_id: str, key_id: str) -> ApiKey:
    return api_keys.get(tenant_id, key_id)


def revoke_api_key(tenant_id: str, key_id: str, *, now: datetime, revoked_by: str | None = None) -> ApiKey:
    """Revoke a key; revoking a revoked key is a no-op. A key cannot revoke itself (lock-out guard)."""
    if revoked_by == key_id:
        raise ConflictError("a key cannot revoke itself; use another admin key", field="key_id")
    try:
        revoked = api_keys.set_status(tenant_id, key_id, KeyStatus.REVOKED, now)
        logger.info("api key revoked", tenant_id=tenant_id, key_id=key_id, revoked_by=revoked_by)
        metrics.add_metric(name="ApiKeyRevoked", unit=MetricUnit.Count, value=1)
        return revoked
    except ConflictError:
        # Raced with another revoke or with expiry: the key is no longer active either way.
        return api_keys.get(tenant_id, key_id)
