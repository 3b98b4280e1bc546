"""Bank reconciliation's records <-> domain values (dal.bank_records <-> domain.bank.reconciliation).

Facts the bank sent map field by field (dal.record_fields); what Cashline made of a line (proposals,
the match, discrepancies, history) is stored as JSON of plain values, written and read here by hand
so the read path needs no pydantic model (cold start) and a stored shape changes only on purpose.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from cashline.dal.bank_records import (
    ACCOUNT_SK,
    STATEMENT_SK,
    BankAccountRecord,
    BankStatementRecord,
    BankTransactionRecord,
    account_pk,
    statement_pk,
)
from cashline.dal.record_fields import loaded_fields, stored_fields
from cashline.domain.bank.reconciliation import (
    BankAccount,
    BankTransaction,
    Discrepancy,
    DiscrepancyKind,
    HistoryEntry,
    MatchRule,
    MatchTarget,
    Proposal,
    ShortfallCause,
    StoredStatement,
    TargetType,
)
from cashline.errors import NotFoundError

# --------------------------------------------------------------------------- JSON parts


def discrepancy_json(d: Discrepancy) -> dict[str, Any]:
    return {
        "kind": d.kind.value,
        "amount": d.amount,
        "currency": d.currency,
        "cause": d.cause.value if d.cause else None,
        "detail": d.detail,
        "target_id": d.target_id,
    }


def discrepancy_of(data: dict[str, Any]) -> Discrepancy:
    return Discrepancy(
        kind=DiscrepancyKind(data["kind"]),
        amount=int(data["amount"]),
        currency=data["currency"],
        cause=ShortfallCause(data["cause"]) if data.get("cause") else None,
        detail=data.get("detail") or "",
        target_id=data.get("target_id"),
    )


def proposal_json(p: Proposal) -> dict[str, Any]:
    return {
        "rule": p.rule.value,
        "score": p.score,
        "targets": [
            {"type": t.type.value, "id": t.id, "amount": t.amount, "label": t.label} for t in p.targets
        ],
        "counterparty_id": p.counterparty_id,
        "discrepancies": [discrepancy_json(d) for d in p.discrepancies],
        "reason": p.reason,
    }


def proposal_of(data: dict[str, Any]) -> Proposal:
    return Proposal(
        rule=MatchRule(data["rule"]),
        score=int(data["score"]),
        targets=tuple(
            MatchTarget(
                type=TargetType(t["type"]), id=t["id"], amount=int(t["amount"]), label=t.get("label", "")
            )
            for t in data.get("targets", [])
        ),
        counterparty_id=data.get("counterparty_id"),
        discrepancies=tuple(discrepancy_of(d) for d in data.get("discrepancies", [])),
        reason=data.get("reason") or "",
    )


def _history_json(h: HistoryEntry) -> dict[str, Any]:
    return {"at": h.at.isoformat(), "action": h.action, "actor": h.actor, "note": h.note}


def _history_of(data: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        at=datetime.fromisoformat(data["at"]),
        action=data["action"],
        actor=data["actor"],
        note=data.get("note", ""),
    )


# --------------------------------------------------------------------------- accounts


def account_record(account: BankAccount) -> BankAccountRecord:
    t, ba = account.tenant_id, account.bank_account_id
    return BankAccountRecord(
        pk=account_pk(t, ba),
        sk=ACCOUNT_SK,
        **stored_fields(account),
        gsi1pk=f"T#{t}#BA",
        gsi1sk=f"{account.name.casefold()}#{ba}",
    )


def to_account(record: BankAccountRecord) -> BankAccount:
    return BankAccount(**loaded_fields(BankAccount, record), version=int(record.version or 0))


# --------------------------------------------------------------------------- statements


def statement_sort_key(statement: StoredStatement) -> str:
    day = statement.to_date.isoformat() if statement.to_date else "0000-00-00"
    return f"{day}#{statement.statement_id}"


def statement_record(statement: StoredStatement) -> BankStatementRecord:
    t = statement.tenant_id
    values = stored_fields(statement)
    values["report_kind"] = values.pop("kind")  # `kind` is the record type (CashlineItem)
    by_date = statement_sort_key(statement)
    return BankStatementRecord(
        pk=statement_pk(t, statement.statement_id),
        sk=STATEMENT_SK,
        updated_at=statement.created_at,
        **values,
        gsi1pk=f"T#{t}#BST",
        gsi1sk=by_date,
        gsi2pk=f"T#{t}#BA#{statement.bank_account_id}#BST",
        gsi2sk=by_date,
    )


def to_statement(record: BankStatementRecord) -> StoredStatement:
    values: dict[str, Any] = {}
    for name in StoredStatement.__dataclass_fields__:
        values[name] = getattr(record, "report_kind" if name == "kind" else name)
    for name in ("from_date", "to_date"):
        values[name] = date.fromisoformat(values[name]) if values[name] else None
    for name in (
        "transaction_count",
        "duplicate_lines",
        "credits_total",
        "debits_total",
        "matched",
        "unmatched",
    ):
        values[name] = int(values[name] or 0)
    for name in ("opening_balance", "closing_balance"):
        values[name] = None if values[name] is None else int(values[name])
    return StoredStatement(**values)


# --------------------------------------------------------------------------- transactions


def transaction_sort_key(tx: BankTransaction) -> str:
    return f"{tx.booking_date.isoformat()}#{tx.transaction_id}"


def same_money_pk(tenant_id: str, bank_account_id: str, direction: str, currency: str, amount: int) -> str:
    """gsi6 partition of an account's lines of one direction, currency and amount (the duplicate check)."""
    return f"T#{tenant_id}#BA#{bank_account_id}#BTXAMT#{direction}#{currency}#{amount}"


def status_index_keys(tx: BankTransaction) -> dict[str, str]:
    """The index keys that move with a line's status or booking date (gsi3, by line number, never does)."""
    t, ba, by_day = tx.tenant_id, tx.bank_account_id, transaction_sort_key(tx)
    return {
        "gsi6pk": same_money_pk(t, ba, tx.direction.value, tx.currency, tx.amount),
        "gsi6sk": by_day,
        "gsi1pk": f"T#{t}#BTX#{tx.status.value}",
        "gsi1sk": by_day,
        "gsi2pk": f"T#{t}#BA#{ba}#BTX#{tx.status.value}",
        "gsi2sk": by_day,
        "gsi4pk": f"T#{t}#BTX",
        "gsi4sk": by_day,
        "gsi5pk": f"T#{t}#BA#{ba}#BTX",
        "gsi5sk": by_day,
    }


def line_sort_key(line_number: int, transaction_id: str) -> str:
    # The id after the number keeps two lines a bank numbered alike apart; order stays the file's.
    return f"{line_number:06d}#{transaction_id}"


def transaction_fields(tx: BankTransaction) -> dict[str, Any]:
    """The record's attributes for `tx` (not keys): the facts as they are, the rest as JSON."""
    values = stored_fields(tx)
    values.update(
        remittance=tx.remittance or None,
        proposals=[proposal_json(p) for p in tx.proposals] or None,
        match=proposal_json(tx.match) if tx.match else None,
        payment_ids=list(tx.payment_ids) or None,
        reconciled_payment_ids=list(tx.reconciled_payment_ids) or None,
        discrepancies=[discrepancy_json(d) for d in tx.discrepancies] or None,
        discrepancy_ids=list(tx.discrepancy_ids) or None,
        history=[_history_json(h) for h in tx.history] or None,
    )
    return values


def to_transaction(record: BankTransactionRecord) -> BankTransaction:
    values = loaded_fields(BankTransaction, record)
    values.update(
        remittance=record.remittance or "",
        proposals=tuple(proposal_of(p) for p in record.proposals or []),
        match=proposal_of(record.match) if record.match else None,
        payment_ids=tuple(record.payment_ids or []),
        reconciled_payment_ids=tuple(record.reconciled_payment_ids or []),
        discrepancies=tuple(discrepancy_of(d) for d in record.discrepancies or []),
        discrepancy_ids=tuple(record.discrepancy_ids or []),
        history=tuple(_history_of(h) for h in record.history or []),
    )
    return BankTransaction(**values, version=int(record.version or 0))


# --------------------------------------------------------------------------- reads and writes


def get_or_not_found(model: Any, pk: str, sk: str, what: str, field_name: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except DoesNotExist as exc:
        raise NotFoundError(f"{what} not found", field=field_name) from exc


def set_or_remove(attribute: Any, value: Any) -> Action:
    return attribute.remove() if value is None else attribute.set(value)  # type: ignore[no-any-return]
