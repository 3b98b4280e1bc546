"""The settings models behind `cashline.config`: one per function, built from mixins.

Every value comes from the environment the template (or the local runner) sets; nothing falls
back silently. `*_endpoint` fields exist only for the local cloud and stay unset in AWS.

Reach them through `cashline.config`: this module (pydantic's validators) is imported on a
function's first event, not when its handler module is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

ENV_PREFIX = "CASHLINE_"


class _Base(BaseModel):
    """Validated from the environment by `from_environment`, as pydantic-settings would with
    `env_prefix="CASHLINE_"`: a field is read from `CASHLINE_<FIELD>` (in any case), or from its own
    `validation_alias` (AWS_REGION); other variables are ignored. Plain pydantic, because
    pydantic-settings (its sources, dotenv, asyncio) added about a quarter of the stack's floor to
    every function's first event for features Cashline does not use: every value here is one string.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        found = {name.lower(): value for name, value in (os.environ if environ is None else environ).items()}
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            variable = (alias or f"{ENV_PREFIX}{name}").lower()
            if variable in found:
                values[alias or name] = found[variable]
        return cls.model_validate(values)


class AwsSettings(_Base):
    region: str = Field(validation_alias="AWS_REGION")


class StageSettings(AwsSettings):
    stage: Literal["local", "test", "dev", "prod"]


class TableSettings(AwsSettings):
    table_name: str = Field(min_length=3)
    idempotency_table_name: str = Field(min_length=3)
    # DynamoDB Local in the local cloud; unset in AWS.
    dynamodb_endpoint: HttpUrl | None = None


class StorageSettings(AwsSettings):
    documents_bucket: str = Field(min_length=3)
    # moto's server in the local cloud; unset in AWS.
    aws_endpoint: HttpUrl | None = None


class DebitSettings(_Base):
    """Cashline's own processor accounts, which debit businesses for their installments. In AWS the
    template resolves the secrets from Secrets Manager; locally they point at the processor stand-in."""

    stripe_api_key: SecretStr = SecretStr("")
    stripe_api_base: HttpUrl | None = None
    gocardless_access_token: SecretStr = SecretStr("")
    gocardless_base_url: HttpUrl | None = None
    gocardless_environment: Literal["live", "sandbox"] = "live"
    processor_timeout_seconds: float = Field(default=10, gt=0, le=25)


class MailSettings(_Base):
    mail_from: str = Field(min_length=3)
    # The local cloud's outbox folder; unset in AWS.
    outbox_dir: str | None = None
    # SES publishes bounces and complaints of reminders through this configuration set; unset locally.
    ses_configuration_set: str | None = None
    # The sender name on reminder SMS where the country allows one (1-11 letters or digits).
    sms_sender_id: str | None = None


class AlertSettings(_Base):
    """Where alerts go: the event bus, the finance contacts' e-mail (MailSettings), tenants' webhooks."""

    event_bus_name: str = Field(min_length=1)
    # Secrets Manager names of connections and outbound webhooks start with this.
    secrets_prefix: str = Field(min_length=3)
    # Local cloud only: tenants' webhook URLs may point at this machine (never in AWS: SSRF).
    allow_private_webhooks: bool = False
    # moto's server in the local cloud (Secrets Manager, EventBridge); unset in AWS.
    aws_endpoint: HttpUrl | None = None


class PaymentIntakeSettings(_Base):
    webhook_queue_url: str = Field(min_length=3)
    # Local cloud and tests only: PayPal's signing certificate from this file instead of PayPal's URL.
    paypal_cert_file: str | None = None


class ApiSettings(
    StageSettings,
    TableSettings,
    StorageSettings,
    DebitSettings,
    MailSettings,
    AlertSettings,
    PaymentIntakeSettings,
):
    """What the API function needs."""

    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)


class SchedulerSettings(
    StageSettings, TableSettings, StorageSettings, DebitSettings, MailSettings, AlertSettings
):
    """What the scheduled functions need."""

    # moto's server in the local cloud (SES); unset in AWS.
    aws_endpoint: HttpUrl | None = None
