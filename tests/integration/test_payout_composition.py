"""A processor payout recorded with what it is made of (services.payments.payouts), end to end: the
webhook is verified, queued and processed against DynamoDB Local, the composition read from the
processor stand-in (Stripe's balance transactions, GoCardless's payout and items) with the
connection's API key; the fees become a payment of kind `fee`; a processor that is down leaves the
event to the queue with nothing written; and bank matching checks gross - fees against the bank line.

Every request and queued event is handled at FROZEN_NOW; no test reads the clock.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import stripe

from cashline.adapters.payout_details import gocardless_payout, stripe_payout
from cashline.dal.bank_candidates import StoredCandidates
from cashline.domain.bank.known_payments import known_payment
from cashline.domain.bank.payout_rules import SCORE_PAYOUT, SCORE_PAYOUT_MISMATCH, propose_payout
from cashline.domain.bank.reconciliation import DiscrepancyKind
from cashline.domain.payments import PaymentSource
from cashline.services.payments.context import payments
from localcloud.cloud import LocalCloud
from tests.bank_books import bank_line
from tests.payment_utils import GOCARDLESS_SECRET, connect, drain, queue_url, signed_gocardless
from tests.utils import FROZEN_NOW, Api, TestTenant

pytestmark = pytest.mark.usefixtures("frozen_now")

STRIPE_SECRET = "whsec_payout_composition_1"
NOW_S = int(FROZEN_NOW.timestamp())
ARRIVAL = date(2026, 12, 2)  # near tests.bank_books.BOOKED (2026-12-03), the bank lines' date
ARRIVAL_S = int(datetime(2026, 12, 2, tzinfo=UTC).timestamp())  # Stripe: midnight UTC
# Three card payments settled by one payout: gross 10,000, fees 290, net 9,710.
CHARGES = [("ch_1", 5_000, 145), ("ch_2", 3_000, 87), ("ch_3", 2_000, 58)]


@pytest.fixture(autouse=True)
def _empty_queue(local_cloud: LocalCloud) -> None:
    sqs, url = local_cloud.client("sqs"), queue_url(local_cloud)
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _stripe_payout(local_cloud: LocalCloud, payout_id: str, net: int = 9_710) -> None:
    transactions: list[dict[str, Any]] = [
        {
            "type": "charge",
            "amount": gross,
            "fee": fee,
            "net": gross - fee,
            "source": charge,
            "currency": "eur",
        }
        for charge, gross, fee in CHARGES
    ]
    transactions.append({"type": "payout", "amount": -net, "fee": 0, "net": -net, "source": payout_id})
    local_cloud.processors.add_stripe_payout(payout_id, transactions)


def _post_payout_paid(api: Api, connection: dict[str, Any], payout_id: str, net: int, event_id: str) -> None:
    payout = {
        "id": payout_id,
        "object": "payout",
        "amount": net,
        "currency": "eur",
        "arrival_date": ARRIVAL_S,
        "status": "paid",
    }
    event = {
        "id": event_id,
        "object": "event",
        "type": "payout.paid",
        "created": NOW_S,
        "data": {"object": payout},
        "livemode": False,
        "api_version": "2024-06-20",
    }
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET, timestamp=NOW_S)
    response = api.post(
        connection["webhook_path"],
        raw_body=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.body


def _payments(api: Api, tenant: TestTenant) -> dict[str, dict[str, Any]]:
    """The tenant's payments by kind (at most one of each here)."""
    found = api.get("/v1/payments?limit=100", key=tenant.read_only).json()["data"]
    by_kind = {payment["kind"]: payment for payment in found}
    assert len(by_kind) == len(found), found
    return by_kind


def test_a_stripe_payout_is_recorded_once_with_its_payments_and_its_fees(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    # Given a Stripe connection with an API key, and a payout of three charges at Stripe
    connection = connect(api, tenant, "stripe", STRIPE_SECRET, api_key="sk_test_standin")
    payout_id = f"po_{uuid.uuid4().hex[:14]}"
    _stripe_payout(local_cloud, payout_id)

    # When Stripe reports it paid, twice (the same event)
    event_id = f"evt_{uuid.uuid4().hex}"
    _post_payout_paid(api, connection, payout_id, 9_710, event_id)
    _post_payout_paid(api, connection, payout_id, 9_710, event_id)
    assert drain(local_cloud, chalice_app) == 2

    # Then one payout of the net amount, with what it settled, and one fee payment, linked to it
    recorded = _payments(api, tenant)
    assert set(recorded) == {"payout", "fee"}
    payout, fee = recorded["payout"], recorded["fee"]
    assert (payout["amount"], payout["settled_gross"], payout["fees"]) == (9_710, 10_000, 290)
    assert payout["settled_references"] == ["ch_1", "ch_2", "ch_3"]
    assert payout["value_date"] == ARRIVAL.isoformat() and payout["direction"] == "receivable"
    assert (fee["amount"], fee["currency"], fee["direction"]) == (290, "EUR", "payable")
    assert fee["related_payment_id"] == payout["id"] and fee["status"] == "succeeded"
    assert fee["source_reference"] == f"{payout_id}:fees" and fee["value_date"] == ARRIVAL.isoformat()


def test_a_gocardless_payout_is_recorded_with_its_amount_and_fees(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    # Given a GoCardless connection with an access token, and a payout at GoCardless
    connection = connect(api, tenant, "gocardless", GOCARDLESS_SECRET, api_key="local_standin_token")
    payout_id = "PO" + uuid.uuid4().hex[:10].upper()
    items = [
        {"type": "payment_paid_out", "amount": "6000", "links": {"payment": "PM0001"}},
        {"type": "payment_paid_out", "amount": "4500", "links": {"payment": "PM0002"}},
        {"type": "payment_refunded", "amount": "-500", "links": {"payment": "PM0003"}},
        {"type": "gocardless_fee", "amount": "-240", "links": {"payment": "PM0001"}},
        {"type": "app_fee", "amount": "-50", "links": {"payment": "PM0002"}},
    ]
    local_cloud.processors.add_gocardless_payout(
        {
            "id": payout_id,
            "amount": 9_710,
            "deducted_fees": 290,
            "currency": "EUR",
            "arrival_date": ARRIVAL.isoformat(),
            "status": "paid",
            "payout_type": "merchant",
        },
        items,
    )
    event = {
        "events": [
            {
                "id": "EV" + uuid.uuid4().hex[:10].upper(),
                "created_at": FROZEN_NOW.isoformat().replace("+00:00", "Z"),
                "resource_type": "payouts",
                "action": "paid",
                "links": {"payout": payout_id},
                "details": {"origin": "gocardless", "cause": "payout_paid"},
                "metadata": {},
            }
        ]
    }

    # When GoCardless reports it paid (its event carries no amount)
    assert api.post(**signed_gocardless(connection, event, GOCARDLESS_SECRET)).status_code == 200
    assert drain(local_cloud, chalice_app) == 1

    # Then the payout has the amount GoCardless paid out, the gross of its items and its fees
    recorded = _payments(api, tenant)
    payout, fee = recorded["payout"], recorded["fee"]
    assert (payout["amount"], payout["currency"], payout["value_date"]) == (9_710, "EUR", ARRIVAL.isoformat())
    assert (payout["settled_gross"], payout["fees"]) == (10_000, 290)
    assert payout["settled_references"] == ["PM0001", "PM0002", "PM0003"]
    assert (fee["amount"], fee["direction"], fee["related_payment_id"]) == (290, "payable", payout["id"])


def test_a_processor_that_is_down_leaves_the_event_to_the_queue_with_nothing_written(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    # Given a Stripe payout, and Stripe answering 500 to the next read
    connection = connect(api, tenant, "stripe", STRIPE_SECRET, api_key="sk_test_standin")
    payout_id = f"po_{uuid.uuid4().hex[:14]}"
    _stripe_payout(local_cloud, payout_id)
    local_cloud.processors.fail_payout_reads("stripe", 1)
    event_id = f"evt_{uuid.uuid4().hex}"
    _post_payout_paid(api, connection, payout_id, 9_710, event_id)

    # When the queue delivers it: it fails, and nothing is written (not even the event's claim)
    assert drain(local_cloud, chalice_app, allow_failures=True) == 0
    assert _payments(api, tenant) == {}
    assert not payments.event_seen(tenant.tenant_id, PaymentSource.STRIPE, event_id)

    # Then the queue's next delivery records it, once
    assert drain(local_cloud, chalice_app) == 1
    recorded = _payments(api, tenant)
    assert (recorded["payout"]["settled_gross"], recorded["fee"]["amount"]) == (10_000, 290)


def test_a_connection_without_an_api_key_records_the_net_only(
    api: Api, tenant: TestTenant, local_cloud: LocalCloud, chalice_app: Any
) -> None:
    connection = connect(api, tenant, "stripe", STRIPE_SECRET)
    payout_id = f"po_{uuid.uuid4().hex[:14]}"
    _post_payout_paid(api, connection, payout_id, 9_710, f"evt_{uuid.uuid4().hex}")
    assert drain(local_cloud, chalice_app) == 1
    [(kind, payout)] = _payments(api, tenant).items()
    assert kind == "payout" and payout["amount"] == 9_710
    assert (payout["settled_gross"], payout["fees"], payout["settled_references"]) == (None, None, [])


@pytest.mark.parametrize(("net", "line_amount"), [(9_710, 9_710), (9_700, 9_700)])
def test_bank_matching_checks_the_payments_minus_fees_against_the_bank_line(
    api: Api,
    tenant: TestTenant,
    local_cloud: LocalCloud,
    chalice_app: Any,
    net: int,
    line_amount: int,
) -> None:
    # Given a recorded Stripe payout whose charges (10,000) less fees (290) are 9,710; its net is
    # 9,710 (adds up) or 9,700 (the processor's items do not add up to what it paid out)
    connection = connect(api, tenant, "stripe", STRIPE_SECRET, api_key="sk_test_standin")
    payout_id = f"po_{uuid.uuid4().hex[:14]}"
    _stripe_payout(local_cloud, payout_id, net=net)
    _post_payout_paid(api, connection, payout_id, net, f"evt_{uuid.uuid4().hex}")
    assert drain(local_cloud, chalice_app) == 1
    stored = payments.get(tenant.tenant_id, _payments(api, tenant)["payout"]["id"])

    # When a bank credit of the payout's net amount, naming it, is matched against the stored payout
    # (found through the stored lookups, as the bank_match sweep finds it)
    line = bank_line(tenant_id=tenant.tenant_id, amount=line_amount, remittance=f"STRIPE PAYOUT {payout_id}")
    assert StoredCandidates(tenant.tenant_id).payments_near("payout", "EUR", net, line.booking_date) == [
        known_payment(stored)
    ]
    [proposal] = propose_payout(line, StoredCandidates(tenant.tenant_id), today=date(2026, 12, 3))

    # Then it matches the payout; a mismatch rides on the proposal when the figures do not add up
    assert proposal.targets[0].id == stored.id
    if net == 9_710:
        assert proposal.score == SCORE_PAYOUT and proposal.discrepancies == ()
    else:
        assert proposal.score == SCORE_PAYOUT_MISMATCH
        [mismatch] = proposal.discrepancies
        assert (mismatch.kind, mismatch.amount) == (DiscrepancyKind.PAYOUT_MISMATCH, 10)
        assert "fees" in mismatch.detail


def test_a_payout_of_many_items_is_read_page_by_page(local_cloud: LocalCloud) -> None:
    # Given payouts of 250 settled items at each processor (pages of 100)
    standin = local_cloud.processors
    stripe_id, gocardless_id = f"po_{uuid.uuid4().hex[:14]}", "PO" + uuid.uuid4().hex[:10].upper()
    standin.add_stripe_payout(
        stripe_id, [{"type": "charge", "amount": 100, "fee": 3, "source": f"ch_{n}"} for n in range(250)]
    )
    standin.add_gocardless_payout(
        {"id": gocardless_id, "amount": 24_250, "deducted_fees": 750, "currency": "EUR"},
        [{"type": "payment_paid_out", "amount": "100", "links": {"payment": f"PM{n}"}} for n in range(250)],
    )

    # When they are read
    at_stripe = stripe_payout("sk_test_standin", stripe_id, currency="EUR", api_base=standin.stripe_base)
    at_gocardless = gocardless_payout("token", gocardless_id, base_url=standin.gocardless_base)

    # Then every page counts, and the references are the items' own, in order
    assert (at_stripe.gross, at_stripe.fees, len(at_stripe.references)) == (25_000, 750, 250)
    assert at_stripe.references[-1] == "ch_249"
    assert (at_gocardless.net, at_gocardless.gross, at_gocardless.fees) == (24_250, 25_000, 750)
    assert at_gocardless.references[:2] == ("PM0", "PM1") and len(at_gocardless.references) == 250
