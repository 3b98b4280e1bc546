"""Bank lines stored the way an import stores them (account, statement, lines with their claims, the
statement's unmatched count and the day totals), without a bank file: the tests of matching, the
queue and the report start from here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cashline.dal.bank_repository import bank
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.fingerprints import import_totals
from cashline.domain.bank.model import Direction, EntryStatus
from cashline.domain.bank.reconciliation import (
    BankAccount,
    BankTransaction,
    HistoryEntry,
    StoredStatement,
    TransactionStatus,
)
from cashline.domain.invoices import Direction as InvoiceDirection
from cashline.domain.invoices import Invoice, NewInvoice
from cashline.ids import new_id
from cashline.services import invoices as invoice_service


@dataclass
class BankBooks:
    """One tenant's bank account with one statement to which lines are added."""

    tenant_id: str
    now: datetime
    account: BankAccount = field(init=False)
    statement: StoredStatement = field(init=False)
    lines_added: int = 0

    def __post_init__(self) -> None:
        self.account = bank.create_account(
            BankAccount(
                tenant_id=self.tenant_id,
                bank_account_id=new_id("bank_account"),
                name="Hausbank",
                currency="EUR",
                iban=None,
                account_other=f"ACC-{uuid.uuid4().hex[:10]}",
                bic=None,
                operating=False,
                csv_mapping=None,
                created_from_file=False,
                balance=None,
                balance_date=None,
                created_at=self.now,
                updated_at=self.now,
            )
        )
        self.statement = StoredStatement(
            tenant_id=self.tenant_id,
            statement_id=new_id("bank_statement"),
            import_id=new_id("bank_import"),
            bank_account_id=self.account.bank_account_id,
            account=self.account.identification,
            format="camt.053.001.02",
            kind="statement",
            currency="EUR",
            bank_statement_id=uuid.uuid4().hex,
            sequence="1",
            from_date=self.now.date(),
            to_date=self.now.date(),
            opening_balance=0,
            closing_balance=0,
            transaction_count=0,
            duplicate_lines=0,
            credits_total=0,
            debits_total=0,
            balanced=True,
            matched=0,
            unmatched=0,
            created_at=self.now,
        )
        UnitOfWork("statement").add(
            lambda write: bank.stage_statement(write, self.statement, f"test#{uuid.uuid4().hex}")
        ).commit()

    def line(
        self,
        amount: int,
        *,
        direction: Direction = Direction.CREDIT,
        remittance: str = "",
        payer: str | None = "Kunde AG",
        iban: str | None = None,
        booking_date: date | None = None,
        due_at: datetime | None = None,
    ) -> BankTransaction:
        """A new line on the statement, stored with its totals like an import stores it."""
        self.lines_added += 1
        tx = BankTransaction(
            tenant_id=self.tenant_id,
            transaction_id=new_id("bank_transaction"),
            bank_account_id=self.account.bank_account_id,
            statement_id=self.statement.statement_id,
            import_id=self.statement.import_id,
            fingerprint=uuid.uuid4().hex,
            amount=amount,
            currency="EUR",
            direction=direction,
            booking_date=booking_date or self.now.date(),
            value_date=booking_date or self.now.date(),
            entry_status=EntryStatus.BOOKED,
            reversal=False,
            bank_reference=f"REF{self.lines_added}",
            end_to_end_id=None,
            mandate_id=None,
            creditor_reference=None,
            remittance=remittance,
            counterparty_name=payer,
            counterparty_iban=iban,
            counterparty_account=None,
            counterparty_bic=None,
            transaction_code=None,
            status=TransactionStatus.UNMATCHED,
            history=(HistoryEntry(at=self.now, action="imported", actor="test"),),
            created_at=self.now,
            updated_at=self.now,
        )
        work = UnitOfWork("line")
        work.add(lambda write: bank.stage_new_transaction(write, tx, self.lines_added, due_at=due_at))
        work.add(
            lambda write: bank.stage_statement_counts(
                write, self.tenant_id, self.statement.statement_id, unmatched=1
            )
        )
        for (day, currency), deltas in import_totals([tx]).items():
            work.add(
                lambda write, day=day, currency=currency, deltas=deltas: bank.stage_totals(
                    write, self.tenant_id, self.account.bank_account_id, day, currency, deltas
                )
            )
        work.commit()
        return bank.get_transaction(self.tenant_id, tx.transaction_id)

    def totals(self) -> dict[str, int]:
        """The account's day totals of the last 30 days added up."""
        summed: dict[str, int] = {}
        first = self.now.date() - timedelta(days=30)
        for day in bank.totals(self.tenant_id, self.account.bank_account_id, first, self.now.date()):
            for name, value in day.counters.items():
                summed[name] = summed.get(name, 0) + value
        return {name: value for name, value in summed.items() if value}


def invoice(
    tenant_id: str,
    number: str,
    amount: int,
    *,
    now: datetime,
    customer: str = "K-1",
    direction: InvoiceDirection = InvoiceDirection.RECEIVABLE,
) -> Invoice:
    due = now.date() + timedelta(days=14)
    new = NewInvoice(
        direction=direction,
        number=number,
        issue_date=now.date() - timedelta(days=16),
        due_date=due,
        currency="EUR",
        counterparty={"name": f"Kunde {customer}", "external_reference": customer},
        amount_due=amount,
    )
    return invoice_service.create_invoice(tenant_id, new, actor="test", now=now).invoice
