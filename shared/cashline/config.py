"""Settings, validated once on a function's first event. One model per function, built from mixins
(cashline.config_models: every value from the environment, nothing falls back silently).

Handler modules import this module, never the models: pydantic's validators cost a cold start about
a third of the stack's floor, which an authorizer or a schedule handler must not pay at import. The
models are imported when `api_settings()` or `scheduler_settings()` first runs; a type annotation
names them under `TYPE_CHECKING`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import HttpUrl

    from cashline.config_models import AlertSettings as AlertSettings
    from cashline.config_models import ApiSettings as ApiSettings
    from cashline.config_models import AwsSettings as AwsSettings
    from cashline.config_models import DebitSettings as DebitSettings
    from cashline.config_models import MailSettings as MailSettings
    from cashline.config_models import PaymentIntakeSettings as PaymentIntakeSettings
    from cashline.config_models import SchedulerSettings as SchedulerSettings
    from cashline.config_models import StageSettings as StageSettings
    from cashline.config_models import StorageSettings as StorageSettings
    from cashline.config_models import TableSettings as TableSettings


def __getattr__(name: str) -> Any:
    """`from cashline.config import ApiSettings` still works where a model is needed at run time
    (it imports the models then); an annotation should import it under `TYPE_CHECKING` instead."""
    if name.endswith("Settings"):
        # defer: the models (pydantic's validators), until a caller needs a model class at run time.
        from cashline import config_models

        if hasattr(config_models, name):
            return getattr(config_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def url_text(url: HttpUrl | None) -> str | None:
    """An optional endpoint as boto3 and the SDKs take it: a string without the trailing slash."""
    return str(url).rstrip("/") if url else None


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    # defer: the models (pydantic's validators) are imported on the first event, not at cold import.
    from cashline.config_models import ApiSettings

    return ApiSettings.from_environment()  # missing or invalid values fail here, on the first event


@lru_cache(maxsize=1)
def scheduler_settings() -> SchedulerSettings:
    # defer: the models (pydantic's validators) are imported on the first event, not at cold import.
    from cashline.config_models import SchedulerSettings

    return SchedulerSettings.from_environment()


def reset_settings_cache() -> None:
    """Tests and the local runner change the environment; forget the cached settings."""
    api_settings.cache_clear()
    scheduler_settings.cache_clear()
