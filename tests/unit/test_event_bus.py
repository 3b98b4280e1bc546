"""Domain events on EventBridge: moto in-process for the wiring, botocore's Stubber for partial
failures (moto never refuses a well-formed entry)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from cashline.adapters.event_bus import DomainEvent, EventPublisher, PublishError

REGION = "eu-west-1"
BUS = "cashline-test"
WHEN = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def event(n: int, **detail: Any) -> DomainEvent:
    return DomainEvent(
        detail_type="invoice.paid",
        tenant_id="ten_1",
        detail={"invoice_id": f"inv_{n}", **detail},
        event_id=f"evt_{n}",
        occurred_at=WHEN + timedelta(seconds=n),
    )


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never the developer's own credentials, even though nothing here reaches AWS.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def queue_url(fake_credentials: None) -> Iterator[str]:
    """A bus whose rule sends every Cashline event to an SQS queue, as moto delivers them."""
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        url = sqs.create_queue(QueueName="cashline-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="all-cashline", EventBusName=BUS, EventPattern=json.dumps({"source": ["cashline"]})
        )
        events.put_targets(Rule="all-cashline", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
        yield url


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(message["Body"]) for message in batch]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def test_client_is_created_on_first_use_only(fake_credentials: None) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None)
    assert publisher._client is None
    assert publisher.client is publisher.client


def test_published_event_arrives_with_its_envelope(queue_url: str) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None)
    publisher.publish([event(1, amount=Decimal("1250.10"), due=date(2025, 4, 1))])

    [message] = received(queue_url)
    assert message["source"] == "cashline"
    assert message["detail-type"] == "invoice.paid"
    assert message["detail"] == {
        "invoice_id": "inv_1",
        "amount": "1250.10",  # exact, never a float
        "due": "2025-04-01",
        "tenant_id": "ten_1",
        "event_id": "evt_1",
        "occurred_at": "2025-03-14T09:26:54+00:00",
    }
    assert message["time"] == "2025-03-14T09:26:54Z"


def test_25_events_go_out_in_3_calls_of_at_most_10(queue_url: str) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None)
    batch_sizes: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        batch_sizes.append(len(params["Entries"]))

    publisher.client.meta.events.register("provide-client-params.eventbridge.PutEvents", count)
    publisher.publish([event(n) for n in range(25)])

    assert batch_sizes == [10, 10, 5]
    ids = sorted(message["detail"]["event_id"] for message in received(queue_url))
    assert ids == sorted(f"evt_{n}" for n in range(25))


def test_nothing_to_publish_makes_no_call_and_no_client(fake_credentials: None) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None)
    publisher.publish([])
    assert publisher._client is None


def expected_entry(e: DomainEvent) -> dict[str, Any]:
    return {
        "Source": "cashline",
        "DetailType": e.detail_type,
        "Detail": ANY,
        "Time": e.occurred_at,
        "EventBusName": BUS,
    }


def put_events_answer(*errors: str | None) -> dict[str, Any]:
    entries: list[dict[str, str]] = [
        {"ErrorCode": error, "ErrorMessage": "try again"} if error else {"EventId": f"eb-{i}"}
        for i, error in enumerate(errors)
    ]
    return {"FailedEntryCount": sum(1 for error in errors if error), "Entries": entries}


def test_only_failed_entries_are_retried(fake_credentials: None) -> None:
    pauses: list[float] = []
    publisher = EventPublisher(BUS, region=REGION, endpoint=None, sleep=pauses.append)
    events = [event(1), event(2), event(3)]
    with Stubber(publisher.client) as stubber:
        stubber.add_response(
            "put_events",
            put_events_answer(None, "ThrottlingException", "InternalException"),
            {"Entries": [expected_entry(e) for e in events]},
        )
        stubber.add_response(
            "put_events",
            put_events_answer(None, "InternalException"),
            {"Entries": [expected_entry(events[1]), expected_entry(events[2])]},
        )
        stubber.add_response("put_events", put_events_answer(None), {"Entries": [expected_entry(events[2])]})
        publisher.publish(events)
        stubber.assert_no_pending_responses()
    assert pauses == [0.1, 0.2]


def test_entries_still_failing_after_3_retries_raise_naming_them(fake_credentials: None) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None, sleep=lambda _: None)
    events = [event(1), event(2)]
    with Stubber(publisher.client) as stubber:
        stubber.add_response("put_events", put_events_answer(None, "InternalException"))
        for _ in range(3):
            stubber.add_response(
                "put_events", put_events_answer("InternalException"), {"Entries": [expected_entry(events[1])]}
            )
        with pytest.raises(PublishError, match="evt_2") as raised:
            publisher.publish(events)
        stubber.assert_no_pending_responses()
    assert list(raised.value.failed) == ["evt_2"]
    assert "evt_1" not in str(raised.value)


def test_a_failing_batch_does_not_stop_later_batches(fake_credentials: None) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None, sleep=lambda _: None)
    events = [event(n) for n in range(11)]
    with Stubber(publisher.client) as stubber:
        for _ in range(4):
            stubber.add_response("put_events", put_events_answer(*["InternalException"] * 10))
        stubber.add_response("put_events", put_events_answer(None), {"Entries": [expected_entry(events[10])]})
        with pytest.raises(PublishError) as raised:
            publisher.publish(events)
        stubber.assert_no_pending_responses()
    assert sorted(raised.value.failed) == sorted(f"evt_{n}" for n in range(10))


def test_events_need_an_aware_time_and_no_envelope_keys_in_detail() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DomainEvent("invoice.paid", "ten_1", {}, "evt_1", datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="tenant_id"):
        DomainEvent("invoice.paid", "ten_1", {"tenant_id": "ten_2"}, "evt_1", WHEN)
    other_zone = DomainEvent(
        "invoice.paid", "ten_1", {}, "evt_1", WHEN.astimezone(timezone(timedelta(hours=2)))
    )
    assert json.loads(other_zone.detail_json())["occurred_at"] == "2025-03-14T11:26:53+02:00"


def test_detail_refuses_values_json_cannot_carry_faithfully() -> None:
    with pytest.raises(TypeError, match="set"):
        event(1, tags={"a"}).detail_json()


def test_oversized_event_is_refused_before_any_call(fake_credentials: None) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None)
    with Stubber(publisher.client) as stubber, pytest.raises(ValueError, match="evt_1 is larger"):
        publisher.publish([event(1, blob="x" * 300_000)])
    stubber.assert_no_pending_responses()


def test_batches_also_stay_under_256_kb_per_call(queue_url: str) -> None:
    publisher = EventPublisher(BUS, region=REGION, endpoint=None)
    batch_sizes: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        batch_sizes.append(len(params["Entries"]))

    publisher.client.meta.events.register("provide-client-params.eventbridge.PutEvents", count)
    publisher.publish([event(n, note="x" * 100_000) for n in range(3)])

    assert batch_sizes == [2, 1]
    assert len(received(queue_url)) == 3
