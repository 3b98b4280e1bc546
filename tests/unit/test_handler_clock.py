"""The instant API requests and queue messages are handled at can be passed in (finding 11): the
handlers' clock, and the local invokers (gateway, schedules, queues) that set it per call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.app import Chalice, CloudWatchEvent, Rate, SQSEvent

from cashline.clock import fixed_clock, system_clock
from chalicelib.runtime import HandlerClock, handler_clock
from localcloud.gateway import ApiGateway
from localcloud.handlers import deliver_queue_batch, fire_schedule, set_handler_clock

PROCESS_WIDE = datetime(2031, 6, 30, 21, 30, tzinfo=UTC)
PER_CALL = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)


def test_the_system_clock_is_the_default_and_replace_hands_back_the_previous_clock() -> None:
    clock = HandlerClock()
    assert clock.replace(fixed_clock(PROCESS_WIDE)) is system_clock
    assert clock() == PROCESS_WIDE
    previous = clock.replace(system_clock)
    assert previous() == PROCESS_WIDE


def test_a_per_call_clock_holds_inside_its_block_on_its_thread_only() -> None:
    clock = HandlerClock()
    clock.replace(fixed_clock(PROCESS_WIDE))
    seen_elsewhere: list[datetime] = []
    with clock.during(fixed_clock(PER_CALL)):
        assert clock() == PER_CALL
        with clock.during(fixed_clock(PROCESS_WIDE.replace(year=2040))):
            assert clock().year == 2040
        assert clock() == PER_CALL
        other = threading.Thread(target=lambda: seen_elsewhere.append(clock()))
        other.start()
        other.join()
    assert seen_elsewhere == [PROCESS_WIDE]  # a concurrent request keeps the process-wide clock
    assert clock() == PROCESS_WIDE


@pytest.fixture
def app_clock() -> Iterator[None]:
    """The app's own handler clock, set process-wide for the test and put back after it."""
    previous = set_handler_clock(fixed_clock(PROCESS_WIDE))
    yield
    set_handler_clock(previous)


def _app(seen: list[datetime] | None = None) -> Chalice:
    """An app whose handlers answer (or, for queue messages, note in `seen`) the instant they ran at."""
    app = Chalice(app_name="clock-test")

    @app.route("/now")
    def now() -> dict[str, str]:
        return {"now": handler_clock().isoformat()}

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="tick")
    def tick(event: CloudWatchEvent) -> dict[str, str]:
        return {"event_time": event.time, "now": handler_clock().isoformat()}

    @app.on_sqs_message(queue="clock-queue", name="consume")
    def consume(event: SQSEvent) -> dict[str, Any]:
        (seen if seen is not None else []).extend(handler_clock() for _ in event)
        return {"batchItemFailures": []}

    return app


def test_the_gateway_answers_at_the_instant_it_is_given(app_clock: None) -> None:
    gateway = ApiGateway(_app())
    assert gateway.call("GET", "/now").json() == {"now": PROCESS_WIDE.isoformat()}
    assert gateway.call("GET", "/now", at=PER_CALL).json() == {"now": PER_CALL.isoformat()}
    assert gateway.call("GET", "/now").json() == {"now": PROCESS_WIDE.isoformat()}


def test_a_schedule_fired_at_an_instant_runs_everything_at_that_instant(app_clock: None) -> None:
    result = fire_schedule(_app(), "tick", PER_CALL)
    assert result == {"event_time": "2027-03-15T10:00:00Z", "now": PER_CALL.isoformat()}


def test_a_queue_batch_is_handled_at_the_instant_it_is_given(app_clock: None) -> None:
    seen: list[datetime] = []
    app = _app(seen)
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": "{}"}
    assert deliver_queue_batch(app, "clock-queue", [message], at=PER_CALL) == []
    assert deliver_queue_batch(app, "clock-queue", [message]) == []
    assert seen == [PER_CALL, PROCESS_WIDE]
