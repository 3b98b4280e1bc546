"""The authorizer's one service call, below HTTP, against DynamoDB Local: the principal behind a
presented key, or None for any key that must not pass (cashline.services.authentication)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cashline.domain.access import Principal, Role
from cashline.services.access import create_api_key, revoke_api_key
from cashline.services.authentication import authenticate
from tests.utils import TestTenant

CREATED = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)


def test_a_valid_key_gives_its_tenant_key_and_role(tenant: TestTenant) -> None:
    created = create_api_key(tenant.tenant_id, name="ledger", role=Role.FINANCE, now=CREATED)

    principal = authenticate(created.secret, now=CREATED + timedelta(minutes=1))

    assert principal == Principal(tenant_id=tenant.tenant_id, key_id=created.key.key_id, role=Role.FINANCE)


def test_a_wrong_secret_an_unknown_key_or_garbage_gives_none(tenant: TestTenant) -> None:
    created = create_api_key(tenant.tenant_id, name="ledger", role=Role.ADMIN, now=CREATED)
    wrong_secret = created.secret[:-4] + ("AAAA" if not created.secret.endswith("AAAA") else "BBBB")
    other_tenant = created.secret.replace(tenant.tenant_id, "ten_01JD3Z5W4YV6Q3R0M8X2N5B7C9")

    for presented in (wrong_secret, other_tenant, "not-a-key", ""):
        assert authenticate(presented, now=CREATED) is None


def test_a_revoked_or_expired_key_gives_none(tenant: TestTenant) -> None:
    revoked = create_api_key(tenant.tenant_id, name="old", role=Role.ADMIN, now=CREATED)
    revoke_api_key(tenant.tenant_id, revoked.key.key_id, now=CREATED + timedelta(hours=1))
    expiring = create_api_key(
        tenant.tenant_id, name="temp", role=Role.READ_ONLY, now=CREATED, expires_in_days=1
    )

    assert authenticate(revoked.secret, now=CREATED + timedelta(hours=2)) is None
    assert authenticate(expiring.secret, now=CREATED + timedelta(hours=23)) is not None
    assert authenticate(expiring.secret, now=CREATED + timedelta(days=1, minutes=1)) is None
