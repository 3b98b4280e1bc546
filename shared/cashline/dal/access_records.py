"""Records for tenants and API keys (keys: docs/data-model.md)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute, VersionAttribute

from cashline.dal.table import CashlineItem

TENANT_SK = "TENANT"
API_KEY_SK_PREFIX = "KEY#"


class TenantRecord(CashlineItem, discriminator="tenant"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    country = UnicodeAttribute()
    base_currency = UnicodeAttribute()
    timezone = UnicodeAttribute()
    tax_id = UnicodeAttribute(null=True)


class ApiKeyRecord(CashlineItem, discriminator="api_key"):
    version = VersionAttribute()
    tenant_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    status = UnicodeAttribute()
    secret_sha256 = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
