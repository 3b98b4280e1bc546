"""An in-memory `Candidates` (the tenant's books as keyed lookups) for matching tests, and the
builders of the bank lines and open invoices they match (also used by tests/bank_setup.py, the
labelled set and bench/bank_costs.py).

Each lookup answers what `cashline.dal.bank_candidates.StoredCandidates` answers from DynamoDB, and
counts its calls in `calls`, so a test can show the lookups per line do not grow with the books.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime

from cashline.domain.bank.model import Direction, EntryStatus
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    KnownPayment,
    OpenInstallment,
    OpenInvoice,
    TransactionStatus,
)
from cashline.domain.references import normalize_invoice_number

# What StoredCandidates reads around a date (value date / due date), how many invoices of one
# counterparty and of one amount it returns.
NEAR_DAYS = 5
OPEN_INVOICES_LIMIT = 50
OWING_LIMIT = 10
BOOKED = date(2026, 12, 3)
IMPORTED_AT = datetime(2026, 12, 3, 8, 0)


def bank_line(**changes: object) -> BankTransaction:
    """A booked, unmatched EUR credit of 1,190.00 booked on 2026-12-03, with no reference, text or
    payer; `changes` sets any field."""
    line = BankTransaction(
        tenant_id="t_1",
        transaction_id="btx_1",
        bank_account_id="ba_1",
        statement_id="bst_1",
        import_id="bsi_1",
        fingerprint="fp-1",
        amount=119000,
        currency="EUR",
        direction=Direction.CREDIT,
        booking_date=BOOKED,
        value_date=BOOKED,
        entry_status=EntryStatus.BOOKED,
        reversal=False,
        bank_reference=None,
        end_to_end_id=None,
        mandate_id=None,
        creditor_reference=None,
        remittance="",
        counterparty_name=None,
        counterparty_iban=None,
        counterparty_account=None,
        counterparty_bic=None,
        transaction_code=None,
        status=TransactionStatus.UNMATCHED,
        created_at=IMPORTED_AT,
        updated_at=IMPORTED_AT,
    )
    return replace(line, **changes)  # type: ignore[arg-type]


def open_invoice(number: str, outstanding: int, **changes: object) -> OpenInvoice:
    """An open EUR receivable owing `outstanding` (all of its amount), issued 2026-10-01, due
    2026-11-01, of customer cp_1; `changes` sets any field."""
    invoice = OpenInvoice(
        invoice_id=f"inv_{number}",
        number=number,
        counterparty_id="cp_1",
        counterparty_name="Kunde GmbH",
        direction="receivable",
        currency="EUR",
        amount_due=outstanding,
        outstanding=outstanding,
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 11, 1),
    )
    return replace(invoice, **changes)  # type: ignore[arg-type]


class MemoryBooks:
    """`Candidates` over lists held in memory; `calls` counts each lookup by method name."""

    def __init__(
        self,
        invoices: Iterable[OpenInvoice] = (),
        ibans: Mapping[str, str] | None = None,
        learned: Mapping[str, str] | None = None,
        installments: Iterable[OpenInstallment] = (),
        payments: Iterable[KnownPayment] = (),
    ) -> None:
        self.invoices = list(invoices)
        self.ibans = dict(ibans or {})
        self.learned = dict(learned or {})
        self.installments = list(installments)
        self.payments = list(payments)
        self.calls: Counter[str] = Counter()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def invoices_by_number(self, direction: str, normalized_number: str) -> list[OpenInvoice]:
        self.calls["invoices_by_number"] += 1
        return [
            invoice
            for invoice in self.invoices
            if invoice.direction == direction
            and normalize_invoice_number(invoice.number) == normalized_number
        ]

    def invoices_owing(self, direction: str, currency: str, amount: int) -> list[OpenInvoice]:
        """As StoredCandidates: invoices not yet partly paid (a partly paid one is found through its
        payer) owing exactly `amount`, newest due first, at most 10."""
        self.calls["invoices_owing"] += 1
        owing = [
            invoice
            for invoice in self.invoices
            if invoice.direction == direction
            and invoice.currency == currency
            and invoice.outstanding == amount
            and invoice.amount_due == invoice.outstanding
        ]
        return sorted(owing, key=lambda invoice: invoice.due_date, reverse=True)[:OWING_LIMIT]

    def open_invoices_of(self, counterparty_id: str, direction: str, currency: str) -> list[OpenInvoice]:
        """As StoredCandidates: the 50 with the latest due dates, returned oldest due first."""
        self.calls["open_invoices_of"] += 1
        own = [
            invoice
            for invoice in self.invoices
            if invoice.counterparty_id == counterparty_id
            and invoice.direction == direction
            and invoice.currency == currency
        ]
        newest = sorted(own, key=lambda invoice: invoice.due_date, reverse=True)[:OPEN_INVOICES_LIMIT]
        return sorted(newest, key=lambda invoice: (invoice.due_date, invoice.invoice_id))

    def counterparty_of_iban(self, iban: str) -> str | None:
        self.calls["counterparty_of_iban"] += 1
        return self.ibans.get(iban.replace(" ", "").upper())

    def learned_counterparty(self, remittance_key: str) -> str | None:
        self.calls["learned_counterparty"] += 1
        return self.learned.get(remittance_key)

    def installments_due(self, currency: str, amount: int, around: date) -> list[OpenInstallment]:
        self.calls["installments_due"] += 1
        return [
            installment
            for installment in self.installments
            if installment.currency == currency
            and installment.amount == amount
            and abs((installment.due_date - around).days) <= NEAR_DAYS
        ]

    def payments_near(self, kind: str, currency: str, amount: int, around: date) -> list[KnownPayment]:
        self.calls["payments_near"] += 1
        return [
            payment
            for payment in self.payments
            if payment.kind == kind
            and payment.currency == currency
            and payment.amount == amount
            and abs((payment.value_date - around).days) <= NEAR_DAYS
        ]
