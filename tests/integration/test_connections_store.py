"""Processor connections below HTTP (services/connections.py over dal/connection_repository.py), against
DynamoDB Local with an in-memory secret store: created, found by the id a webhook names, listed per
tenant, and rotated with the previous secret valid for a grace period. Instants are fixed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cashline.adapters.secrets import SecretStore
from cashline.errors import NotFoundError
from cashline.services import connections

pytestmark = pytest.mark.usefixtures("local_cloud")

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class MemorySecrets(SecretStore):
    """The secret store's interface, kept in a dict (no Secrets Manager)."""

    def __init__(self) -> None:
        super().__init__(prefix="test", region="eu-central-1", endpoint=None)
        self.values: dict[str, dict[str, Any]] = {}

    def put(self, name: str, value: dict[str, Any]) -> None:
        self.values[name] = value

    def get(self, name: str) -> dict[str, Any]:
        return self.values[name]


def a_tenant() -> str:
    return f"ten_conn_{uuid.uuid4().hex[:12]}"


def test_a_connection_is_found_by_the_id_a_webhook_names_and_only_by_its_tenant() -> None:
    # Given a Stripe connection of one tenant
    store, tenant_id = MemorySecrets(), a_tenant()
    created = connections.create(
        store,
        tenant_id,
        provider="stripe",
        name="main",
        webhook_secret="whsec_abcd1234",
        api_key=None,
        now=NOW,
    )

    # Then a webhook finds it by its id alone, its tenant reads it, another tenant does not
    assert connections.find(created.connection_id) == created
    assert connections.get(tenant_id, created.connection_id) == created
    with pytest.raises(NotFoundError):
        connections.get(a_tenant(), created.connection_id)
    # and the table keeps a hint of the secret, never the secret
    assert created.secret_hint == "...1234"
    assert created.has_api_credentials is False
    assert created.webhook_path == f"/v1/webhooks/stripe/{created.connection_id}"
    assert store.values[created.secret_id]["webhook_secrets"] == ["whsec_abcd1234"]


def test_a_tenants_connections_are_listed_in_pages() -> None:
    # Given three connections of one tenant
    store, tenant_id = MemorySecrets(), a_tenant()
    made = {
        connections.create(
            store, tenant_id, provider="gocardless", name=None, webhook_secret=f"s{n}", api_key="k", now=NOW
        ).connection_id
        for n in range(3)
    }

    # When they are listed two at a time
    first = connections.list_connections(tenant_id, limit=2, starting_after=None)
    second = connections.list_connections(tenant_id, limit=2, starting_after=first.next_cursor)

    # Then every one comes once
    assert first.has_more and len(first.items) == 2
    assert {c.connection_id for c in first.items + second.items} == made


def test_a_rotated_secret_keeps_the_previous_one_valid_for_its_grace_period() -> None:
    # Given a connection
    store, tenant_id = MemorySecrets(), a_tenant()
    created = connections.create(
        store, tenant_id, provider="stripe", name=None, webhook_secret="whsec_old_1111", api_key=None, now=NOW
    )

    # When its webhook secret is rotated with a day of grace
    rotated = connections.rotate(
        store, tenant_id, created.connection_id, webhook_secret="whsec_new_2222", valid_hours=24, now=NOW
    )

    # Then both secrets verify for the day, then the new one alone
    assert rotated.secret_hint == "...2222"
    assert rotated.previous_secret_expires_at == NOW + timedelta(hours=24)
    assert rotated.version == created.version + 1
    during = connections.secrets_of(store, rotated, now=NOW + timedelta(hours=1))
    after = connections.secrets_of(store, rotated, now=NOW + timedelta(hours=25))
    assert during.webhook_secrets == ["whsec_new_2222", "whsec_old_1111"]
    assert after.webhook_secrets == ["whsec_new_2222"]


def test_a_rotation_without_grace_forgets_the_previous_secret_at_once() -> None:
    store, tenant_id = MemorySecrets(), a_tenant()
    created = connections.create(
        store, tenant_id, provider="paypal", name=None, webhook_secret="WH-1", api_key="client", now=NOW
    )

    rotated = connections.rotate(
        store, tenant_id, created.connection_id, webhook_secret="WH-2", valid_hours=0, now=NOW
    )

    assert rotated.previous_secret_expires_at is None
    assert connections.secrets_of(store, rotated, now=NOW).webhook_secrets == ["WH-2"]
    assert connections.secrets_of(store, rotated, now=NOW).api_key == "client"
