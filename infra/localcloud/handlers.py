"""Invoke the Chalice app's scheduled and queued handlers with the events Lambda would pass them.

`cashline tick --at` and the runner's own clock both go through `fire_schedules`, so a tick in a
test, a demo or support is the same code path as the one the clock drives. Every invocation can be
given its instant (`at`), so tests never depend on the wall clock or on how fast the machine is.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Cron, Rate, ScheduledEventConfig, ScheduleExpression, SQSEventConfig
from chalice.local import LambdaContext
from croniter import croniter

from cashline.clock import Clock, fixed_clock
from localcloud.paths import FUNCTIONS

if TYPE_CHECKING:
    from chalicelib.runtime import HandlerClock

ACCOUNT = "123456789012"
REGION = "eu-central-1"


def load_app() -> Chalice:
    """Import functions/app.py the way Chalice does: with the project folder on the path."""
    if str(FUNCTIONS) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS))
    module = importlib.import_module("app")
    app: Chalice = module.app
    return app


def wire_app_to_environment() -> None:
    """After the environment changed: let the app validate settings and bind its table again."""
    runtime = importlib.import_module("chalicelib.runtime")
    runtime.reset()
    runtime.api_ready()


def _handler_clock() -> HandlerClock:
    # chalicelib is importable once load_app has put the Chalice project on the path.
    clock: HandlerClock = importlib.import_module("chalicelib.runtime").handler_clock
    return clock


def set_handler_clock(clock: Clock) -> Clock:
    """Make `clock` the app's "now" for requests and queue messages, process-wide; returns the clock
    it replaced (put it back when done)."""
    return _handler_clock().replace(clock)


@contextmanager
def clock_at(at: datetime | None) -> Iterator[None]:
    """Inside this block, on this thread, the app's handlers run as if it were `at` (None: unchanged)."""
    if at is None:
        yield
        return
    with _handler_clock().during(fixed_clock(at)):
        yield


def lambda_context(function_name: str, timeout_s: int = 30) -> LambdaContext:
    return LambdaContext(function_name=function_name, memory_size=512, max_runtime_ms=timeout_s * 1000)


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_event(rule_name: str, at: datetime) -> dict[str, Any]:
    """An EventBridge "Scheduled Event", as Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": _utc_text(at),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/cashline-{rule_name}"],
        "detail": {},
    }


def sqs_event(queue_name: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS batch, as Lambda's event source mapping delivers it."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    expression: ScheduleExpression | str

    def previous_fire(self, now: datetime) -> datetime:
        """The latest instant at or before `now` at which this schedule fires."""
        now = now.astimezone(UTC).replace(microsecond=0)
        expression = self.expression
        if isinstance(expression, Rate):
            unit = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}[expression.unit]
            period = expression.value * unit
            epoch = int(now.timestamp())
            return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)
        fire: datetime = croniter(_croniter_expression(expression), now + timedelta(seconds=1)).get_prev(
            datetime
        )
        return fire.astimezone(UTC)


def _croniter_expression(expression: ScheduleExpression | str) -> str:
    if not isinstance(expression, Cron):
        raise ValueError(f"unsupported schedule expression {expression!r}")
    day_of_week = str(expression.day_of_week)
    if day_of_week.isdigit():  # AWS counts 1=SUN..7=SAT, cron 0=SUN..6=SAT
        day_of_week = str(int(day_of_week) - 1)
    fields = [expression.minutes, expression.hours, expression.day_of_month, expression.month, day_of_week]
    return " ".join("*" if str(field) == "?" else str(field) for field in fields)


def schedules(app: Chalice) -> list[Schedule]:
    return [
        Schedule(source.name, source.schedule_expression)
        for source in app.event_sources
        if isinstance(source, ScheduledEventConfig)
    ]


def queue_handlers(app: Chalice) -> dict[str, str]:
    """Queue name -> handler name, for every `on_sqs_message` handler."""
    return {
        str(source.queue): source.name
        for source in app.event_sources
        if isinstance(source, SQSEventConfig) and source.queue
    }


def fire_schedule(app: Chalice, schedule_name: str, at: datetime) -> Any:
    handler = app.handler_map[schedule_name]
    # The handler takes its instant from the event; what it calls (a mailer's Date) sees the same.
    with clock_at(at):
        return handler(scheduled_event(schedule_name, at), lambda_context(schedule_name))


def fire_schedules(app: Chalice, at: datetime) -> dict[str, Any]:
    """Run every scheduled handler once, as if EventBridge fired it at `at`."""
    return {schedule.name: fire_schedule(app, schedule.name, at) for schedule in schedules(app)}


def deliver_queue_batch(
    app: Chalice, queue_name: str, messages: list[dict[str, Any]], *, at: datetime | None = None
) -> list[str]:
    """Hand a batch to the queue's handler, processed at `at` (default: the app's clock); returns the
    message ids it reported as failed."""
    handler_name = queue_handlers(app)[queue_name]
    with clock_at(at):
        result = app.handler_map[handler_name](sqs_event(queue_name, messages), lambda_context(handler_name))
    failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
    return [failure["itemIdentifier"] for failure in failures]


def dump(result: Any) -> str:
    return json.dumps(result, default=str, indent=2, sort_keys=True)
