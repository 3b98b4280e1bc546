"""Processor connections: a tenant's account at Stripe, GoCardless or PayPal. The webhook secret (for
PayPal: the webhook id) and the API credential live in Secrets Manager, never in the table, never in
an answer. Rotating the webhook secret keeps the previous one valid for a while, as Stripe does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from cashline.adapters.secrets import SecretStore
from cashline.dal.errors import storage_errors
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.payment_records import CONNECTION_SK, ProcessorConnectionRecord, connection_pk
from cashline.errors import NotFoundError
from cashline.ids import is_id_of, new_id


@dataclass(frozen=True, slots=True)
class Connection:
    tenant_id: str
    connection_id: str
    provider: str
    name: str | None
    status: str
    secret_id: str
    secret_hint: str | None
    previous_secret_expires_at: datetime | None
    has_api_credentials: bool
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def webhook_path(self) -> str:
        return f"/v1/webhooks/{self.provider}/{self.connection_id}"


@dataclass(frozen=True, slots=True)
class ConnectionSecrets:
    webhook_secrets: list[str]  # the current one first, then the previous one while it is valid
    api_key: str | None


def _to_connection(r: ProcessorConnectionRecord) -> Connection:
    return Connection(
        tenant_id=r.tenant_id,
        connection_id=r.connection_id,
        provider=r.provider,
        name=r.name,
        status=r.status,
        secret_id=r.secret_id,
        secret_hint=r.secret_hint,
        previous_secret_expires_at=r.previous_secret_expires_at,
        has_api_credentials=r.has_api_credentials == "yes",
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=int(r.version or 0),
    )


def _hint(secret: str) -> str:
    return "..." + secret[-4:]


def create(
    store: SecretStore,
    tenant_id: str,
    *,
    provider: str,
    name: str | None,
    webhook_secret: str,
    api_key: str | None,
    now: datetime,
) -> Connection:
    connection_id = new_id("connection")
    secret_id = store.name_for("connections", tenant_id, connection_id)
    store.put(
        secret_id, {"webhook_secrets": [webhook_secret], "previous_expires_at": None, "api_key": api_key}
    )
    record = ProcessorConnectionRecord(
        pk=connection_pk(connection_id),
        sk=CONNECTION_SK,
        tenant_id=tenant_id,
        connection_id=connection_id,
        provider=provider,
        name=name,
        status="active",
        secret_id=secret_id,
        secret_hint=_hint(webhook_secret),
        has_api_credentials="yes" if api_key else "no",
        created_at=now,
        updated_at=now,
        gsi1pk=f"T#{tenant_id}#PCONN",
        gsi1sk=connection_id,
    )
    with storage_errors("connection exists"):
        record.save(condition=ProcessorConnectionRecord.pk.does_not_exist())
    return _to_connection(record)


def find(connection_id: str) -> Connection | None:
    """The connection a webhook names (no tenant yet: the record says whose it is)."""
    if not is_id_of("connection", connection_id):
        return None
    try:
        return _to_connection(ProcessorConnectionRecord.get(connection_pk(connection_id), CONNECTION_SK))
    except DoesNotExist:
        return None


def get(tenant_id: str, connection_id: str) -> Connection:
    connection = find(connection_id)
    if connection is None or connection.tenant_id != tenant_id:
        raise NotFoundError("processor connection not found", field="connection_id")
    return connection


def list_connections(tenant_id: str, *, limit: int, starting_after: str | None) -> Page[Connection]:
    partition = f"T#{tenant_id}#PCONN"
    start = decode_cursor(starting_after, partition_attr="gsi1pk", partition_value=partition)
    results = ProcessorConnectionRecord.gsi1.query(
        partition, limit=limit, page_size=limit, last_evaluated_key=start
    )
    items = [_to_connection(i) for i in results if isinstance(i, ProcessorConnectionRecord)]
    return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))


def secrets_of(store: SecretStore, connection: Connection, *, now: datetime) -> ConnectionSecrets:
    value: dict[str, Any] = store.get(connection.secret_id)
    secrets = [str(s) for s in value.get("webhook_secrets", [])]
    expires = value.get("previous_expires_at")
    if len(secrets) > 1 and (not expires or datetime.fromisoformat(expires) <= now):
        secrets = secrets[:1]  # the previous secret's grace period is over
    return ConnectionSecrets(webhook_secrets=secrets, api_key=value.get("api_key"))


def rotate(
    store: SecretStore,
    tenant_id: str,
    connection_id: str,
    *,
    webhook_secret: str,
    valid_hours: int,
    now: datetime,
) -> Connection:
    connection = get(tenant_id, connection_id)
    current: dict[str, Any] = store.get(connection.secret_id)
    previous = [str(s) for s in current.get("webhook_secrets", [])][:1]
    expires = now + timedelta(hours=valid_hours) if previous and valid_hours else None
    store.put(
        connection.secret_id,
        {
            "webhook_secrets": [webhook_secret, *previous] if expires else [webhook_secret],
            "previous_expires_at": expires.isoformat() if expires else None,
            "api_key": current.get("api_key"),
        },
    )
    record = ProcessorConnectionRecord.get(connection_pk(connection_id), CONNECTION_SK, consistent_read=True)
    with storage_errors("connection changed meanwhile; retry"):
        record.update(
            actions=[
                ProcessorConnectionRecord.secret_hint.set(_hint(webhook_secret)),
                ProcessorConnectionRecord.previous_secret_expires_at.set(expires)
                if expires
                else ProcessorConnectionRecord.previous_secret_expires_at.remove(),
                ProcessorConnectionRecord.updated_at.set(now),
            ]
        )
    return _to_connection(record)
