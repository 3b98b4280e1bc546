"""What every scheduled sweep's handler does around its service: bind the settings on the first tick,
take the tick's instant from the EventBridge event's `time` (never the wall clock, so
`cashline tick --at ...` and replays run exactly as the real tick did), use the event's id as the
worker that claims the tick, and answer how much the sweep read and changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import CloudWatchEvent

from cashline.clock import parse_utc
from cashline.services.sweeps import SweepResult
from chalicelib.runtime import scheduler_ready

if TYPE_CHECKING:  # the settings models are imported on the first tick (cashline.config)
    from cashline.config import SchedulerSettings


def sweep_tick(
    event: CloudWatchEvent,
    changed: str,
    run: Callable[..., SweepResult],
    **wiring: Callable[[SchedulerSettings], object],
) -> dict[str, Any]:
    """Run one sweep for this tick: `run(tick_at=..., worker=..., **wired)`, where each of `wiring`
    builds one more argument from the settings (a runtime, a mailer). `changed` names what the
    sweep's count of changed items means ("sent", "debits", ...) in the handler's answer."""
    settings = scheduler_ready()
    wired = {name: build(settings) for name, build in wiring.items()}
    result = run(tick_at=parse_utc(event.time), worker=event.event_id, **wired)
    return {"claimed": result.claimed, changed: result.items_changed, "items_read": result.items_read}
