"""A tenant's reconciliation settings: the score from which a proposal is applied without a person,
and how many days a processor payout may take to reach the bank before it is flagged."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cashline.dal.bank_repository import ReconciliationSettings, bank
from cashline.errors import ConflictError


def get_settings(tenant_id: str) -> ReconciliationSettings:
    return bank.get_settings(tenant_id)


def update_settings(
    tenant_id: str, *, auto_match_threshold: int, not_in_bank_days: int, version: int, now: datetime
) -> ReconciliationSettings:
    """Save the settings on the version read (0: never saved); a stale version is a 409 naming it."""
    current = bank.get_settings(tenant_id)
    if current.version != version:
        raise ConflictError(
            f"the settings are at version {current.version}; read them again", field="version"
        )
    wanted = replace(current, auto_match_threshold=auto_match_threshold, not_in_bank_days=not_in_bank_days)
    return bank.update_settings(tenant_id, wanted, now)
