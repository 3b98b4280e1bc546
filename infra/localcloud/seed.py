"""Demo data for `make run`: a tenant and keys of each role.

Invoices, counterparties and payments join the seed as their issues land (docs/roadmap in the
issue notes); the seed goes through the same services the API uses, never raw table writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cashline.domain.access import Role
from cashline.services.access import TenantSettings, create_api_key, create_tenant
from localcloud.paths import LOCAL_STATE


@dataclass(frozen=True, slots=True)
class DemoTenant:
    tenant_id: str
    keys: dict[Role, str]


def seed_demo(now: datetime) -> DemoTenant:
    tenant = create_tenant(
        TenantSettings(
            name="Nordlicht Maschinenbau GmbH", country="DE", base_currency="EUR", timezone="Europe/Berlin"
        ),
        now=now,
    )
    keys = {
        role: create_api_key(tenant.tenant_id, name=f"demo {role.value}", role=role, now=now).secret
        for role in (Role.ADMIN, Role.FINANCE, Role.READ_ONLY)
    }
    LOCAL_STATE.mkdir(exist_ok=True)
    (LOCAL_STATE / "demo_api_key").write_text(keys[Role.ADMIN] + "\n")
    (LOCAL_STATE / "demo_tenant_id").write_text(tenant.tenant_id + "\n")
    return DemoTenant(tenant_id=tenant.tenant_id, keys=keys)
