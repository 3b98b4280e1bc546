"""Tenants and API keys in DynamoDB. Every method takes the tenant id first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from cashline.dal.access_records import API_KEY_SK_PREFIX, TENANT_SK, ApiKeyRecord, TenantRecord
from cashline.dal.due import due_keys
from cashline.dal.errors import storage_errors
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.access import ApiKey, KeyStatus, Role, Tenant
from cashline.errors import ConflictError, NotFoundError

API_KEY_EXPIRY_JOB = "api_key_expiry"


def _tenant(record: TenantRecord) -> Tenant:
    return Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        country=record.country,
        base_currency=record.base_currency,
        timezone=record.timezone,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 0),
        tax_id=record.tax_id,
    )


def _api_key(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        tenant_id=record.tenant_id,
        key_id=record.key_id,
        name=record.name,
        role=Role(record.role),
        status=KeyStatus(record.status),
        secret_sha256=record.secret_sha256,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        version=int(record.version or 0),
    )


class TenantRepository:
    def create(self, tenant: Tenant) -> Tenant:
        record = TenantRecord(
            pk=tenant_pk(tenant.tenant_id),
            sk=TENANT_SK,
            tenant_id=tenant.tenant_id,
            name=tenant.name,
            country=tenant.country,
            base_currency=tenant.base_currency,
            timezone=tenant.timezone,
            tax_id=tenant.tax_id,
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
        )
        with storage_errors("tenant already exists", tenant_id=tenant.tenant_id):
            record.save(condition=TenantRecord.pk.does_not_exist())
        return _tenant(record)

    def _record(self, tenant_id: str) -> TenantRecord:
        try:
            return TenantRecord.get(tenant_pk(tenant_id), TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("tenant not found") from exc

    def get(self, tenant_id: str) -> Tenant:
        return _tenant(self._record(tenant_id))

    def update(
        self, tenant_id: str, *, expected_version: int, changes: dict[str, Any], at: datetime
    ) -> Tenant:
        """Apply checked setting changes if the tenant is still at `expected_version`.

        One conditional UpdateItem, no read first: the version condition does the checking.
        """
        record = TenantRecord(pk=tenant_pk(tenant_id), sk=TENANT_SK)
        record.version = expected_version  # PynamoDB conditions the update on it and increments it
        actions: list[Action] = [getattr(TenantRecord, name).set(value) for name, value in changes.items()]
        actions.append(TenantRecord.updated_at.set(at))
        try:
            with storage_errors("tenant was changed by someone else; read it again"):
                record.update(actions=actions, condition=TenantRecord.pk.exists())
        except ConflictError:
            self.get(tenant_id)  # a missing tenant is a 404, not a version conflict
            raise ConflictError(
                "tenant was changed by someone else since this version; read it again", field="version"
            ) from None
        return _tenant(record)


class ApiKeyRepository:
    def create(self, key: ApiKey) -> ApiKey:
        record = ApiKeyRecord(
            pk=tenant_pk(key.tenant_id),
            sk=API_KEY_SK_PREFIX + key.key_id,
            tenant_id=key.tenant_id,
            key_id=key.key_id,
            name=key.name,
            role=key.role.value,
            status=key.status.value,
            secret_sha256=key.secret_sha256,
            created_at=key.created_at,
            updated_at=key.created_at,
            expires_at=key.expires_at,
        )
        if key.expires_at is not None:
            record.due_pk, record.due_sk = due_keys(
                API_KEY_EXPIRY_JOB, key.expires_at, key.tenant_id, key.key_id
            )
        with storage_errors("api key already exists", key_id=key.key_id):
            record.save(condition=ApiKeyRecord.pk.does_not_exist())
        return _api_key(record)

    def _record(self, tenant_id: str, key_id: str) -> ApiKeyRecord:
        try:
            return ApiKeyRecord.get(tenant_pk(tenant_id), API_KEY_SK_PREFIX + key_id, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFoundError("api key not found", field="key_id") from exc

    def get(self, tenant_id: str, key_id: str) -> ApiKey:
        return _api_key(self._record(tenant_id, key_id))

    def list(self, tenant_id: str, *, limit: int, starting_after: str | None) -> Page[ApiKey]:
        partition = tenant_pk(tenant_id)
        start = decode_cursor(starting_after, partition_attr="pk", partition_value=partition)
        results = ApiKeyRecord.query(
            partition,
            ApiKeyRecord.sk.startswith(API_KEY_SK_PREFIX),
            limit=limit,
            last_evaluated_key=start,
            page_size=limit,
        )
        items = [_api_key(record) for record in results]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def set_status(self, tenant_id: str, key_id: str, status: KeyStatus, at: datetime) -> ApiKey:
        """Move an active key to revoked or expired; a key that is no longer active is left as it is."""
        return self.set_status_of(self._record(tenant_id, key_id), status, at)

    def set_status_of(self, record: ApiKeyRecord, status: KeyStatus, at: datetime) -> ApiKey:
        """As `set_status`, for a record already in hand (a sweep reads it from the due index)."""
        if record.status != KeyStatus.ACTIVE.value:
            return _api_key(record)
        key_id = record.key_id
        actions: list[Action] = [
            ApiKeyRecord.status.set(status.value),
            ApiKeyRecord.updated_at.set(at),
            # The key leaves the expiry index: nothing is due for it any more.
            ApiKeyRecord.due_pk.remove(),
            ApiKeyRecord.due_sk.remove(),
        ]
        if status is KeyStatus.REVOKED:
            actions.append(ApiKeyRecord.revoked_at.set(at))
        with storage_errors("api key was changed at the same time; retry", key_id=key_id):
            record.update(actions=actions, condition=ApiKeyRecord.status == KeyStatus.ACTIVE.value)
        return _api_key(record)


def ping_table() -> None:
    """A GetItem on a key that never exists: proves the table answers, costs 0.5 RCU."""
    try:
        CashlineItem.get("HEALTH", "HEALTH")
    except DoesNotExist:
        return
