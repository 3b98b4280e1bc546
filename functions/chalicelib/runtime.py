"""Cold-start wiring, done on the first event rather than at import; and the clock of handlers whose
event carries no time of its own.

`chalice package` imports app.py to discover routes without any environment, so settings are
validated (and the table bound) on the first invocation of each Lambda instead. For the same reason
a route or handler module may name its service `deferred`: the service is imported on the first
call that uses it, so the API function's cold start does not import every service of every route.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cashline.clock import Clock, system_clock
from cashline.config import api_settings, reset_settings_cache, scheduler_settings
from cashline.dal.table import bind_from_settings

if TYPE_CHECKING:  # the models are imported on the first event (cashline.config)
    from cashline.config import ApiSettings, SchedulerSettings


class HandlerClock:
    """`now` for API requests and queue messages: the system clock unless a caller sets another.

    Schedules take their instant from the EventBridge event's `time`; a request or an SQS message
    has no such field that means "now", so tests (and the local cloud) pass the instant in here:
    for the whole process with `replace`, or for one call on this thread with `during`.
    """

    def __init__(self) -> None:
        self._process: Clock = system_clock
        # A context variable, not a global: concurrent requests in one process (the local server, a
        # concurrency test) may each run at their own instant.
        self._call: ContextVar[Clock | None] = ContextVar("cashline_call_clock", default=None)

    def __call__(self) -> datetime:
        return (self._call.get() or self._process)()

    def replace(self, clock: Clock) -> Clock:
        """Set the process-wide clock; returns the one it replaced, to put back afterwards."""
        previous, self._process = self._process, clock
        return previous

    @contextmanager
    def during(self, clock: Clock) -> Iterator[None]:
        """Use `clock` for the calls made inside this block (on this thread or task) only."""
        token = self._call.set(clock)
        try:
            yield
        finally:
            self._call.reset(token)


handler_clock = HandlerClock()


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


class DeferredModule:
    """Stands for a module until its first attribute is read, then imports it (once: later reads are
    a lookup in `sys.modules`; `import_module` is thread-safe). Made by `deferred`."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"


def deferred(module: str) -> Any:
    """A module imported on first use rather than at cold start. Declare it typed, so mypy checks
    every call as if it were a plain import (tests/unit/test_cold_start_wiring.py: the import waits):

        if TYPE_CHECKING:
            from cashline.services import access
        else:
            access = deferred("cashline.services.access")
    """
    return DeferredModule(module)
