"""What one bank line's match may name, checked before any money moves (services.bank.match_money),
for a person's targets and the matcher's proposals alike. Each refusal names the target's field
(`targets[n].id`, `targets[n].type`, `targets[n].amount`) or `targets` for the set as a whole:

- the targets may not take more than the line's amount;
- invoices or bills (a new payment of the line's money) never share a line with a payout, a
  refund/chargeback or an installment (money another source already recorded): the same money would
  count twice;
- a `payout` target is a payment of kind payout, on a credit line; a `payment` target is a refund or
  chargeback, on a debit line; neither is ever a `bank_transfer` payment (that one is a bank line's
  own: match that line instead). The payment is the line's currency, succeeded, and the target's
  amount is the payment's amount exactly (a payout's net is what reaches the bank: a line of another
  amount is another payout, or the payout's own figures say a PAYOUT_MISMATCH, see
  domain.bank.payout_rules).
"""

from __future__ import annotations

from cashline.domain.bank.model import Direction as BankDirection
from cashline.domain.bank.reconciliation import BankTransaction, MatchTarget, Proposal, TargetType
from cashline.domain.payments import Payment, PaymentKind, PaymentSource, PaymentStatus
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.ids import is_id_of
from cashline.services.payments.context import payments

INVOICE_TARGETS = frozenset({TargetType.INVOICE, TargetType.BILL})
EXISTING_PAYMENT_TARGETS = frozenset({TargetType.PAYOUT, TargetType.PAYMENT})
# The kinds of recorded payment a target type names, and the side of the account its money is on.
PAYMENT_KINDS = {
    TargetType.PAYOUT: (frozenset({PaymentKind.PAYOUT}), BankDirection.CREDIT),
    TargetType.PAYMENT: (frozenset({PaymentKind.REFUND, PaymentKind.CHARGEBACK}), BankDirection.DEBIT),
}


class TargetUnavailableError(ConflictError):
    """A target that cannot take this line (an invoice no longer open, a payout another line
    reconciled): a decision, final, not a write that lost a race and is worth trying again."""


def check_targets(tx: BankTransaction, proposal: Proposal) -> None:
    """The targets as a set: not more than the line, and no money counted twice."""
    if proposal.total > tx.amount:
        raise UnprocessableError(
            f"the targets take {proposal.total}, more than the line's {tx.amount}", field="targets"
        )
    kinds = {target.type for target in proposal.targets}
    recorded = kinds & (EXISTING_PAYMENT_TARGETS | {TargetType.INSTALLMENT})
    if kinds & INVOICE_TARGETS and recorded:
        raise UnprocessableError(
            "invoices or bills cannot share a line with a "
            + " or ".join(sorted(kind.value for kind in recorded))
            + ": that money is recorded already and would count twice",
            field="targets",
        )


def recorded_payment(tx: BankTransaction, target: MatchTarget, index: int) -> Payment:
    """The payout, refund or chargeback a `payout`/`payment` target names, checked against the line
    (module docstring)."""
    field = f"targets[{index}].id"
    if not is_id_of("payment", target.id):
        raise NotFoundError("payment not found", field=field)
    try:
        payment = payments.get(tx.tenant_id, target.id)
    except NotFoundError:
        raise NotFoundError("payment not found", field=field) from None
    kinds, direction = PAYMENT_KINDS[target.type]
    if tx.direction is not direction:
        raise UnprocessableError(
            f"a {target.type.value} target is for a {direction.value} line; this one is a "
            f"{tx.direction.value}",
            field=f"targets[{index}].type",
        )
    wanted = " or ".join(sorted(kind.value for kind in kinds))
    if payment.source is PaymentSource.BANK_TRANSFER or payment.kind not in kinds:
        raise UnprocessableError(
            f"payment {payment.id} is a {payment.source.value} {payment.kind.value}; a "
            f"{target.type.value} target names a processor's or a person's {wanted}",
            field=field,
        )
    if payment.currency != tx.currency:
        raise UnprocessableError(f"payment {payment.id} is in {payment.currency}", field=field)
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise TargetUnavailableError(f"payment {payment.id} is {payment.status.value}", field=field)
    if target.amount != payment.amount:
        raise UnprocessableError(
            f"payment {payment.id} is {payment.amount}, not {target.amount}",
            field=f"targets[{index}].amount",
        )
    return payment
