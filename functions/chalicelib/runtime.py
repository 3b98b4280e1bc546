"""Cold-start wiring, done on the first event rather than at import.

`chalice package` imports app.py to discover routes without any environment, so settings are
validated (and the table bound) on the first invocation of each Lambda instead.
"""

from __future__ import annotations

from functools import lru_cache

from cashline.config import (
    ApiSettings,
    SchedulerSettings,
    api_settings,
    reset_settings_cache,
    scheduler_settings,
)
from cashline.dal.table import bind_from_settings


@lru_cache(maxsize=1)
def api_ready() -> ApiSettings:
    settings = api_settings()
    bind_from_settings(settings)
    return settings


@lru_cache(maxsize=1)
def scheduler_ready() -> SchedulerSettings:
    settings = scheduler_settings()
    bind_from_settings(settings)
    return settings


def reset() -> None:
    """For tests and the local runner after they change the environment."""
    reset_settings_cache()
    api_ready.cache_clear()
    scheduler_ready.cache_clear()
