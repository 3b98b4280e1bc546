"""`make run`: the local cloud, the API on 127.0.0.1:PORT, the schedules and the queues, until Ctrl-C
(or SIGTERM, SIGHUP)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import LocalDevServer, ThreadedHTTPServer

from localcloud.cloud import LocalCloud
from localcloud.gateway import ApiGatewayRequestHandler, thread_safe
from localcloud.handlers import (
    deliver_queue_batch,
    fire_schedule,
    load_app,
    queue_handlers,
    schedules,
    wire_app_to_environment,
)
from localcloud.paths import LOCAL_STATE
from localcloud.processor_standin import ProcessorStandIn
from localcloud.seed import seed_demo

log = logging.getLogger("localcloud")

# For this console only (and the `cashline` commands that read .local/cloud.env); a deployed stack
# keeps publishing its metrics. Powertools prints one EMF line per request that adds a metric.
LOCAL_CONSOLE_ENVIRONMENT = {"POWERTOOLS_METRICS_DISABLED": "true"}

# The stand-in of the Stripe and GoCardless APIs listens here (README); tests take a free port.
DEFAULT_STANDIN_PORT = 8102


class LocalServer(ThreadedHTTPServer):
    # socketserver's backlog of 5 resets a burst of 20 connections; the local cloud is also a
    # load-test target. (Linux caps this at net.core.somaxconn.)
    request_queue_size = 128


def make_server(app: Chalice, port: int, host: str = "127.0.0.1") -> LocalDevServer:
    """The API over HTTP, as `make run` serves it (a test binds port 0 and reads the port back)."""
    return LocalDevServer(
        thread_safe(app),
        Config.create(lambda_timeout=30),
        host,
        port,
        handler_cls=ApiGatewayRequestHandler,
        server_cls=LocalServer,
    )


def configure_console_logging() -> None:
    """Plain lines for the runner's own messages; the app's records stay JSON, and appear once.

    Powertools' logger has its own JSON handler and keeps its records from the root handlers that
    exist when it is created; `cashline` creates it before this handler exists, so without the
    filter every app record (a traceback too) would be printed a second time as plain text.
    """
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    console.addFilter(lambda record: record.name.split(".")[0] != "cashline")
    logging.basicConfig(level=logging.INFO, handlers=[console], force=True)
    logging.getLogger("botocore").setLevel(logging.WARNING)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # The same path as Ctrl-C: the `with LocalCloud` block exits and stops DynamoDB Local's Java
    # process, which a plain SIGTERM would otherwise leave running. A second signal must not cut
    # that stop short.
    for stopping_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stopping_signal, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def write_cloud_env(env: dict[str, str]) -> None:
    """Lets `cashline ...` in another shell reach this local cloud."""
    LOCAL_STATE.mkdir(exist_ok=True)
    lines = [f"{name}={value}" for name, value in sorted(env.items())]
    (LOCAL_STATE / "cloud.env").write_text("\n".join(lines) + "\n")


class Clock(threading.Thread):
    """Fires each schedule when its next instant passes, through the same path as `cashline tick`."""

    def __init__(self, app: Chalice, stop: threading.Event):
        super().__init__(daemon=True, name="schedules")
        self._app = app
        self._stopping = stop
        now = datetime.now(UTC)
        self._last = {schedule.name: schedule.previous_fire(now) for schedule in schedules(app)}

    def run(self) -> None:
        while not self._stopping.wait(1.0):
            now = datetime.now(UTC)
            for schedule in schedules(self._app):
                fire_at = schedule.previous_fire(now)
                if fire_at > self._last[schedule.name]:
                    self._last[schedule.name] = fire_at
                    try:
                        result = fire_schedule(self._app, schedule.name, fire_at)
                        log.info("schedule %s fired at %s: %s", schedule.name, fire_at.isoformat(), result)
                    except Exception:
                        log.exception("schedule %s failed", schedule.name)


class QueuePump(threading.Thread):
    """Long-polls each queue with a handler and deletes what the handler did not report as failed."""

    def __init__(self, app: Chalice, cloud: LocalCloud, stop: threading.Event):
        super().__init__(daemon=True, name="queues")
        self._app = app
        self._cloud = cloud
        self._stopping = stop

    def run(self) -> None:
        sqs = self._cloud.client("sqs")
        urls = {url.rsplit("/", 1)[-1]: url for url in self._cloud.queue_urls.values()}
        handlers = queue_handlers(self._app)
        while not self._stopping.is_set():
            if not handlers:
                self._stopping.wait(1.0)
                continue
            for queue_name in handlers:
                url = urls.get(queue_name) or sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
                ).get("Messages", [])
                if not messages:
                    continue
                try:
                    failed = set(deliver_queue_batch(self._app, queue_name, messages))
                except Exception:
                    log.exception("queue handler for %s failed; the batch will be redelivered", queue_name)
                    continue
                for message in messages:
                    if message["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def run(port: int) -> None:
    for stopping_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stopping_signal, _stop_on_signal)
    configure_console_logging()
    dynamodb_port = int(os.environ.get("CASHLINE_LOCAL_DYNAMODB_PORT", "8100"))
    moto_port = int(os.environ.get("CASHLINE_LOCAL_AWS_PORT", "8101"))
    standin_port = int(os.environ.get("CASHLINE_LOCAL_STANDIN_PORT", str(DEFAULT_STANDIN_PORT)))
    try:
        _serve(port, dynamodb_port, moto_port, standin_port)
    except KeyboardInterrupt:
        print("\nstopped", flush=True)  # a signal during start-up: the local cloud is already down


def _serve(port: int, dynamodb_port: int, moto_port: int, standin_port: int) -> None:
    processors = ProcessorStandIn(port=standin_port)
    with LocalCloud(dynamodb_port=dynamodb_port, moto_port=moto_port, processors=processors) as cloud:
        env = {**cloud.apply_environment(), **LOCAL_CONSOLE_ENVIRONMENT}
        os.environ.update(LOCAL_CONSOLE_ENVIRONMENT)
        write_cloud_env(env)
        app = load_app()
        wire_app_to_environment()
        demo = seed_demo(datetime.now(UTC))
        server = make_server(app, port)
        stop = threading.Event()
        threads = [
            threading.Thread(target=server.serve_forever, daemon=True, name="api"),
            Clock(app, stop),
            QueuePump(app, cloud, stop),
        ]
        for thread in threads:
            thread.start()
        print(
            f"\nCashline is running on http://127.0.0.1:{port}\n"
            f"  demo tenant:  {demo.tenant_id}\n"
            f"  demo API key: {demo.keys[next(iter(demo.keys))]}\n"
            f"  (also in .local/demo_api_key; other roles via `cashline key create`)\n"
            f'  try: curl -H "Authorization: Bearer $(cat .local/demo_api_key)" '
            f"http://127.0.0.1:{port}/v1/tenant\n"
            f"  dashboard: http://127.0.0.1:{port}/dashboard (sign in with the demo API key)\n"
            f"  local cloud: DynamoDB Local :{cloud.dynamodb_port}, moto :{cloud.moto_port}, "
            f"Stripe/GoCardless stand-in {processors.url}\n"
            f"  schedules: {', '.join(s.name for s in schedules(app))}; Ctrl-C stops everything.\n",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping...", flush=True)
        finally:
            stop.set()
            server.shutdown()
            server.server.server_close()
