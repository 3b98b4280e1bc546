"""The sample events in events/ are what the handlers really accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.handlers import lambda_context
from localcloud.paths import ROOT
from tests.utils import TestTenant

EVENTS = ROOT / "events"


def _event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def _as_tenant(event: dict[str, Any], tenant: TestTenant) -> dict[str, Any]:
    """API Gateway puts the authorizer's context on the event; point it at a real test tenant."""
    from cashline.domain.access import Role

    event["requestContext"]["authorizer"].update(
        tenant_id=tenant.tenant_id, key_id=tenant.key_ids[Role.ADMIN], principalId=tenant.key_ids[Role.ADMIN]
    )
    return event


def test_every_sample_event_is_listed_in_the_readme() -> None:
    listed = (EVENTS / "README.md").read_text()
    assert all(f"`{path.name}`" in listed for path in EVENTS.glob("*.json"))


def test_health_event(chalice_app: Any) -> None:
    response = chalice_app(_event("api_get_health.json"), lambda_context("api_handler"))
    assert response["statusCode"] == 200


@pytest.mark.parametrize(
    ("name", "status"),
    [("api_get_tenant.json", 200), ("api_list_api_keys.json", 200), ("api_create_api_key.json", 201)],
)
def test_authenticated_api_events(chalice_app: Any, tenant: TestTenant, name: str, status: int) -> None:
    response = chalice_app(_as_tenant(_event(name), tenant), lambda_context("api_handler"))
    assert response["statusCode"] == status, response["body"]


def test_authorizer_event_refuses_the_placeholder_key(chalice_app: Any) -> None:
    from chalice.app import UnauthorizedError

    with pytest.raises(UnauthorizedError):
        chalice_app.handler_map["api_key_authorizer"](_event("authorizer_token.json"), lambda_context("auth"))


def test_authorizer_event_with_a_real_key_allows(chalice_app: Any, tenant: TestTenant) -> None:
    event = _event("authorizer_token.json") | {"authorizationToken": f"Bearer {tenant.finance}"}
    policy = chalice_app.handler_map["api_key_authorizer"](event, lambda_context("auth"))
    assert policy["context"]["tenant_id"] == tenant.tenant_id
    assert policy["context"]["role"] == "finance"
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_schedule_event(chalice_app: Any) -> None:
    result = chalice_app.handler_map["housekeeping"](
        _event("schedule_housekeeping.json"), lambda_context("hk")
    )
    assert set(result) == {"claimed", "keys_expired", "items_read"}


def test_events_folder_has_one_event_per_handler(chalice_app: Any) -> None:
    names = {path.stem for path in Path(EVENTS).glob("*.json")}
    assert "schedule_housekeeping" in names and "authorizer_token" in names


def test_overdue_schedule_event(chalice_app: Any) -> None:
    event = _event("schedule_invoice_overdue_check.json")
    result = chalice_app.handler_map["invoice_overdue_check"](event, lambda_context("od"))
    assert set(result) == {"claimed", "invoices_overdue", "items_read"}


def test_document_uploaded_event_for_an_unknown_upload_is_acknowledged(chalice_app: Any) -> None:
    # The sample names a document that does not exist here: it is ignored, not retried forever.
    result = chalice_app.handler_map["document_uploaded"](
        _event("sqs_document_uploaded.json"), lambda_context("du")
    )
    assert result == {"batchItemFailures": []}


@pytest.mark.parametrize("name", ["financing_payouts", "installment_debits", "debit_reminders"])
def test_financing_schedule_events(chalice_app: Any, name: str) -> None:
    result = chalice_app.handler_map[name](_event(f"schedule_{name}.json"), lambda_context(name))
    assert "claimed" in result and "items_read" in result


def test_alert_deliveries_schedule_event(chalice_app: Any) -> None:
    result = chalice_app.handler_map["alert_deliveries"](
        _event("schedule_alert_deliveries.json"), lambda_context("alerts")
    )
    assert set(result) == {"claimed", "delivered", "items_read"}


def test_webhook_event_received_event(chalice_app: Any, tenant: TestTenant) -> None:
    event = _event("sqs_webhook_event_received.json")
    record = event["Records"][0]
    record["body"] = record["body"].replace("ten_01JD3Z5W4YV6Q3R0M8X2N5B7C9", tenant.tenant_id)
    handler = chalice_app.handler_map["webhook_event_received"]
    assert handler(event, lambda_context("wh")) == {"batchItemFailures": []}
    assert handler(event, lambda_context("wh")) == {"batchItemFailures": []}  # redelivered: a no-op


@pytest.mark.parametrize(
    ("name", "figure"),
    [("collection_steps", "sent"), ("task_reminders", "reminded"), ("monthly_statements", "statements")],
)
def test_collection_schedule_events(chalice_app: Any, name: str, figure: str) -> None:
    result = chalice_app.handler_map[name](_event(f"schedule_{name}.json"), lambda_context(name))
    assert set(result) == {"claimed", figure, "items_read"}


def test_bank_match_schedule_event(chalice_app: Any) -> None:
    result = chalice_app.handler_map["bank_match"](_event("schedule_bank_match.json"), lambda_context("bm"))
    assert set(result) == {"claimed", "matched", "items_read"}


def test_payout_bank_check_schedule_event(chalice_app: Any) -> None:
    handler = chalice_app.handler_map["payout_bank_check"]
    result = handler(_event("schedule_payout_bank_check.json"), lambda_context("pbc"))
    assert set(result) == {"claimed", "flagged", "items_read"}


def test_bank_statement_arrived_event_for_a_file_no_longer_there_is_acknowledged(chalice_app: Any) -> None:
    # The sample names a file not in this bucket (an earlier delivery moved it): nothing to import.
    result = chalice_app.handler_map["bank_statement_arrived"](
        _event("sqs_bank_statement_arrived.json"), lambda_context("bsa")
    )
    assert result == {"batchItemFailures": []}


def test_delivery_feedback_event_for_an_unknown_message_is_acknowledged(chalice_app: Any) -> None:
    result = chalice_app.handler_map["delivery_feedback"](
        _event("sqs_delivery_feedback.json"), lambda_context("df")
    )
    assert result == {"batchItemFailures": []}
