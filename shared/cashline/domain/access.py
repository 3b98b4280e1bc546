"""Tenants, roles and API keys: the rules, without storage.

An API key reads ``clk_<tenant id>.<key id>.<secret>``. Carrying the tenant and key ids in the key
lets the authorizer fetch the one key record with a strongly consistent GetItem on a key that
begins with the tenant (no global hash index, and revocation takes effect on the next request).
Only the SHA-256 of the 256-bit secret is stored; a high-entropy secret needs no slow hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from cashline.ids import is_id_of

API_KEY_PREFIX = "clk_"


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    READ_ONLY = "read_only"

    def can(self, needed: Role) -> bool:
        """Roles are ordered: admin can do all finance can, finance all read_only can."""
        order = [Role.READ_ONLY, Role.FINANCE, Role.ADMIN]
        return order.index(self) >= order.index(needed)


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    country: str
    base_currency: str
    timezone: str
    created_at: datetime
    updated_at: datetime
    version: int
    # The tenant's own VAT/tax id: tells an imported e-invoice's direction (seller = us: receivable).
    tax_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    tenant_id: str
    key_id: str
    name: str
    role: Role
    status: KeyStatus
    secret_sha256: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    version: int

    def is_usable(self, now: datetime) -> bool:
        if self.status is not KeyStatus.ACTIVE:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class KeyReference:
    """The public parts of a presented key, and the secret to check."""

    tenant_id: str
    key_id: str
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved by the authorizer, trusted by every route."""

    tenant_id: str
    key_id: str
    role: Role


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_api_key(tenant_id: str, key_id: str, secret: str) -> str:
    return f"{API_KEY_PREFIX}{tenant_id}.{key_id}.{secret}"


def parse_api_key(presented: str) -> KeyReference | None:
    """Split a presented key into its parts; None when it is not shaped like one of ours."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    parts = presented[len(API_KEY_PREFIX) :].split(".")
    if len(parts) != 3:
        return None
    tenant_id, key_id, secret = parts
    if not (is_id_of("tenant", tenant_id) and is_id_of("api_key", key_id)) or len(secret) < 32:
        return None
    return KeyReference(tenant_id=tenant_id, key_id=key_id, secret=secret)


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.secret_sha256, hash_secret(secret))


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme is case-insensitive)."""
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def today_for(tenant: Tenant, now: datetime) -> date:
    """The business day it is for the tenant at `now`: due dates, overdue and "paid on" are days in
    the tenant's own time zone, not UTC."""
    return now.astimezone(ZoneInfo(tenant.timezone)).date()
