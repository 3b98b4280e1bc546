"""Issue 11, finding 9: the local outbox shows each key its own tenant's messages only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from localcloud.cloud import LocalCloud
from tests.payment_utils import TODAY, invoice, settings
from tests.utils import Api, TestTenant


def _alert_mail_to(api: Api, tenant: TestTenant, address: str) -> None:
    """A large payment with a finance contact set: the alert e-mail goes out at once (Mailer)."""
    settings(api, tenant, alert_thresholds={"EUR": 50_000}, finance_emails=[address])
    billed = invoice(api, tenant, "OUTBOX-1", 90_000)
    paid = api.post(
        "/v1/payments",
        key=tenant.finance,
        json_body={"amount": 90_000, "currency": "EUR", "value_date": str(TODAY), "invoice_id": billed["id"]},
    )
    assert paid.status_code == 201, paid.body


def _outbox_of(api: Api, key: str) -> list[dict[str, Any]]:
    response = api.get("/v1/dev/outbox", key=key)
    assert response.status_code == 200, response.body
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_each_tenant_sees_its_own_mail_and_no_one_elses(
    frozen_now: datetime, api: Api, tenant_factory: Callable[..., TestTenant], local_cloud: LocalCloud
) -> None:
    # Given two tenants whose alerts were e-mailed to their own finance contacts
    first, second = tenant_factory("Erste GmbH"), tenant_factory("Zweite GmbH")
    _alert_mail_to(api, first, "cfo@erste.example")
    _alert_mail_to(api, second, "cfo@zweite.example")
    # and a message in the outbox that names no tenant (written before tenants were recorded)
    (local_cloud.outbox_dir / "20000101T000000-legacy.json").write_text(
        json.dumps({"to": "someone@legacy.example", "subject": "old", "text": "old"})
    )

    # When each tenant reads the outbox, with any of its keys
    for mine, theirs, key in (
        (first, "cfo@zweite.example", first.read_only),
        (second, "cfo@erste.example", second.admin),
    ):
        messages = _outbox_of(api, key)
        # Then it sees its own message, recorded with its tenant, and nobody else's
        assert messages, mine.tenant_id
        assert {m["tenant_id"] for m in messages} == {mine.tenant_id}
        assert all(m["to"] not in {theirs, "someone@legacy.example"} for m in messages)


def test_a_tenant_without_messages_sees_an_empty_outbox(
    frozen_now: datetime, api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    sender, quiet = tenant_factory("Sender GmbH"), tenant_factory("Still GmbH")
    _alert_mail_to(api, sender, "cfo@sender.example")
    assert _outbox_of(api, quiet.read_only) == []
