"""A customer's credit balance per currency and its ledger.

Keys: `T#<t>#CP#<cp>#CREDIT` / `BAL#<currency>` holds `balance` (minor units; positive: what the
tenant owes the customer and takes off its next invoices), changed only by ADD, so concurrent credit
notes never lose each other's amounts; `T#<t>#CP#<cp>#CREDIT` / `LOG#<currency>#<at>#<id>` is one
immutable ledger entry per movement (a credit note adds, an invoice takes).

A partition of its own rather than the counterparty's (`T#<t>#CP#<cp>`): the counterparty read
Queries its whole partition and would otherwise read the growing ledger on every request, and fail
on record kinds a process that never imported this module does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from cashline.dal.table import CashlineItem

BALANCE_SK_PREFIX = "BAL#"
LEDGER_SK_PREFIX = "LOG#"


class CreditBalanceRecord(CashlineItem, discriminator="credit_balance"):
    """Changed only by conditional ADDs, so no version."""

    tenant_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    balance = NumberAttribute(default=0)


class CreditLedgerRecord(CashlineItem, discriminator="credit_ledger"):
    """One movement of the balance: never changed."""

    tenant_id = UnicodeAttribute()
    counterparty_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    entry_id = UnicodeAttribute()
    amount = NumberAttribute()  # signed: + credit note, - applied to an invoice
    source = UnicodeAttribute()  # "credit_note" | "invoice"
    source_id = UnicodeAttribute()  # the credit note's or the invoice's id


@dataclass(frozen=True, slots=True)
class CreditEntry:
    """One movement of a customer's credit balance."""

    entry_id: str
    counterparty_id: str
    currency: str
    amount: int
    source: str
    source_id: str
    at: datetime


def _partition(tenant_id: str, counterparty_id: str) -> str:
    return f"T#{tenant_id}#CP#{counterparty_id}#CREDIT"


def balance_of(tenant_id: str, counterparty_id: str, currency: str) -> int:
    """The customer's credit in `currency` (0 when it never had any): one consistent GetItem."""
    try:
        record = CreditBalanceRecord.get(
            _partition(tenant_id, counterparty_id), f"{BALANCE_SK_PREFIX}{currency}", consistent_read=True
        )
    except DoesNotExist:
        return 0
    return int(record.balance or 0)


def stage_movement(write: Any, tenant_id: str, entry: CreditEntry) -> None:
    """Move the balance by `entry.amount` and write the ledger entry, in the caller's transaction.
    A negative amount (credit taken) is conditioned on the balance covering it, so the balance never
    goes below 0 (the whole transaction fails with ConflictError otherwise)."""
    r = CreditBalanceRecord
    balance = CreditBalanceRecord(
        pk=_partition(tenant_id, entry.counterparty_id), sk=f"{BALANCE_SK_PREFIX}{entry.currency}"
    )
    actions = [
        # The first movement creates the item: it needs its kind and fields, later ones keep them.
        r.kind.set(r.kind | CreditBalanceRecord),
        r.tenant_id.set(tenant_id),
        r.counterparty_id.set(entry.counterparty_id),
        r.currency.set(entry.currency),
        r.created_at.set(r.created_at | entry.at),
        r.updated_at.set(entry.at),
        r.balance.add(entry.amount),
    ]
    condition = r.balance >= -entry.amount if entry.amount < 0 else None
    write.update(balance, actions=actions, condition=condition)
    write.save(
        CreditLedgerRecord(
            pk=_partition(tenant_id, entry.counterparty_id),
            sk=f"{LEDGER_SK_PREFIX}{entry.currency}#{entry.at.isoformat()}#{entry.entry_id}",
            tenant_id=tenant_id,
            counterparty_id=entry.counterparty_id,
            currency=entry.currency,
            entry_id=entry.entry_id,
            amount=entry.amount,
            source=entry.source,
            source_id=entry.source_id,
            created_at=entry.at,
            updated_at=entry.at,
        ),
        condition=CreditLedgerRecord.pk.does_not_exist(),
    )


def ledger(tenant_id: str, counterparty_id: str, currency: str) -> list[CreditEntry]:
    """Every movement of the customer's balance in `currency`, oldest first: one Query."""
    results = CreditLedgerRecord.query(
        _partition(tenant_id, counterparty_id),
        CreditLedgerRecord.sk.startswith(f"{LEDGER_SK_PREFIX}{currency}#"),
        consistent_read=True,
    )
    return [
        CreditEntry(
            entry_id=item.entry_id,
            counterparty_id=item.counterparty_id,
            currency=item.currency,
            amount=int(item.amount),
            source=item.source,
            source_id=item.source_id,
            at=item.created_at,
        )
        for item in results
        if isinstance(item, CreditLedgerRecord)
    ]


def stage_return_credit(
    write: Any,
    tenant_id: str,
    counterparty_id: str,
    currency: str,
    amount: int,
    invoice_id: str,
    now: datetime,
) -> None:
    """Give back to the customer's balance the `amount` of credit invoice `invoice_id` had taken (a
    voided subscription draft), with its ledger entry, in the caller's transaction. What makes it
    happen once is the caller's versioned change of that invoice (draft -> void) in the same
    transaction."""
    if amount <= 0:
        raise ValueError("the credit returned must be positive")
    entry = CreditEntry(
        entry_id=f"{invoice_id}-returned",
        counterparty_id=counterparty_id,
        currency=currency,
        amount=amount,
        source="invoice_void",
        source_id=invoice_id,
        at=now,
    )
    stage_movement(write, tenant_id, entry)
