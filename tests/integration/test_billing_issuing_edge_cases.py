"""Review fixes of issue 14 on the issuing / credit side, end to end against DynamoDB Local: negative
periods become a credit note + an invoice, discounted items credit what they were charged, credit
notes keep the credited invoice's VAT and settle it first, the preview applies scheduled changes and
pauses, amounts beyond the limit are a 422 / a counted skip, and a subscription cancelled after its
last failed charge still bills what it owes. Figures computed by hand next to each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cashline.dal.billing_subscriptions import SubscriptionRepository
from cashline.dal.billing_usage import UsageTotalRecord, usage_total_pk
from cashline.dal.invoice_numbers import NUMBER_CLAIM_SCOPE, stage_number_claim
from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.party_records import UNIQUE_SK, UniqueRecord, unique_pk
from cashline.dal.transactions import UnitOfWork
from cashline.domain.billing.catalog import TaxBehavior, TaxCategory
from cashline.domain.billing.subscriptions import PendingLine, Subscription, SubscriptionStatus
from cashline.domain.invoices import DocumentKind, InvoiceStatus
from cashline.errors import ConflictError, UnprocessableError
from cashline.schemas.subscription_changes import CancelRequest
from cashline.services.billing import catalog, issuing, upcoming
from cashline.services.billing.cancellation import cancel_subscription
from cashline.services.billing.credit import credit_balance
from cashline.services.billing.finalising import next_number_to_take
from cashline.services.counterparties import update_counterparty
from tests.integration.test_billing_issuing import (
    CREATED,
    FEB_TICK,
    Subscribe,
    customer,
    issued,
    price,
    subscribe,
)
from tests.utils import TestTenant

pytestmark = pytest.mark.usefixtures("local_cloud")
__all__ = ["customer", "subscribe"]  # fixtures used by name

subscriptions = SubscriptionRepository()
invoices = InvoiceRepository()
JAN_16 = datetime(2027, 1, 16, 9, 0, tzinfo=UTC)
# Sweep ticks of this module's own: a schedule's tick is claimed once across the whole table, and
# other modules (the year test) fire the sweeps at the usual instants.
OWN_FEB_TICK = FEB_TICK + timedelta(minutes=7, seconds=13)
OWN_JAN_16_TICK = JAN_16 + timedelta(minutes=7, seconds=13)


def pending(sub: Subscription, amount: int, price_id: str) -> PendingLine:
    return PendingLine(
        description="Proration",
        amount=amount,
        item_id=sub.items[0].item_id,
        price_id=price_id,
        tax_category=TaxCategory.STANDARD,
        tax_behavior=TaxBehavior.EXCLUSIVE,
        service_start=date(2027, 1, 1),
        service_end=date(2027, 2, 1),
    )


def rewrite(before: Subscription, **fields: Any) -> Subscription:
    """Put the subscription in the state a change would leave (versioned write, as the services do)."""
    after = replace(before, **fields)
    work = UnitOfWork("test")
    work.add(lambda write: subscriptions.stage_update(write, before, after))
    work.commit()
    return subscriptions.get(before.tenant_id, before.subscription_id)


def downgraded(tenant: TestTenant, subscribe: Subscribe, **fields: Any) -> Subscription:
    """90.00 -> 30.00 with create_prorations effective on the first day: -60.00 waiting."""
    sub = subscribe((price(tenant.tenant_id, 9000, name="Pro"), 1))
    basic = catalog.terms_for(tenant.tenant_id, price(tenant.tenant_id, 3000))
    item = replace(sub.items[0], terms=basic)
    return rewrite(
        sub, items=(item,), pending_lines=(pending(sub, -6000, sub.items[0].terms.price_id),), **fields
    )


def test_a_period_netting_negative_is_a_credit_note_and_a_paid_invoice_never_a_negative_invoice(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    """The reviewer's case (before: February invoice -35.70 'paid', the credit gone). Now: credit note
    60.00 + 11.40 = 71.40 into the balance; February 30.00 + 5.70 = 35.70 paid from it; 35.70 left."""
    sub = downgraded(tenant, subscribe)
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    later = [(i.document_kind, i.amount_due, i.amount_paid, i.status) for i, _ in issued(sub)[1:]]
    assert later == [
        (DocumentKind.CREDIT_NOTE, 7140, 7140, InvoiceStatus.PAID),
        (DocumentKind.INVOICE, 3570, 3570, InvoiceStatus.PAID),
    ]
    assert credit_balance(tenant.tenant_id, sub.counterparty_id, "EUR") == 3570
    assert all(i.amount_due >= 0 for i, _ in issued(sub))
    # Exactly once: a second tick (or call) issues nothing more.
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    assert len(issued(sub)) == 3
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).pending_lines == ()


def test_cancel_at_period_end_with_negative_pending_lines_credits_them(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    sub = downgraded(tenant, subscribe, cancel_at=date(2027, 2, 1))
    issuing.issue_due_invoice(tenant.tenant_id, sub.subscription_id, now=FEB_TICK)
    later = [(i.document_kind, i.amount_due) for i, _ in issued(sub)[1:]]
    assert later == [(DocumentKind.CREDIT_NOTE, 7140)]  # no advance charge, no negative invoice
    assert credit_balance(tenant.tenant_id, sub.counterparty_id, "EUR") == 7140
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).status is SubscriptionStatus.CANCELED


def test_a_fully_discounted_period_credits_nothing_on_cancel(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    """The reviewer's case: 100 % off -> a 0.00 invoice; cancel now with proration. Before: 30.00
    recorded as charged, so a 35.70 credit note for what was never paid."""
    sub = subscribe((price(tenant.tenant_id, 3000), 1), discounts=[{"percent_basis_points": 10_000}])
    [(january, _)] = issued(sub)
    assert january.amount_due == 0
    assert sub.period_charged == {sub.items[0].item_id: 0}
    outcome = cancel_subscription(
        tenant.tenant_id, sub.subscription_id, CancelRequest(at="now", prorate=True), actor="test", now=JAN_16
    )
    assert outcome.credit_note_id is None
    assert len(issued(sub)) == 1
    assert credit_balance(tenant.tenant_id, sub.counterparty_id, "EUR") == 0


def test_a_credit_note_keeps_the_vat_the_credited_invoice_charged(
    tenant: TestTenant, subscribe: Subscribe, customer: str
) -> None:
    """Charged 19 % as a consumer in Austria (no OSS: German VAT); a VAT id added since would make
    today's decision a 0 % reverse charge. The credit note of the unused part stays at 19 %."""
    update_counterparty(tenant.tenant_id, customer, {"country": "AT"}, expected_version=1, now=CREATED)
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    [(january, _)] = issued(sub)
    assert january.tax == 570
    update_counterparty(
        tenant.tenant_id, customer, {"tax_id": "ATU13585627"}, expected_version=2, now=CREATED
    )
    after = replace(sub, pending_lines=())
    note_id = issuing.issue_proration_invoice(
        tenant.tenant_id, sub, after, [pending(sub, -1548, sub.items[0].terms.price_id)], now=JAN_16
    )
    note, body, _ = invoices.get(tenant.tenant_id, note_id or "")
    assert (note.subtotal, note.tax) == (1548, 294)  # 15.48 x 19 % = 2.9412 -> 2.94
    assert body is not None and body.details is not None
    assert [line["tax_category_code"] for line in body.details["lines"]] == ["S"]


def test_cancelling_now_settles_the_unpaid_invoice_it_credits(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    """30.00 + 19 % = 35.70 unpaid; cancel now on 16 January with proration: credit 3000 x 16 / 31 =
    15.48 + 2.94 = 18.42, taken off the January invoice (17.28 still owed), nothing left in the balance.
    Before: the 18.42 sat in the balance of a cancelled customer and the invoice stayed in collection."""
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    outcome = cancel_subscription(
        tenant.tenant_id, sub.subscription_id, CancelRequest(at="now", prorate=True), actor="test", now=JAN_16
    )
    assert outcome.credit_note_id is not None
    january = invoices.get_header(tenant.tenant_id, sub.latest_invoice_id or "")
    assert (january.amount_due, january.amount_paid) == (3570, 1842)
    assert january.amount_outstanding == 1728
    assert credit_balance(tenant.tenant_id, sub.counterparty_id, "EUR") == 0


def test_the_preview_of_a_paused_subscription_says_so(tenant: TestTenant, subscribe: Subscribe) -> None:
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    sub = rewrite(
        sub, status=SubscriptionStatus.PAUSED, paused_on=date(2027, 1, 10), resumes_on=date(2027, 3, 1)
    )
    view = upcoming.upcoming_invoice(tenant.tenant_id, sub.subscription_id, now=JAN_16)
    assert (view.status, view.lines, view.amount_due, view.period_start) == (
        "paused",
        (),
        0,
        date(2027, 3, 1),
    )


def test_an_amount_beyond_the_limit_is_a_422_in_the_preview_and_a_counted_skip_in_the_sweep(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    """Usage stored before the usage endpoint refused such totals: 10^12 calls x 30.00 is beyond
    MAX_MINOR_UNITS. Before: the preview was a 500 and the sweep a traceback every tick."""
    sub = subscribe((price(tenant.tenant_id, 3000, usage_type="metered"), 1))
    huge = sub.items[0]
    UsageTotalRecord(
        pk=usage_total_pk(tenant.tenant_id, huge.item_id),
        sk=f"USAGE#{sub.current_period_start.isoformat()}",
        tenant_id=tenant.tenant_id,
        item_id=huge.item_id,
        period_start=sub.current_period_start.isoformat(),
        quantity=10**12,
        created_at=CREATED,
        updated_at=CREATED,
    ).save()
    with pytest.raises(UnprocessableError) as caught:
        upcoming.upcoming_invoice(tenant.tenant_id, sub.subscription_id, now=JAN_16)
    assert caught.value.field == f"items.{huge.item_id}"
    result = issuing.run_subscription_invoices(tick_at=OWN_FEB_TICK, worker="test")
    assert result is not None  # no exception out of the sweep
    assert len(issued(sub)) == 0  # nothing in advance for a metered item; nothing issued
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).next_invoice_on == date(2027, 2, 1)


def test_a_subscription_cancelled_after_its_last_failed_charge_bills_what_it_owes_once(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    """As charge_outcomes leaves it: canceled today, due now. The sweep bills the waiting +12.00."""
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    canceled = replace(
        sub,
        status=SubscriptionStatus.CANCELED,
        canceled_on=date(2027, 1, 16),
        next_invoice_on=None,
        pending_lines=(pending(sub, 1200, sub.items[0].terms.price_id),),
    )
    work = UnitOfWork("test")
    work.add(lambda write: subscriptions.stage_update(write, sub, canceled, due_at=JAN_16))
    work.commit()
    issuing.run_subscription_invoices(tick_at=OWN_JAN_16_TICK, worker="test")
    issuing.run_subscription_invoices(tick_at=OWN_JAN_16_TICK + timedelta(minutes=15), worker="test")
    final = [(i.document_kind, i.subtotal, i.amount_due) for i, _ in issued(sub)[1:]]
    assert final == [(DocumentKind.INVOICE, 1200, 1428)]  # 12.00 + 2.28
    assert subscriptions.get(tenant.tenant_id, sub.subscription_id).pending_lines == ()


def test_a_credit_note_refuses_a_number_held_tenant_wide_and_writes_nothing(
    tenant: TestTenant, subscribe: Subscribe
) -> None:
    """A hand-made invoice holds the number the sequence stands at: 409 on `number`, no gap."""
    sub = subscribe((price(tenant.tenant_id, 3000), 1))
    taken = next_number_to_take(tenant.tenant_id, "{YYYY}-{seq:06}", JAN_16.date())
    held = UniqueRecord(pk=unique_pk(tenant.tenant_id, NUMBER_CLAIM_SCOPE, taken.number), sk=UNIQUE_SK)
    work = UnitOfWork("test")
    work.add(
        lambda write: stage_number_claim(write, tenant.tenant_id, taken.number, "inv_handmade", now=JAN_16)
    )
    work.commit()
    try:
        with pytest.raises(ConflictError) as caught:
            issuing.issue_proration_invoice(
                tenant.tenant_id, sub, sub, [pending(sub, -1548, sub.items[0].terms.price_id)], now=JAN_16
            )
        assert caught.value.field == "number"
        assert len(issued(sub)) == 1
        assert next_number_to_take(tenant.tenant_id, "{YYYY}-{seq:06}", JAN_16.date()) == taken
    finally:
        held.delete()  # the claim is this test's alone
