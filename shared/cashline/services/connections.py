"""Processor connections: a tenant's account at Stripe, GoCardless or PayPal. The webhook secret (for
PayPal: the webhook id) and the API credential live in Secrets Manager, never in the table, never in
an answer. Rotating the webhook secret keeps the previous one valid for a while, as Stripe does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cashline.adapters.secrets import SecretStore
from cashline.dal.connection_repository import ConnectionRepository
from cashline.dal.pagination import Page
from cashline.domain.connections import Connection as Connection  # routes name it from here
from cashline.errors import NotFoundError
from cashline.ids import is_id_of, new_id

repository = ConnectionRepository()


@dataclass(frozen=True, slots=True)
class ConnectionSecrets:
    webhook_secrets: list[str]  # the current one first, then the previous one while it is valid
    api_key: str | None


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
    return repository.create(
        Connection(
            tenant_id=tenant_id,
            connection_id=connection_id,
            provider=provider,
            name=name,
            status="active",
            secret_id=secret_id,
            secret_hint=_hint(webhook_secret),
            previous_secret_expires_at=None,
            has_api_credentials=bool(api_key),
            created_at=now,
            updated_at=now,
        )
    )


def find(connection_id: str) -> Connection | None:
    """The connection a webhook names (no tenant yet: the record says whose it is)."""
    if not is_id_of("connection", connection_id):
        return None
    return repository.find(connection_id)


def get(tenant_id: str, connection_id: str) -> Connection:
    connection = find(connection_id)
    if connection is None or connection.tenant_id != tenant_id:
        raise NotFoundError("processor connection not found", field="connection_id")
    return connection


def list_connections(tenant_id: str, *, limit: int, starting_after: str | None) -> Page[Connection]:
    return repository.of_tenant(tenant_id, limit=limit, starting_after=starting_after)


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
    return repository.set_secret_hint(
        connection_id, hint=_hint(webhook_secret), previous_expires_at=expires, now=now
    )
