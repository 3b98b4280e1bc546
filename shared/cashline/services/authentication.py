"""Who calls: the principal behind a presented API key. The API-key authorizer runs this on every
authenticated request and imports nothing else of the services, so its cold start stays near the
stack's floor (tests/unit/test_cold_imports.py)."""

from __future__ import annotations

from datetime import datetime

from cashline.dal.access_repository import ApiKeyRepository
from cashline.domain.access import Principal, parse_api_key, secret_matches
from cashline.errors import NotFoundError

api_keys = ApiKeyRepository()


def authenticate(presented_key: str, *, now: datetime) -> Principal | None:
    """The principal behind a presented key, or None: unknown, wrong secret, revoked or expired."""
    reference = parse_api_key(presented_key)
    if reference is None:
        return None
    try:
        key = api_keys.get(reference.tenant_id, reference.key_id)
    except NotFoundError:
        return None
    if not secret_matches(key, reference.secret) or not key.is_usable(now):
        return None
    return Principal(tenant_id=key.tenant_id, key_id=key.key_id, role=key.role)
