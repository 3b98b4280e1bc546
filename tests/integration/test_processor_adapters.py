"""The debit adapters, through the official Stripe and GoCardless SDKs, against the local stand-in.

No Cashline app and no DynamoDB: only the stand-in on 127.0.0.1, started once for the module.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from cashline.adapters.processors import (
    DebitAccount,
    DebitProcessor,
    DebitRefusedError,
    DebitResult,
    DebitTimeoutError,
    GoCardlessDebits,
    IdempotencyKeyReusedError,
    ProcessorUnavailableError,
    StripeDebits,
    processor_for,
)
from localcloud.processor_standin import ProcessorStandIn

# A scripted "timeout" hangs three times this long, so it always is one; every other answer of the
# in-process stand-in must arrive within it, also on a loaded machine, so it is not made any shorter.
CLIENT_TIMEOUT_S = 2.0

ACCOUNTS = {
    "stripe": DebitAccount("stripe", customer_id="cus_standin", payment_method_id="pm_standin"),
    "gocardless": DebitAccount("gocardless", mandate_id="MD000STANDIN"),
}


@pytest.fixture(scope="module")
def standin() -> Iterator[ProcessorStandIn]:
    # hang_s outlasts the client's timeout; it is short so hanging handlers end soon after.
    with ProcessorStandIn(hang_s=CLIENT_TIMEOUT_S * 3, slow_s=0.3) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(standin: ProcessorStandIn) -> None:
    standin.reset()


@dataclass(frozen=True)
class Debits:
    name: str
    processor: DebitProcessor
    account: DebitAccount

    def start(self, key: str, *, amount: int = 12_345, currency: str = "EUR", **metadata: str) -> DebitResult:
        return self.processor.start_debit(
            idempotency_key=key,
            amount=amount,
            currency=currency,
            description="Cashline installment 3 of 12",
            account=self.account,
            metadata=metadata or {"installment_id": "inst_1"},
        )


def make_processor(name: str, base: str) -> DebitProcessor:
    return processor_for(
        ACCOUNTS[name],
        stripe_api_key="sk_test_standin",
        stripe_api_base=base,
        gocardless_token="gc_test_standin",
        gocardless_base_url=base,
        timeout_s=CLIENT_TIMEOUT_S,
    )


@pytest.fixture(params=["stripe", "gocardless"])
def debits(request: pytest.FixtureRequest, standin: ProcessorStandIn) -> Debits:
    name = request.param
    return Debits(name, make_processor(name, standin.url), ACCOUNTS[name])


def new_key() -> str:
    return f"debit-{uuid.uuid4()}"


def test_factory_picks_the_processor_of_the_account(standin: ProcessorStandIn) -> None:
    assert isinstance(make_processor("stripe", standin.url), StripeDebits)
    assert isinstance(make_processor("gocardless", standin.url), GoCardlessDebits)


def test_a_debit_succeeds_with_amount_currency_and_metadata_exactly_as_sent(
    debits: Debits, standin: ProcessorStandIn
) -> None:
    key = new_key()
    # The currency is given in the "wrong" case on purpose: each adapter puts it in its processor's.
    result = debits.start(key, amount=987_654, currency="eur" if debits.name == "gocardless" else "EUR")

    expected_status = "succeeded" if debits.name == "stripe" else "pending"  # Direct Debit settles later
    assert result == DebitResult(debits.name, result.reference, expected_status, None)  # type: ignore[arg-type]
    [created] = standin.created
    assert created.reference == result.reference
    assert created.idempotency_key == key
    assert created.amount == 987_654
    assert created.currency == ("eur" if debits.name == "stripe" else "EUR")
    assert created.metadata == {"installment_id": "inst_1"}
    assert created.description == "Cashline installment 3 of 12"
    if debits.name == "stripe":
        assert result.reference.startswith("pi_")
        assert created.params["off_session"] == "true"
        assert created.params["confirm"] == "true"
        assert created.params["customer"] == "cus_standin"
        assert created.params["payment_method"] == "pm_standin"
    else:
        assert result.reference.startswith("PM")
        assert created.params["links"] == {"mandate": "MD000STANDIN"}


def test_a_refused_debit_raises_debit_refused(debits: Debits, standin: ProcessorStandIn) -> None:
    standin.script(debits.name, "fail")  # type: ignore[arg-type]

    with pytest.raises(DebitRefusedError) as refused:
        debits.start(new_key())

    if debits.name == "stripe":
        # Stripe creates the PaymentIntent even when the card is declined, and names it in the error.
        [declined] = standin.created
        assert refused.value.reason == "insufficient_funds"
        assert refused.value.reference == declined.reference
        assert standin.status_of(declined.reference) == "requires_payment_method"
    else:
        assert standin.created == []
        assert "links[mandate]" in refused.value.reason


def test_a_refused_stripe_debit_is_refused_again_on_retry(standin: ProcessorStandIn) -> None:
    debits = Debits("stripe", make_processor("stripe", standin.url), ACCOUNTS["stripe"])
    standin.script("stripe", "fail")
    key = new_key()
    with pytest.raises(DebitRefusedError):
        debits.start(key)
    # Stripe replays the saved 402 for the same key: the retry neither charges nor creates anything.
    with pytest.raises(DebitRefusedError):
        debits.start(key)
    assert len(standin.created) == 1


def test_a_timeout_before_creating_then_a_retry_creates_exactly_one(
    debits: Debits, standin: ProcessorStandIn
) -> None:
    standin.script(debits.name, "timeout")  # type: ignore[arg-type]
    key = new_key()

    with pytest.raises(DebitTimeoutError):
        debits.start(key)
    assert standin.created == []

    retried = debits.start(key)
    assert [payment.reference for payment in standin.created] == [retried.reference]


def test_a_timeout_after_creating_then_a_retry_returns_the_same_payment(
    debits: Debits, standin: ProcessorStandIn
) -> None:
    standin.script(debits.name, "timeout_after_create")  # type: ignore[arg-type]
    key = new_key()

    with pytest.raises(DebitTimeoutError):
        debits.start(key)
    [created] = standin.created

    retried = debits.start(key)
    again = debits.start(key)

    assert retried.reference == again.reference == created.reference
    assert len(standin.created) == 1  # never debited twice


def test_concurrent_debits_with_one_key_create_one_payment(debits: Debits, standin: ProcessorStandIn) -> None:
    standin.script(debits.name, "succeed_slowly")  # type: ignore[arg-type]
    key = new_key()
    start = threading.Barrier(2)
    outcomes: list[DebitResult | Exception] = []

    def debit() -> None:
        start.wait()
        try:
            outcomes.append(debits.start(key))
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=debit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    [created] = standin.created
    results = [outcome for outcome in outcomes if isinstance(outcome, DebitResult)]
    others = [outcome for outcome in outcomes if not isinstance(outcome, DebitResult)]
    assert results and all(result.reference == created.reference for result in results)
    if debits.name == "stripe":
        # Stripe answers the second request 409 while the first runs: outcome unknown, retry the key.
        assert all(isinstance(other, DebitTimeoutError) for other in others)
    else:
        # GoCardless's second request meets the created payment (409 conflict) and the SDK fetches it.
        assert others == []
    assert debits.start(key).reference == created.reference
    assert len(standin.created) == 1


def test_a_server_error_raises_processor_unavailable(debits: Debits, standin: ProcessorStandIn) -> None:
    standin.script(debits.name, "error")  # type: ignore[arg-type]
    key = new_key()

    with pytest.raises(ProcessorUnavailableError):
        debits.start(key)
    assert standin.created == []

    if debits.name == "stripe":
        # Stripe saves the 500 under the key and replays it: the same key never gets through.
        with pytest.raises(ProcessorUnavailableError):
            debits.start(key)
        assert standin.created == []
    else:
        assert debits.start(key).reference == standin.created[0].reference


def test_a_refused_connection_raises_processor_unavailable(debits: Debits) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    processor = make_processor(debits.name, f"http://127.0.0.1:{closed_port}")

    with pytest.raises(ProcessorUnavailableError):
        processor.start_debit(
            idempotency_key=new_key(),
            amount=100,
            currency="EUR",
            description="x",
            account=debits.account,
            metadata={},
        )


def test_fetch_status_follows_the_processor(standin: ProcessorStandIn) -> None:
    gocardless = Debits("gocardless", make_processor("gocardless", standin.url), ACCOUNTS["gocardless"])
    paid = gocardless.start(new_key())
    bounced = gocardless.start(new_key())
    assert gocardless.processor.fetch_status(paid.reference).status == "pending"

    standin.set_status(paid.reference, "submitted")
    assert gocardless.processor.fetch_status(paid.reference).status == "pending"
    standin.set_status(paid.reference, "confirmed")
    assert gocardless.processor.fetch_status(paid.reference) == DebitResult(
        "gocardless", paid.reference, "succeeded", None
    )
    standin.set_status(bounced.reference, "failed")
    assert gocardless.processor.fetch_status(bounced.reference) == DebitResult(
        "gocardless", bounced.reference, "failed", "failed"
    )

    stripe = Debits("stripe", make_processor("stripe", standin.url), ACCOUNTS["stripe"])
    standin.script("stripe", "pending", "pending")
    settling = stripe.start(new_key())
    lost = stripe.start(new_key())
    assert settling.status == "pending"
    standin.set_status(settling.reference, "succeeded")
    assert stripe.processor.fetch_status(settling.reference).status == "succeeded"
    standin.set_status(lost.reference, "canceled")
    assert stripe.processor.fetch_status(lost.reference) == DebitResult(
        "stripe", lost.reference, "failed", "canceled"
    )


def test_fetching_an_unknown_payment_is_refused(debits: Debits) -> None:
    unknown = "pi_doesnotexist" if debits.name == "stripe" else "PM0000NOTHERE"
    with pytest.raises(DebitRefusedError):
        debits.processor.fetch_status(unknown)


def test_a_stripe_key_reused_for_another_debit_is_not_a_refusal(standin: ProcessorStandIn) -> None:
    debits = Debits("stripe", make_processor("stripe", standin.url), ACCOUNTS["stripe"])
    key = new_key()
    debits.start(key, amount=100)
    with pytest.raises(IdempotencyKeyReusedError):
        debits.start(key, amount=200)
    assert len(standin.created) == 1


def test_gocardless_refuses_more_than_three_metadata_keys(standin: ProcessorStandIn) -> None:
    debits = Debits("gocardless", make_processor("gocardless", standin.url), ACCOUNTS["gocardless"])
    with pytest.raises(DebitRefusedError, match="metadata"):
        debits.start(new_key(), a="1", b="2", c="3", d="4")
    assert standin.created == []


def test_bad_arguments_never_reach_the_processor(debits: Debits, standin: ProcessorStandIn) -> None:
    for amount in (0, -5, True):
        with pytest.raises(ValueError, match="amount"):
            debits.start(new_key(), amount=amount)
    other = "gocardless" if debits.name == "stripe" else "stripe"
    with pytest.raises(ValueError, match="cannot be debited"):
        debits.processor.start_debit(
            idempotency_key=new_key(),
            amount=100,
            currency="EUR",
            description="x",
            account=ACCOUNTS[other],
            metadata={},
        )
    with pytest.raises(DebitRefusedError):
        debits.processor.start_debit(
            idempotency_key=new_key(),
            amount=100,
            currency="EUR",
            description="x",
            account=DebitAccount(debits.account.processor),
            metadata={},
        )
    assert standin.created == []


def test_the_control_endpoint_drives_the_stand_in_over_http(standin: ProcessorStandIn) -> None:
    control = f"{standin.url}/_standin"
    answer = requests.post(
        f"{control}/outcomes", json={"processor": "stripe", "outcomes": ["fail"]}, timeout=5
    )
    assert answer.status_code == 200
    bad = requests.post(
        f"{control}/outcomes", json={"processor": "stripe", "outcomes": ["explode"]}, timeout=5
    )
    assert bad.status_code == 400

    stripe = Debits("stripe", make_processor("stripe", standin.url), ACCOUNTS["stripe"])
    with pytest.raises(DebitRefusedError):
        stripe.start(new_key())

    gocardless = Debits("gocardless", make_processor("gocardless", standin.url), ACCOUNTS["gocardless"])
    payment = gocardless.start(new_key())
    moved = requests.post(
        f"{control}/status", json={"reference": payment.reference, "status": "paid_out"}, timeout=5
    )
    assert moved.status_code == 200
    assert gocardless.processor.fetch_status(payment.reference).status == "succeeded"

    listed = requests.get(f"{control}/created", timeout=5).json()["created"]
    assert [item["processor"] for item in listed] == ["stripe", "gocardless"]
    assert listed[1]["reference"] == payment.reference
