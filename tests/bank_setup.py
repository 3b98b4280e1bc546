"""Bank lines stored the way an import stores them (account, statement, lines with their claims, the
statement's unmatched count and the day totals), without a bank file: the tests of matching, the
queue and the report start from here. Also invoices and counterparties written straight to the
table, for the candidate lookups' tests and bench/bank_costs.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pynamodb.models import BatchWrite

from cashline.dal.bank_repository import bank
from cashline.dal.financing_repository import installment_record, plan_record
from cashline.dal.invoice_records import InvoiceRecord
from cashline.dal.invoice_repository import header_record, number_lookup_record
from cashline.dal.transactions import UnitOfWork
from cashline.domain.bank.fingerprints import import_totals
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import (
    BankAccount,
    BankTransaction,
    HistoryEntry,
    Proposal,
    StoredStatement,
)
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import Direction as InvoiceDirection
from cashline.domain.invoices import DocumentKind, Invoice, InvoiceStatus, NewInvoice
from cashline.domain.plans import Installment, InstallmentStatus, PayoutStatus, Plan, PlanStatus
from cashline.ids import new_id
from cashline.services import invoices as invoice_service
from cashline.services.bank import matching
from tests.bank_books import bank_line


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
        tx = bank_line(
            tenant_id=self.tenant_id,
            transaction_id=new_id("bank_transaction"),
            bank_account_id=self.account.bank_account_id,
            statement_id=self.statement.statement_id,
            import_id=self.statement.import_id,
            fingerprint=uuid.uuid4().hex,
            amount=amount,
            direction=direction,
            booking_date=booking_date or self.now.date(),
            value_date=booking_date or self.now.date(),
            bank_reference=f"REF{self.lines_added}",
            remittance=remittance,
            counterparty_name=payer,
            counterparty_iban=iban,
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
            account_id = self.account.bank_account_id
            work.add(
                partial(
                    bank.stage_totals,
                    tenant_id=self.tenant_id,
                    bank_account_id=account_id,
                    day=day,
                    currency=currency,
                    deltas=deltas,
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


def stored_invoice(tenant_id: str, number: str, amount: int, *, now: datetime, **changes: Any) -> Invoice:
    """An open EUR receivable of Acme GmbH (cp_payer), issued 2026-02-01, due 2026-03-01, as a header
    to write straight to the table (`write_invoices`); `changes` sets any field."""
    invoice = Invoice(
        tenant_id=tenant_id,
        invoice_id=new_id("invoice"),
        direction=InvoiceDirection.RECEIVABLE,
        document_kind=DocumentKind.INVOICE,
        number=number,
        counterparty_id="cp_payer",
        counterparty_name="Acme GmbH",
        segment=None,
        issue_date=date(2026, 2, 1),
        due_date=date(2026, 3, 1),
        currency="EUR",
        subtotal=amount,
        tax=0,
        amount_due=amount,
        amount_paid=0,
        status=InvoiceStatus.OPEN,
        status_before_dispute=None,
        description=None,
        source="test",
        metadata={},
        created_at=now,
        updated_at=now,
        version=0,
    )
    return replace(invoice, **changes)


def write_invoices(invoices: list[Invoice], *, with_numbers: bool = True) -> None:
    """The invoices' header records (and number lookups, unless `with_numbers` is False) in a batch
    write, the way the invoice repository writes them, without its transaction."""
    with BatchWrite(InvoiceRecord) as batch:
        for invoice in invoices:
            record = header_record(invoice, None)
            record.version = 1
            batch.save(record)
            lookup = number_lookup_record(invoice) if with_numbers else None
            if lookup is not None:
                batch.save(lookup)


def a_counterparty(
    tenant_id: str, iban: str | None, *, now: datetime, country: str | None = None
) -> Counterparty:
    """Acme GmbH with `iban` (not stored: `CounterpartyRepository().create(...)` stores it)."""
    return Counterparty(
        tenant_id=tenant_id,
        counterparty_id=new_id("counterparty"),
        name="Acme GmbH",
        email=None,
        phone=None,
        address=None,
        country=country,
        preferred_language=None,
        segment=None,
        tax_id=None,
        iban=iban,
        external_reference=None,
        metadata={},
        created_at=now,
        updated_at=now,
        version=0,
    )


def fixed_proposals(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Proposal]]:
    """Proposals per bank line id: what matching's `propose` answers for that line from now on in
    this test (the rules are tested alone; these tests are about what a proposal does)."""
    fixed: dict[str, list[Proposal]] = {}
    monkeypatch.setattr(
        matching, "propose", lambda line, books, today: list(fixed.get(line.transaction_id, []))
    )
    return fixed


def installment_under_way(
    tenant_id: str, *, now: datetime, due: date, **installment_fields: Any
) -> tuple[Plan, Installment]:
    """An active, paid-out financing plan of 120.00 with one installment due on `due` whose debit is
    under way (PROCESSING), written straight to the table; `installment_fields` set more of the
    installment (its processor and reference, say)."""
    plan = Plan(
        tenant_id=tenant_id,
        plan_id=new_id("plan"),
        invoice_id=new_id("invoice"),
        supplier_name="Supplier",
        currency="EUR",
        principal=12_000,
        fee=0,
        total=12_000,
        paid_amount=0,
        payout_date=due - timedelta(days=20),
        payout_status=PayoutStatus.PAID,
        status=PlanStatus.ACTIVE,
        installments_count=1,
        pricing={"monthly_rate_bp": 150, "fixed_fee": 0},
        created_at=now,
        updated_at=now,
    )
    installment = Installment(
        installment_id=new_id("installment"),
        plan_id=plan.plan_id,
        sequence=1,
        kind="scheduled",
        due_date=due,
        amount=12_000,
        currency="EUR",
        status=InstallmentStatus.PROCESSING,
        **installment_fields,
    )
    work = UnitOfWork("plan")
    work.add(lambda write: write.save(plan_record(plan, None)))
    # No debit due (None): the debit sweeps' tests fire far-future ticks over the whole table.
    work.add(lambda write: write.save(installment_record(tenant_id, installment, None, now)))
    work.commit()
    return plan, installment
