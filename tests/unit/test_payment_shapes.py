"""The payment's two shapes: the domain's value (cashline.domain.payments) and the API's answer
(cashline.schemas.payments), mapped at the edge. They must not drift: a field added to one is in the
other, in the same order (the answer's field order is the API's)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from cashline.domain import payments as domain
from cashline.domain.invoices import Direction
from cashline.schemas import payment_events, payments

AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _names(value_type: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(value_type)]


def _wire_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def test_the_answer_has_every_field_of_the_domain_value_in_the_same_order() -> None:
    pairs: list[tuple[type[object], type[BaseModel]]] = [
        (domain.Payment, payments.Payment),
        (domain.Allocation, payments.Allocation),
        (domain.HistoryEntry, payments.HistoryEntry),
        (domain.Payer, payment_events.Payer),
        (domain.Targets, payment_events.Targets),
    ]
    for value_type, model in pairs:
        assert _names(value_type) == _wire_names(model), value_type.__name__


def test_a_payment_maps_to_its_answer_field_for_field() -> None:
    # Given a payment with every part filled
    payment = domain.Payment(
        id="pay_1",
        tenant_id="ten_1",
        direction=Direction.RECEIVABLE,
        source=domain.PaymentSource.STRIPE,
        source_event_id="evt_1",
        source_reference="pi_1",
        kind=domain.PaymentKind.PAYMENT,
        status=domain.PaymentStatus.SUCCEEDED,
        amount=12_000,
        currency="EUR",
        value_date=date(2026, 3, 10),
        method=domain.PaymentMethod.CARD,
        payer=domain.Payer(name="Kunde AG", reference="cus_1"),
        targets=domain.Targets(invoice_id="inv_1", counterparty_id="cp_1"),
        counterparty_id="cp_1",
        allocations=(
            domain.Allocation(
                target_type="invoice",
                target_id="inv_1",
                amount=10_000,
                currency="EUR",
                at=AT,
                actor="webhook:stripe",
                reversed_amount=1_000,
                number="R-1",
            ),
        ),
        allocated_amount=9_000,
        unallocated_amount=2_000,
        reversed_amount=1_000,
        history=(
            domain.HistoryEntry(at=AT, action="event:succeeded", actor="webhook:stripe", event_id="evt_1"),
        ),
        created_at=AT,
        updated_at=AT,
        version=2,
    )

    # When it is mapped to the answer
    answer = payments.Payment.of(payment).model_dump()

    # Then every value is there, the nested parts as objects and the sequences as lists
    assert answer["payer"] == dataclasses.asdict(payment.payer)
    assert answer["targets"] == dataclasses.asdict(payment.targets)
    assert answer["allocations"] == [dataclasses.asdict(a) for a in payment.allocations]
    assert answer["history"] == [dataclasses.asdict(h) for h in payment.history]
    plain = {k: v for k, v in dataclasses.asdict(payment).items() if k not in {"allocations", "history"}}
    assert {k: answer[k] for k in plain if k not in {"payer", "targets"}} == {
        k: v for k, v in plain.items() if k not in {"payer", "targets"}
    }


def test_what_an_event_says_the_money_is_for_becomes_the_domains_and_merges() -> None:
    said = payment_events.Targets(invoice_id="inv_1", plan_id=None)
    known = domain.Targets(counterparty_id="cp_1", invoice_id="inv_0")

    merged = known.merged_with(said.to_domain())

    # The payment's own knowledge first, the event's for what it did not know
    assert merged == domain.Targets(invoice_id="inv_0", counterparty_id="cp_1")
    assert payment_events.Targets.of(merged).to_domain() == merged


def test_what_a_payment_adds_to_money_received() -> None:
    base = domain.Payment(
        id="pay_1",
        tenant_id="ten_1",
        direction=Direction.RECEIVABLE,
        source=domain.PaymentSource.MANUAL,
        kind=domain.PaymentKind.PAYMENT,
        status=domain.PaymentStatus.SUCCEEDED,
        amount=5_000,
        currency="EUR",
        value_date=date(2026, 3, 10),
        created_at=AT,
        updated_at=AT,
    )
    reversed_in_part = dataclasses.replace(base, reversed_amount=2_000)
    reversed_whole = dataclasses.replace(base, status=domain.PaymentStatus.REVERSED, reversed_amount=5_000)
    refund = dataclasses.replace(base, kind=domain.PaymentKind.REFUND)

    assert base.received() == (5_000, 1)
    assert reversed_in_part.received() == (3_000, 1)
    assert reversed_whole.received() == (0, 0)
    assert refund.received() == (0, 0)
    assert dataclasses.replace(base, status=domain.PaymentStatus.PENDING).received() == (0, 0)
