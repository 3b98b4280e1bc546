"""A discrepancy's life: flagged (stored, open) with the change that found it, resolved once.

- A match's discrepancies (underpaid, overpaid, payout mismatch) are stored in the match's
  transaction; the line keeps their ids (`BankTransaction.discrepancy_ids`, one per
  `discrepancies` entry). Unmatching the line resolves them in the unmatch's transaction
  (resolution note "unmatched"); the day totals' `disc_*` counters are taken back there too
  (services.bank.applying moves them with the line's `discrepancies`).
- A line's own flags (DUPLICATE: the same money twice, found when it was matched) belong to the line,
  not to a match: they stay on it when it is matched, ignored or unmatched, until a person resolves them.
- A payment's NOT_IN_BANK discrepancy (services.bank.discrepancy_checks) is resolved in the
  transaction of the bank line matched to the payment (services.bank.match_money), found by its
  lookup item `T#<t>#BDCPAY#<pay>`.
- A person resolves any open one with a note (`POST /v1/bank-discrepancies/{id}/resolve`); the day
  totals keep counting it (they count what was flagged on a day's lines).

Every resolution is conditional on the discrepancy being open at the version read: of two resolutions,
one commits and the other is a ConflictError that wrote nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from cashline.dal.bank_repository import StoredDiscrepancy, bank
from cashline.domain.bank.reconciliation import BankTransaction, Discrepancy, DiscrepancyKind
from cashline.errors import ConflictError, NotFoundError, UnprocessableError
from cashline.ids import is_id_of, new_id

Stage = Callable[..., None]
# Flags that describe the line itself rather than what it was matched to.
LINE_KINDS = frozenset({DiscrepancyKind.DUPLICATE})
UNMATCHED_NOTE = "unmatched"
MAX_NOTE = 500


def flags_of(tx: BankTransaction) -> list[tuple[Discrepancy, str]]:
    """The line's discrepancies with their stored ids ("" for one stored before ids were kept)."""
    ids = list(tx.discrepancy_ids) + [""] * (len(tx.discrepancies) - len(tx.discrepancy_ids))
    return list(zip(tx.discrepancies, ids, strict=False))


def line_flags(tx: BankTransaction) -> tuple[tuple[Discrepancy, ...], tuple[str, ...]]:
    """The flags that stay with the line whatever its match becomes (DUPLICATE), and their ids."""
    kept = [(found, bdc) for found, bdc in flags_of(tx) if found.kind in LINE_KINDS]
    return tuple(found for found, _ in kept), tuple(bdc for _, bdc in kept)


def match_flag_ids(tx: BankTransaction) -> list[str]:
    """The stored ids of the flags the line's match made (resolved when it is unmatched)."""
    return [bdc for found, bdc in flags_of(tx) if found.kind not in LINE_KINDS and bdc]


def new_flag_ids(found: tuple[Discrepancy, ...]) -> tuple[str, ...]:
    return tuple(new_id("bank_discrepancy") for _ in found)


def store_flags(
    tx: BankTransaction,
    found: tuple[Discrepancy, ...],
    ids: tuple[str, ...],
    *,
    payment_id: str | None,
    now: datetime,
) -> list[Stage]:
    """Stages storing `found` (open) under `ids`, for the transaction that puts them on the line."""
    return [
        partial(
            bank.stage_discrepancy,
            discrepancy=StoredDiscrepancy(
                discrepancy_id=bdc,
                tenant_id=tx.tenant_id,
                bank_account_id=tx.bank_account_id,
                bank_transaction_id=tx.transaction_id,
                payment_id=payment_id,
                discrepancy=one,
                status="open",
                at=now,
            ),
        )
        for one, bdc in zip(found, ids, strict=True)
    ]


def resolve_stages(
    tenant_id: str, discrepancy_ids: list[str], *, now: datetime, actor: str, note: str
) -> list[Stage]:
    """Stages resolving those of `discrepancy_ids` still open (one BatchGet), each on its version."""
    return [
        partial(bank.stage_discrepancy_resolved, before=found, now=now, actor=actor, note=note)
        for found in bank.discrepancies(tenant_id, discrepancy_ids)
        if found.status == "open"
    ]


def payment_flag_resolved(
    tenant_id: str, payment_id: str, *, transaction_id: str, now: datetime, actor: str
) -> Stage | None:
    """The stage resolving the payment's open NOT_IN_BANK discrepancy, if it has one: the bank line
    `transaction_id` showed the money after all."""
    found = bank.open_discrepancy_of_payment(tenant_id, payment_id)
    if found is None:
        return None
    return partial(
        bank.stage_discrepancy_resolved,
        before=found,
        now=now,
        actor=actor,
        note=f"bank line {transaction_id} matched the payment",
    )


def resolve_discrepancy(
    tenant_id: str, discrepancy_id: str, *, note: str, actor: str, now: datetime
) -> StoredDiscrepancy:
    """A person closes an open discrepancy with a note (what they found or did). NotFoundError for an
    unknown or another tenant's id; ConflictError when it is resolved already."""
    if not is_id_of("bank_discrepancy", discrepancy_id):
        raise NotFoundError("discrepancy not found", field="discrepancy_id")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise UnprocessableError(f"at most {MAX_NOTE} characters", field="note")
    before = bank.get_discrepancy(tenant_id, discrepancy_id)
    if before.status != "open":
        raise ConflictError(
            "the discrepancy is resolved already",
            field="status",
            details={"status": before.status, "resolved_at": _iso(before.resolved_at)},
        )
    return bank.resolve_discrepancy(before, now, actor=actor, note=note)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
