"""Bank reconciliation in DynamoDB: accounts and their claims, statement imports and statements,
bank transactions (one per bank line, claimed once by its fingerprint), discrepancies, the per-day
reconciliation totals, the tenant's settings and what a person taught matching (IBAN, pattern).

Every method takes the tenant first and builds its own keys (dal.bank_records, dal.bank_codec);
another tenant's id is simply not found. `stage_*` methods add their items to a unit of work the
service commits (dal.transactions); a failed condition (a claim taken, a version moved) writes
nothing. DynamoDB refuses two operations on one item in a transaction: stage one totals delta per
(account, day, currency) and one count change per statement per unit of work (merge them first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from cashline.dal import bank_queries
from cashline.dal.bank_accounts import BankAccountStore
from cashline.dal.bank_codec import (
    get_or_not_found,
    line_sort_key,
    set_or_remove,
    statement_record,
    status_index_keys,
    to_statement,
    to_transaction,
    transaction_fields,
)
from cashline.dal.bank_outcomes import DayTotals as DayTotals
from cashline.dal.bank_outcomes import ReconciliationSettings as ReconciliationSettings
from cashline.dal.bank_outcomes import ReconciliationStore
from cashline.dal.bank_outcomes import StoredDiscrepancy as StoredDiscrepancy
from cashline.dal.bank_queries import TransactionFilter as TransactionFilter
from cashline.dal.bank_records import (
    IMPORT_SK,
    LINE_SCOPE,
    STATEMENT_SCOPE,
    STATEMENT_SK,
    TRANSACTION_SK,
    BankStatementRecord,
    BankTransactionRecord,
    StatementImportRecord,
    import_pk,
    statement_pk,
    transaction_pk,
)
from cashline.dal.due import due_keys, lease, query_due
from cashline.dal.pagination import Page, decode_cursor, encode_cursor
from cashline.dal.party_records import UNIQUE_SK, UniqueRecord, unique_pk
from cashline.dal.party_repository import claimed_by, unique_record
from cashline.dal.table import CashlineItem
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    StoredStatement,
)

MATCH_JOB = "bank_match"  # the `due` job of bank lines waiting to be matched (services.bank.matching)
# The facts a bank line was stored with; a change of the line rewrites everything else.
_FIXED_FIELDS = frozenset(
    {
        "tenant_id",
        "transaction_id",
        "bank_account_id",
        "statement_id",
        "import_id",
        "fingerprint",
        "created_at",
    }
)


@dataclass(frozen=True, slots=True)
class StatementImport:
    tenant_id: str
    import_id: str  # bsi_
    format: str
    sha256: str
    statement_ids: tuple[str, ...]
    created_at: datetime


def _line_claim_value(bank_account_id: str, fingerprint: str) -> str:
    return f"{bank_account_id}#{fingerprint}"


class BankRepository(BankAccountStore, ReconciliationStore):
    """Every reconciliation read and write; accounts (dal.bank_accounts) and totals, discrepancies,
    settings and learning (dal.bank_outcomes) are its parts."""

    # ------------------------------------------------------------------ imports and statements
    def statement_claim(
        self, tenant_id: str, bank_account_id: str, kind: str, statement_key: str
    ) -> str | None:
        """The statement id holding this statement's claim, if any."""
        return claimed_by(tenant_id, STATEMENT_SCOPE, f"{bank_account_id}#{kind}#{statement_key}")

    def stage_import(
        self,
        write: TransactWrite,
        import_id: str,
        tenant_id: str,
        format: str,
        sha256: str,
        statement_ids: list[str],
        now: datetime,
    ) -> None:
        record = StatementImportRecord(
            pk=import_pk(tenant_id, import_id),
            sk=IMPORT_SK,
            tenant_id=tenant_id,
            import_id=import_id,
            format=format,
            sha256=sha256,
            statement_ids=list(statement_ids),
            created_at=now,
            updated_at=now,
        )
        write.save(record, condition=StatementImportRecord.pk.does_not_exist())

    def get_import(self, tenant_id: str, import_id: str) -> StatementImport:
        r = get_or_not_found(
            StatementImportRecord, import_pk(tenant_id, import_id), IMPORT_SK, "statement import", "import_id"
        )
        return StatementImport(
            tenant_id=r.tenant_id,
            import_id=r.import_id,
            format=r.format,
            sha256=r.sha256,
            statement_ids=tuple(r.statement_ids or ()),
            created_at=r.created_at,
        )

    def stage_statement(self, write: TransactWrite, statement: StoredStatement, statement_key: str) -> None:
        """The statement and its claim (condition: both absent: the same statement again fails)."""
        value = f"{statement.bank_account_id}#{statement.kind}#{statement_key}"
        claim = unique_record(
            statement.tenant_id, STATEMENT_SCOPE, value, statement.statement_id, statement.created_at
        )
        write.save(statement_record(statement), condition=BankStatementRecord.pk.does_not_exist())
        write.save(claim, condition=UniqueRecord.pk.does_not_exist())

    def stage_statement_counts(
        self,
        write: TransactWrite,
        tenant_id: str,
        statement_id: str,
        *,
        matched: int = 0,
        unmatched: int = 0,
        duplicates: int = 0,
    ) -> None:
        """ADD to the statement's matched/unmatched counts (negative to move a line out);
        `duplicates` lines found stored already move from `transaction_count` to `duplicate_lines`."""
        if not (matched or unmatched or duplicates):
            return
        r = BankStatementRecord
        item = BankStatementRecord(pk=statement_pk(tenant_id, statement_id), sk=STATEMENT_SK)
        actions: list[Action] = [r.matched.add(matched), r.unmatched.add(unmatched)]
        if duplicates:
            actions += [r.transaction_count.add(-duplicates), r.duplicate_lines.add(duplicates)]
        write.update(item, actions=actions, condition=r.pk.exists())

    def get_statement(self, tenant_id: str, statement_id: str) -> StoredStatement:
        pk = statement_pk(tenant_id, statement_id)
        return to_statement(
            get_or_not_found(BankStatementRecord, pk, STATEMENT_SK, "bank statement", "statement_id")
        )

    def list_statements(
        self, tenant_id: str, *, bank_account_id: str | None, limit: int, starting_after: str | None
    ) -> Page[StoredStatement]:
        """Newest `to_date` first: one Query on gsi2 (an account's) or gsi1 (all)."""
        if bank_account_id:
            index: Any = BankStatementRecord.gsi2
            attr, partition = "gsi2pk", f"T#{tenant_id}#BA#{bank_account_id}#BST"
        else:
            index, attr, partition = BankStatementRecord.gsi1, "gsi1pk", f"T#{tenant_id}#BST"
        start = decode_cursor(starting_after, partition_attr=attr, partition_value=partition)
        results = index.query(
            partition, limit=limit, page_size=limit, last_evaluated_key=start, scan_index_forward=False
        )
        items = [to_statement(r) for r in results if isinstance(r, BankStatementRecord)]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    # ------------------------------------------------------------------ transactions
    def lines_seen(self, tenant_id: str, bank_account_id: str, fingerprints: list[str]) -> dict[str, str]:
        """fingerprint -> btx id of the lines already stored (BatchGet of the line claims, 100 a call,
        strongly consistent)."""
        by_pk = {
            unique_pk(tenant_id, LINE_SCOPE, _line_claim_value(bank_account_id, fp)): fp
            for fp in fingerprints
        }
        found = UniqueRecord.batch_get([(pk, UNIQUE_SK) for pk in by_pk], consistent_read=True)
        return {by_pk[claim.pk]: claim.target_id for claim in found if claim.pk in by_pk}

    def stage_new_transaction(
        self, write: TransactWrite, tx: BankTransaction, line_number: int, *, due_at: datetime | None
    ) -> None:
        """The transaction and its line claim (condition: both absent: a line is stored once);
        `due_at` puts it on the `bank_match` due index."""
        t, btx = tx.tenant_id, tx.transaction_id
        record = BankTransactionRecord(
            pk=transaction_pk(t, btx),
            sk=TRANSACTION_SK,
            line_number=line_number,
            **transaction_fields(tx),
            **status_index_keys(tx),  # type: ignore[arg-type]
            gsi3pk=f"T#{t}#BST#{tx.statement_id}#BTX",
            gsi3sk=line_sort_key(line_number, btx),
        )
        if due_at is not None:
            record.due_pk, record.due_sk = due_keys(MATCH_JOB, due_at, t, btx)
        claim = unique_record(
            t, LINE_SCOPE, _line_claim_value(tx.bank_account_id, tx.fingerprint), btx, tx.created_at
        )
        write.save(record, condition=BankTransactionRecord.pk.does_not_exist())
        write.save(claim, condition=UniqueRecord.pk.does_not_exist())

    def stage_line_slot(self, write: TransactWrite, tx: BankTransaction, slot_fingerprint: str) -> None:
        """A second line claim for a reference-less line of an intraday report or notification: the
        shared fingerprint the end-of-day statement's line will have (domain.bank.fingerprints)."""
        claim = unique_record(
            tx.tenant_id,
            LINE_SCOPE,
            _line_claim_value(tx.bank_account_id, slot_fingerprint),
            tx.transaction_id,
            tx.created_at,
        )
        write.save(claim, condition=UniqueRecord.pk.does_not_exist())

    def get_transaction(self, tenant_id: str, transaction_id: str) -> BankTransaction:
        pk = transaction_pk(tenant_id, transaction_id)
        return to_transaction(
            get_or_not_found(BankTransactionRecord, pk, TRANSACTION_SK, "bank transaction", "transaction_id")
        )

    def list_transactions(
        self, tenant_id: str, flt: TransactionFilter, *, limit: int, starting_after: str | None
    ) -> Page[BankTransaction]:
        """One index, one partition (dal.bank_queries plans it); a bounded number examined per page."""
        return bank_queries.run(bank_queries.plan(tenant_id, flt), limit=limit, starting_after=starting_after)

    def stage_transaction_change(
        self,
        write: TransactWrite,
        before: BankTransaction,
        after: BankTransaction,
        *,
        due_at: datetime | None = None,
    ) -> None:
        """`after` on `before.version` (status index keys rewritten); `due_at` None takes it off the
        due index. The bank's facts of the line stay as stored."""
        if (before.tenant_id, before.transaction_id) != (after.tenant_id, after.transaction_id):
            raise ValueError("before and after are different bank transactions")
        r = BankTransactionRecord
        record = BankTransactionRecord(
            pk=transaction_pk(after.tenant_id, after.transaction_id), sk=TRANSACTION_SK
        )
        record.version = before.version
        values = {k: v for k, v in transaction_fields(after).items() if k not in _FIXED_FIELDS}
        values.update(status_index_keys(after))
        due_pk, due_sk = (
            due_keys(MATCH_JOB, due_at, after.tenant_id, after.transaction_id) if due_at else (None, None)
        )
        values.update(due_pk=due_pk, due_sk=due_sk)
        actions = [set_or_remove(getattr(r, name), value) for name, value in values.items()]
        write.update(record, actions=actions, condition=r.pk.exists())

    def save_transaction(
        self, before: BankTransaction, after: BankTransaction, *, due_at: datetime | None = None
    ) -> BankTransaction:
        """`stage_transaction_change` committed alone; `after` at its new version."""
        work = UnitOfWork("bank transaction was changed by someone else; read it again")
        work.add(lambda write: self.stage_transaction_change(write, before, after, due_at=due_at)).commit()
        return replace(after, version=before.version + 1)

    # ------------------------------------------------------------------ the bank_match sweep
    def due_transactions(self, now: datetime, *, limit: int) -> list[BankTransaction]:
        """Bank lines of every tenant waiting to be matched at `now` (dal.due.query_due: one Query per
        shard, only what is still due), at most `limit`."""
        found: list[BankTransaction] = []
        for item in query_due(MATCH_JOB, now=now):
            tx = self.due_transaction(item)
            if tx is not None:
                found.append(tx)
            if len(found) >= limit:
                break
        return found

    @staticmethod
    def due_transaction(item: CashlineItem) -> BankTransaction | None:
        """A due item read by services.sweeps.sweep as the bank transaction it is, or None."""
        return to_transaction(item) if isinstance(item, BankTransactionRecord) else None

    def lease_transaction(
        self, tx: BankTransaction, *, until: datetime, now: datetime
    ) -> BankTransaction | None:
        """Take a due line for one worker until `until` (dal.due.lease, on the version read); None if
        someone else has it or it changed. If the worker dies, the line is due again at `until`."""
        record = BankTransactionRecord(pk=transaction_pk(tx.tenant_id, tx.transaction_id), sk=TRANSACTION_SK)
        record.version = tx.version
        taken = lease(
            record, job=MATCH_JOB, tenant_id=tx.tenant_id, entity_id=tx.transaction_id, until=until, now=now
        )
        return replace(tx, version=tx.version + 1, updated_at=now) if taken else None


bank = BankRepository()

__all__ = [
    "MATCH_JOB",
    "BankRepository",
    "DayTotals",
    "ReconciliationSettings",
    "StatementImport",
    "StoredDiscrepancy",
    "TransactionFilter",
    "bank",
]
