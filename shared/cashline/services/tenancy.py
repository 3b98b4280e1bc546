"""The tenants every service reads: one repository instance, so no service borrows another's."""

from __future__ import annotations

from cashline.dal.access_repository import TenantRepository

tenants = TenantRepository()
