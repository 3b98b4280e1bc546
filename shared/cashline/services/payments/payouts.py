"""A processor's payout (Stripe `payout.paid`, GoCardless `payouts paid`), recorded with what it is
made of: one bank credit of the net amount, the payments it settled and the fees the processor took.

Before anything is written, the payout's composition is read from the processor's API with the
connection's API credential (adapters.payout_details): the settled payments' gross, the fees, their
references, and for GoCardless the payout's amount itself (its event carries none). Then one
transaction writes the event's claim, the payout payment (kind `payout`, with `settled_gross`, `fees`
and `settled_references`), the fees as a payment of kind `fee` (direction payable, linked to the
payout by `related_payment_id`; none when the fees are 0) and the payout's bank check.

If the processor cannot be read, PayoutDetailsUnavailableError (a DependencyUnavailableError) leaves
the event unprocessed and unclaimed: the queue delivers it again, nothing is recorded half. A
connection without an API credential (or a processor Cashline cannot ask, PayPal) records the net
amount only, as the event states it; a GoCardless payout is then ignored (its event has no amount).
Bank matching (domain.bank.payout_rules) checks that gross minus fees is what reached the bank.
"""

from __future__ import annotations

from dataclasses import replace

from cashline.adapters.payout_details import (
    PayoutComposition,
    PayoutDetailsError,
    gocardless_payout,
    stripe_payout,
)
from cashline.dal.payment_repository import PaymentWrites
from cashline.domain.invoices import Direction
from cashline.domain.payments import HistoryEntry, Payment, PaymentKind, PaymentSource, PaymentStatus
from cashline.errors import DependencyUnavailableError
from cashline.ids import new_id
from cashline.observability import logger
from cashline.schemas.payment_events import PaymentEvent
from cashline.services.payments.context import Context, Outcome, PayoutFetch, claim, commit
from cashline.services.payments.received import await_bank_line, on_ignored, payment_of


class PayoutDetailsUnavailableError(DependencyUnavailableError):
    """Retry later: the processor could not say what the payout is made of."""


def payout_fetcher(
    source: PaymentSource,
    *,
    api_key: str | None,
    stripe_api_base: str | None,
    gocardless_base_url: str | None,
    timeout_s: float = 10,
) -> PayoutFetch | None:
    """How a payout of `source` is read with the connection's credential; None when it cannot be."""
    if not api_key or source not in (PaymentSource.STRIPE, PaymentSource.GOCARDLESS):
        return None
    key = api_key

    def fetch(event: PaymentEvent) -> PayoutComposition:
        payout_id = event.reference or ""
        try:
            if source is PaymentSource.STRIPE:
                return stripe_payout(
                    key,
                    payout_id,
                    currency=event.currency or "",
                    api_base=stripe_api_base,
                    timeout_s=timeout_s,
                )
            return gocardless_payout(key, payout_id, base_url=gocardless_base_url, timeout_s=timeout_s)
        except PayoutDetailsError as exc:
            raise PayoutDetailsUnavailableError(f"payout {payout_id}: {exc}") from exc

    return fetch


def on_payout(ctx: Context, event: PaymentEvent) -> Outcome:
    """Record a payout and its fees once (module docstring)."""
    composition = ctx.payout_details(event) if ctx.payout_details is not None else None
    amount = event.amount if event.amount is not None else (composition.net if composition else None)
    currency = event.currency or (composition.currency if composition else None)
    if amount is None or not currency:
        return on_ignored(ctx, event)  # a GoCardless payout Cashline cannot read: a bank matter
    payout = payment_of(ctx, event, None, status=PaymentStatus.SUCCEEDED)
    payout = replace(payout, amount=amount, currency=currency)
    if composition is not None:
        payout = with_composition(payout, composition, dated=event.value_date is None)
    writes = PaymentWrites(ctx.tenant_id, ctx.now)
    writes.payments.append((None, payout))
    fee = fee_of(ctx, payout, event)
    if fee is not None:
        writes.payments.append((None, fee))
    claim(writes, event, payout.id, new_reference=f"{event.reference or event.event_id}:payout")
    await_bank_line(payout, writes)
    commit(ctx, writes)
    logger.info(
        "payout recorded",
        tenant_id=ctx.tenant_id,
        payment_id=payout.id,
        amount=payout.amount,
        settled_gross=payout.settled_gross,
        fees=payout.fees,
    )
    return Outcome("recorded", payout.id)


def with_composition(payout: Payment, composition: PayoutComposition, *, dated: bool) -> Payment:
    """The payout with what its processor says it is made of (and its arrival date when the event
    gave none)."""
    return replace(
        payout,
        settled_gross=composition.gross,
        fees=composition.fees,
        settled_references=composition.references,
        value_date=composition.arrival_date if dated and composition.arrival_date else payout.value_date,
    )


def fee_of(ctx: Context, payout: Payment, event: PaymentEvent) -> Payment | None:
    """The processor's fees on a payout as a payment of their own: money the business paid the
    processor (payable), out of the payout before it reached the bank; None when there are none."""
    if not payout.fees or payout.fees <= 0:
        return None
    return Payment(
        id=new_id("payment"),
        tenant_id=ctx.tenant_id,
        direction=Direction.PAYABLE,
        source=payout.source,
        source_event_id=event.event_id,
        source_reference=f"{payout.source_reference}:fees",
        connection_id=ctx.connection_id,
        kind=PaymentKind.FEE,
        status=PaymentStatus.SUCCEEDED,
        amount=payout.fees,
        currency=payout.currency,
        value_date=payout.value_date,
        related_payment_id=payout.id,
        raw_payload_key=ctx.raw_payload_key,
        history=(
            HistoryEntry(
                at=ctx.now,
                action=f"event:{event.action.value}",
                actor=ctx.actor,
                event_id=event.event_id,
                note=f"fees of payout {payout.source_reference}",
            ),
        ),
        created_at=ctx.now,
        updated_at=ctx.now,
    )
