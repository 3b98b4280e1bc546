"""The one schedule-handler helper (chalicelib.schedule_ticks.sweep_tick): the tick's instant is the
EventBridge event's `time` (never the wall clock), the worker is the event's id, each wiring builder
gets the scheduler's settings, and the answer names what the sweep changed. The settings (which bind
the table) and the sweep itself are replaced: this is the helper alone, with no network."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chalice.app import CloudWatchEvent

from cashline.config import SchedulerSettings
from cashline.services.sweeps import SweepResult
from chalicelib import schedule_ticks
from chalicelib.schedule_ticks import sweep_tick

SAMPLE = Path(__file__).parents[2] / "events" / "schedule_collection_steps.json"


def tick_event(**fields: str) -> CloudWatchEvent:
    """The repository's sample tick (events/), with `fields` changed."""
    return CloudWatchEvent({**json.loads(SAMPLE.read_text()), **fields}, context=None)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> SchedulerSettings:
    """The settings the first tick would validate and bind, counted per call."""
    made = SchedulerSettings.model_construct()
    monkeypatch.setattr(schedule_ticks, "scheduler_ready", lambda: made)
    return made


class Sweep:
    """A sweep that notes what it was called with and answers `result`."""

    def __init__(self, result: SweepResult) -> None:
        self.result = result
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **arguments: Any) -> SweepResult:
        self.calls.append(arguments)
        return self.result


def test_the_instant_is_the_events_time_and_the_worker_its_id(settings: SchedulerSettings) -> None:
    run = Sweep(SweepResult(claimed=True, items_read=3, items_changed=2))

    answer = sweep_tick(tick_event(id="tick-7f3a", time="2026-01-05T08:15:00Z"), "sent", run)

    assert run.calls == [{"tick_at": datetime(2026, 1, 5, 8, 15, tzinfo=UTC), "worker": "tick-7f3a"}]
    assert run.calls[0]["tick_at"].tzinfo is UTC
    assert answer == {"claimed": True, "sent": 2, "items_read": 3}


def test_a_time_with_an_offset_is_the_same_instant_in_utc(settings: SchedulerSettings) -> None:
    run = Sweep(SweepResult(claimed=True))
    sweep_tick(tick_event(time="2026-01-05T10:15:00+02:00"), "debits", run)
    assert run.calls[0]["tick_at"] == datetime(2026, 1, 5, 8, 15, tzinfo=UTC)
    assert run.calls[0]["tick_at"].utcoffset().total_seconds() == 0


def test_each_wiring_builder_gets_the_settings_and_its_result_is_passed_by_name(
    settings: SchedulerSettings,
) -> None:
    seen: list[tuple[str, object]] = []

    def builder(name: str) -> Callable[[SchedulerSettings], object]:
        def build(given: SchedulerSettings) -> object:
            seen.append((name, given))
            return f"{name} built"

        return build

    run = Sweep(SweepResult(claimed=True, items_read=1, items_changed=1))
    sweep_tick(tick_event(), "statements", run, store=builder("store"), email=builder("email"))

    assert seen == [("store", settings), ("email", settings)]
    assert run.calls[0]["store"] == "store built"
    assert run.calls[0]["email"] == "email built"


def test_a_tick_already_handled_answers_unclaimed_with_nothing_read(settings: SchedulerSettings) -> None:
    answer = sweep_tick(tick_event(), "keys_expired", Sweep(SweepResult(claimed=False)))
    assert answer == {"claimed": False, "keys_expired": 0, "items_read": 0}


def test_a_tick_without_a_time_zone_is_refused(settings: SchedulerSettings) -> None:
    run = Sweep(SweepResult(claimed=True))
    with pytest.raises(ValueError, match="time zone"):
        sweep_tick(tick_event(time="2026-01-05T08:15:00"), "sent", run)
    assert run.calls == []
