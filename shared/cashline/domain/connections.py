"""A tenant's account at a payment processor, as Cashline knows it (the secrets are elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Connection:
    tenant_id: str
    connection_id: str
    provider: str  # stripe | gocardless | paypal
    name: str | None
    status: str  # active | disabled
    secret_id: str  # where Secrets Manager keeps the webhook secret and the API credential
    secret_hint: str | None  # the last four characters of the webhook secret
    previous_secret_expires_at: datetime | None
    has_api_credentials: bool
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def webhook_path(self) -> str:
        return f"/v1/webhooks/{self.provider}/{self.connection_id}"
