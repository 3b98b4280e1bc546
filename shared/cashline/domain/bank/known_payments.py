"""A recorded payment as bank matching sees it (`KnownPayment`): one mapping, so that every lookup
(dal.bank_candidates.payments_near and any other) fills a payout's composition the same way."""

from __future__ import annotations

from cashline.domain.bank.reconciliation import KnownPayment
from cashline.domain.payments import Payment


def known_payment(payment: Payment) -> KnownPayment:
    """`payment` for matching. A payout brings what its processor said it settled (`settled_gross`)
    and the fees taken (`fees`), so domain.bank.payout_rules can check gross - fees == the bank line;
    both are None when the processor was not asked (no API credential, PayPal)."""
    return KnownPayment(
        payment_id=payment.id,
        kind=payment.kind.value,
        source=payment.source.value,
        amount=payment.amount,
        currency=payment.currency,
        value_date=payment.value_date,
        reference=payment.source_reference or "",
        settled_gross=payment.settled_gross,
        fees=payment.fees,
        counterparty_id=payment.counterparty_id,
    )
