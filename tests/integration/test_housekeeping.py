"""The scheduled sweep: exactly once per tick, reads only what is due, catches up missed ticks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from cashline.domain.access import Role
from cashline.services.access import create_api_key, get_api_key
from localcloud.handlers import fire_schedule
from tests.utils import TestTenant

# Each test ticks in its own far-future hour so the shared sweep cursor never interferes.
BASE = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)


def test_a_tick_expires_the_keys_that_are_due_and_only_those(chalice_app: Any, tenant: TestTenant) -> None:
    created = BASE - timedelta(days=3)
    due = create_api_key(tenant.tenant_id, name="due", role=Role.FINANCE, now=created, expires_in_days=1)
    later = create_api_key(tenant.tenant_id, name="later", role=Role.FINANCE, now=created, expires_in_days=30)

    result = fire_schedule(chalice_app, "housekeeping", BASE)

    assert result["claimed"] is True
    assert get_api_key(tenant.tenant_id, due.key.key_id).status.value == "expired"
    assert get_api_key(tenant.tenant_id, later.key.key_id).status.value == "active"


def test_the_same_tick_twice_or_concurrently_runs_once(chalice_app: Any) -> None:
    tick = BASE + timedelta(days=10)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: fire_schedule(chalice_app, "housekeeping", tick), range(6)))
    assert sum(r["claimed"] for r in results) == 1
    assert fire_schedule(chalice_app, "housekeeping", tick)["claimed"] is False


def test_a_sweep_reads_nothing_that_is_not_due(chalice_app: Any, tenant: TestTenant) -> None:
    start = BASE + timedelta(days=20)
    fire_schedule(chalice_app, "housekeeping", start)
    for index in range(5):
        create_api_key(
            tenant.tenant_id, name=f"future {index}", role=Role.READ_ONLY, now=start, expires_in_days=300
        )
    result = fire_schedule(chalice_app, "housekeeping", start + timedelta(hours=1))
    assert result == {"claimed": True, "keys_expired": 0, "items_read": 0}


def test_missed_ticks_are_caught_up_by_the_next_one(chalice_app: Any, tenant: TestTenant) -> None:
    start = BASE + timedelta(days=40)
    fire_schedule(chalice_app, "housekeeping", start)
    key = create_api_key(tenant.tenant_id, name="soon", role=Role.READ_ONLY, now=start, expires_in_days=1)
    # The clock skipped three days of ticks; the next one still finds the key.
    result = fire_schedule(chalice_app, "housekeeping", start + timedelta(days=3))
    assert result["keys_expired"] >= 1
    assert get_api_key(tenant.tenant_id, key.key.key_id).status.value == "expired"
