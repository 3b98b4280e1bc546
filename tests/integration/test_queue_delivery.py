"""The local runner delivers queued messages to `on_sqs_message` handlers as Lambda would:
batches, partial-batch failures left on the queue for redelivery."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from chalice.app import Chalice

from localcloud.cloud import LocalCloud
from localcloud.runner import QueuePump


def _app(seen: list[str]) -> Chalice:
    app = Chalice(app_name="queue-test")

    @app.on_sqs_message(queue="pump-test-queue", batch_size=10)
    def consume(event: Any) -> dict[str, Any]:
        failures = []
        for record in event:
            body = json.loads(record.body)
            if body.get("fail"):
                failures.append({"itemIdentifier": record.to_dict()["messageId"]})
            else:
                seen.append(body["n"])
        return {"batchItemFailures": failures}

    return app


def test_messages_reach_the_handler_and_failures_stay_queued(local_cloud: LocalCloud) -> None:
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName="pump-test-queue", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True}))
    seen: list[str] = []
    stop = threading.Event()
    pump = QueuePump(_app(seen), local_cloud, stop)
    pump.start()
    deadline = time.monotonic() + 15
    while len(seen) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    pump.join(timeout=10)

    assert sorted(seen) == [0, 1, 2, 3, 4]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert (
        attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    )  # the failed one, in flight
