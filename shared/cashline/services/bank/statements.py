"""Imported bank statements: list them, read one with its lines."""

from __future__ import annotations

from dataclasses import dataclass

from cashline.dal.bank_repository import TransactionFilter, bank
from cashline.dal.pagination import Page
from cashline.domain.bank.reconciliation import BankTransaction, StoredStatement
from cashline.errors import NotFoundError
from cashline.ids import is_id_of

LINES_PER_READ = 200


@dataclass(frozen=True)
class StatementView:
    statement: StoredStatement
    lines: list[BankTransaction]  # in file order, at most LINES_PER_READ
    lines_cursor: str | None  # where the next lines start; None after the last


def get_statement(tenant_id: str, statement_id: str, *, lines_after: str | None = None) -> StatementView:
    """A statement and up to LINES_PER_READ of its lines (one GetItem, one Query on the statement's
    line index); 404 for an unknown or another tenant's id."""
    if not is_id_of("bank_statement", statement_id):
        raise NotFoundError("bank statement not found", field="statement_id")
    statement = bank.get_statement(tenant_id, statement_id)
    page = bank.list_transactions(
        tenant_id,
        TransactionFilter(statement_id=statement_id),
        limit=LINES_PER_READ,
        starting_after=lines_after,
    )
    return StatementView(statement, list(page.items), page.next_cursor)


def list_statements(
    tenant_id: str, *, bank_account_id: str | None, limit: int, starting_after: str | None
) -> Page[StoredStatement]:
    """The tenant's statements (of one account when given), newest last day first."""
    if bank_account_id is not None and not is_id_of("bank_account", bank_account_id):
        raise NotFoundError("bank account not found", field="bank_account_id")
    return bank.list_statements(
        tenant_id, bank_account_id=bank_account_id, limit=limit, starting_after=starting_after
    )
