from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cashline.domain.access import (
    ApiKey,
    KeyStatus,
    Role,
    bearer_token,
    format_api_key,
    hash_secret,
    new_secret,
    parse_api_key,
    secret_matches,
)
from cashline.ids import is_id_of, new_id

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _key(**changes: object) -> ApiKey:
    values: dict[str, object] = {
        "tenant_id": new_id("tenant"),
        "key_id": new_id("api_key"),
        "name": "k",
        "role": Role.FINANCE,
        "status": KeyStatus.ACTIVE,
        "secret_sha256": hash_secret("s" * 43),
        "created_at": NOW,
        "expires_at": None,
        "revoked_at": None,
        "version": 1,
    }
    values.update(changes)
    return ApiKey(**values)  # type: ignore[arg-type]


def test_a_key_round_trips_through_its_text_form() -> None:
    tenant_id, key_id, secret = new_id("tenant"), new_id("api_key"), new_secret()
    reference = parse_api_key(format_api_key(tenant_id, key_id, secret))
    assert reference is not None
    assert (reference.tenant_id, reference.key_id, reference.secret) == (tenant_id, key_id, secret)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "Bearer x",
        "clk_",
        "clk_a.b.c",
        f"clk_{new_id('tenant')}.{new_id('tenant')}.{'x' * 43}",
        f"clk_{new_id('tenant')}.{new_id('api_key')}.short",
        f"sk_{new_id('tenant')}.{new_id('api_key')}.{'x' * 43}",
    ],
)
def test_malformed_keys_are_not_parsed(presented: str) -> None:
    assert parse_api_key(presented) is None


def test_only_the_hash_is_compared() -> None:
    key = _key()
    assert secret_matches(key, "s" * 43)
    assert not secret_matches(key, "t" * 43)


def test_revoked_and_expired_keys_are_unusable() -> None:
    assert _key().is_usable(NOW)
    assert not _key(status=KeyStatus.REVOKED).is_usable(NOW)
    assert not _key(expires_at=NOW).is_usable(NOW)
    assert _key(expires_at=NOW + timedelta(seconds=1)).is_usable(NOW)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.can(Role.FINANCE) and Role.ADMIN.can(Role.READ_ONLY)
    assert Role.FINANCE.can(Role.READ_ONLY) and not Role.FINANCE.can(Role.ADMIN)
    assert not Role.READ_ONLY.can(Role.FINANCE)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None)],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_ids_are_prefixed_time_ordered_and_checked() -> None:
    first = new_id("invoice", now_ms=1_000)
    second = new_id("invoice", now_ms=2_000)
    assert first.startswith("inv_") and first < second
    assert is_id_of("invoice", first) and not is_id_of("payment", first)
    assert not is_id_of("invoice", "inv_../../etc")
