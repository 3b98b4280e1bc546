"""A tenant's invoice number sequences: one item per scope, `T#<t>` / `INVSEQ#<scope>`, holding the
next number to give.

Gap-free and never reused. The finalising transaction reads `current_next` (a consistent read), gives
that number to the invoice and stages `stage_next_number` with the number it read: the write is
conditioned on the sequence still being at that number, so of two finalisations racing for one
number exactly one commits and the other's whole transaction fails (ConflictError; it reads again
and retries). Since the number is taken in the same transaction as the invoice that carries it, a
number is never consumed without an invoice (no gap) and never given twice.

A formatted number is also claimed tenant-wide (`stage_number_claim`, `T#<t>#UNIQ#INVNUMBER#<number>`
/ `UNIQ`, naming the invoice): the sequences are per scope (a pattern with `{YYYY}` counts per year,
one without counts once), so a pattern change can make two scopes format the same text (`R{seq}`
then `R{YY}{seq:02}` both give `R2701`), and credit notes and invoices share the text space. The
claim turns such a collision into a failed transaction (409 on `number`), never a duplicate number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from cashline.dal.party_records import UNIQUE_SK, UniqueRecord, unique_pk
from cashline.dal.payment_records import InvoiceNumberRecord, invoice_number_pk
from cashline.dal.table import CashlineItem, tenant_pk
from cashline.domain.references import normalize_invoice_number

SEQUENCE_SK_PREFIX = "INVSEQ#"
# The claim scope of a formatted number, unique across the tenant's counterparties (invoices and
# credit notes alike); the per-counterparty `INVNO` claim stays for the create path.
NUMBER_CLAIM_SCOPE = "INVNUMBER"


class InvoiceSequenceRecord(CashlineItem, discriminator="invoice_sequence"):
    """The next number of one sequence. Changed only by conditional updates, so no version."""

    next_number = NumberAttribute(attr_name="next")


def _sequence_sk(scope: str) -> str:
    if not scope:
        raise ValueError("a sequence scope is required")
    return f"{SEQUENCE_SK_PREFIX}{scope}"


def current_next(tenant_id: str, scope: str) -> int:
    """The number the next finalised invoice of `scope` gets (1 when none was given yet)."""
    try:
        record = InvoiceSequenceRecord.get(tenant_pk(tenant_id), _sequence_sk(scope), consistent_read=True)
    except DoesNotExist:
        return 1
    return int(record.next_number)


def stage_next_number(
    write: TransactWrite, tenant_id: str, scope: str, expected_next: int, *, now: datetime | None = None
) -> None:
    """Take number `expected_next` of `scope` in `write`: the sequence moves to `expected_next + 1`
    only if it still stands at `expected_next` (absent when `expected_next` is 1); otherwise the whole
    transaction fails with ConflictError and the caller reads `current_next` again.

    `now` stamps `updated_at` (and `created_at` of a new sequence); absent, the stamps are left out.
    """
    if expected_next < 1:
        raise ValueError("sequence numbers start at 1")
    r = InvoiceSequenceRecord
    item = InvoiceSequenceRecord(pk=tenant_pk(tenant_id), sk=_sequence_sk(scope))
    actions: list[Any] = [r.next_number.set(expected_next + 1), r.kind.set(InvoiceSequenceRecord)]
    if now is not None:
        actions += [r.created_at.set(r.created_at | now), r.updated_at.set(now)]
    condition = r.pk.does_not_exist() if expected_next == 1 else r.next_number == expected_next
    write.update(item, actions=actions, condition=condition)


def stage_number_claim(
    write: TransactWrite, tenant_id: str, number: str, invoice_id: str, *, now: datetime | None = None
) -> None:
    """Claim the formatted `number` for `invoice_id` across the whole tenant in `write`: the claim
    item is written only if absent, so a number another invoice or credit note already holds fails
    the whole transaction (ConflictError; `number_claimed_by` names the holder). Claims are never
    given back (a voided invoice keeps its number).

    `now` stamps `created_at`/`updated_at`; absent, the stamps are left out (an update, like
    `stage_next_number`).
    """
    if not number:
        raise ValueError("a number is required")
    r = UniqueRecord
    item = UniqueRecord(pk=unique_pk(tenant_id, NUMBER_CLAIM_SCOPE, number), sk=UNIQUE_SK)
    actions: list[Any] = [r.target_id.set(invoice_id), r.kind.set(UniqueRecord)]
    if now is not None:
        actions += [r.created_at.set(now), r.updated_at.set(now)]
    write.update(item, actions=actions, condition=r.pk.does_not_exist())


def number_claimed_by(tenant_id: str, number: str) -> str | None:
    """The invoice (or credit note) id holding the tenant-wide claim on `number`, None when free."""
    try:
        record = UniqueRecord.get(
            unique_pk(tenant_id, NUMBER_CLAIM_SCOPE, number), UNIQUE_SK, consistent_read=True
        )
    except DoesNotExist:
        return None
    return str(record.target_id)


def receivable_numbered(tenant_id: str, number: str, *, other_than: str) -> str | None:
    """A receivable invoice other than `other_than` that already carries exactly `number`, or None:
    one Query of the remittance lookup (`InvoiceNumberRecord`, written with every numbered invoice).
    Invoices made by hand through `POST /v1/invoices` claim their number per counterparty only, and
    those made before the tenant-wide claim existed hold none: this read finds them."""
    normalized = normalize_invoice_number(number)
    if not normalized:
        return None
    for item in InvoiceNumberRecord.query(
        invoice_number_pk(tenant_id, "receivable", normalized), consistent_read=True
    ):
        if isinstance(item, InvoiceNumberRecord) and item.number == number and item.invoice_id != other_than:
            return str(item.invoice_id)
    return None
