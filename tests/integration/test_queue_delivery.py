"""The local runner delivers queued messages to `on_sqs_message` handlers as Lambda would:
batches, partial-batch failures left on the queue for redelivery.

The pump is a real thread polling a real queue, so the test waits for what it expects to happen
(with a bound no correct run reaches on a slow machine) rather than for a length of time.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from chalice.app import Chalice

from localcloud.cloud import LocalCloud
from localcloud.runner import QueuePump

WAIT_BOUND_S = 120  # only a broken pump takes this long; a correct run ends as soon as all are handled


def _app(seen: list[int], refused: list[str], all_handled: threading.Event) -> Chalice:
    app = Chalice(app_name="queue-test")

    @app.on_sqs_message(queue="pump-test-queue", batch_size=10)
    def consume(event: Any) -> dict[str, Any]:
        failures = []
        for record in event:
            body = json.loads(record.body)
            if body.get("fail"):
                refused.append(record.to_dict()["messageId"])
                failures.append({"itemIdentifier": record.to_dict()["messageId"]})
            else:
                seen.append(body["n"])
        if len(seen) >= 5 and refused:
            all_handled.set()
        return {"batchItemFailures": failures}

    return app


def test_messages_reach_the_handler_and_failures_stay_queued(local_cloud: LocalCloud) -> None:
    sqs = local_cloud.client("sqs")
    # The longest visibility timeout SQS allows: the refused message stays in flight however slowly
    # the test runs, instead of coming back (and being counted as visible) after 30 s.
    url = sqs.create_queue(QueueName="pump-test-queue", Attributes={"VisibilityTimeout": "43200"})["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True}))
    seen: list[int] = []
    refused: list[str] = []
    all_handled = threading.Event()
    stop = threading.Event()
    pump = QueuePump(_app(seen, refused, all_handled), local_cloud, stop)
    pump.start()
    handled_in_time = all_handled.wait(timeout=WAIT_BOUND_S)
    stop.set()
    pump.join(timeout=WAIT_BOUND_S)

    assert handled_in_time and not pump.is_alive()
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert len(refused) == 1  # handed over once, then left in flight (not deleted)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert (
        attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    )  # the failed one, in flight
