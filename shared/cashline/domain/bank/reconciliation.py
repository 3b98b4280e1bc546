"""Reconciliation's values: bank accounts, the transactions a statement's lines become, what a line
was matched to and how sure Cashline is, and the discrepancies it flags.

Plain values (nothing here knows HTTP, pydantic or DynamoDB). The matching rules
(`cashline.domain.bank.matching`) read the tenant's books only through `Candidates`, a handful of
keyed lookups, so the reads per bank line do not grow with the number of invoices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from cashline.domain.bank.model import Direction, EntryStatus

# A proposal scoring at least this is applied without a person (tenant setting
# `auto_match_threshold`, 50..100). Every rule's score is listed in docs/api.md.
DEFAULT_AUTO_MATCH_THRESHOLD = 90


class TransactionStatus(StrEnum):
    UNMATCHED = "unmatched"  # no proposal at all: waits for a person
    SUGGESTED = "suggested"  # best proposal below the threshold: waits for a person to accept or choose
    MATCHED = "matched"  # applied (automatically or by a person)
    IGNORED = "ignored"  # a person said it needs no match (with a reason)


class MatchRule(StrEnum):
    """Why a proposal was made. Order here is the order the rules are tried (docs/api.md)."""

    END_TO_END = "end_to_end_id"  # the end-to-end id Cashline set on its own debit or payout
    PROCESSOR_PAYOUT = "processor_payout"  # a Stripe/GoCardless payout's net amount
    CREDITOR_REFERENCE = "creditor_reference"  # ISO 11649 RF (or national) reference names the invoice
    INVOICE_NUMBER = "invoice_number"  # the invoice number in the remittance text
    INVOICE_NUMBER_FUZZY = "invoice_number_fuzzy"  # with lost leading zeros or one character off
    SEVERAL_INVOICES = "several_invoices"  # several invoice numbers named, their sum is the amount
    LEARNED = "learned"  # a counterparty confirmed by a person for this IBAN or remittance pattern
    PAYER_IBAN = "payer_iban"  # the payer's IBAN is a counterparty's; one open invoice of that amount
    COMBINATION = "combination"  # open invoices of the known payer summing exactly to the amount
    AMOUNT = "amount"  # only the amount: an open invoice owing exactly that
    BILL = "bill"  # a debit paying a payable bill
    INSTALLMENT = "installment"  # a debit for Cashline's own installment
    REFUND = "refund"  # a debit giving back a payment (refund) or a chargeback
    BANK_FEES = "bank_fees"  # a debit that looks like the bank's own charges: a person confirms
    PERSON = "person"  # chosen by a person in the queue


class TargetType(StrEnum):
    INVOICE = "invoice"  # a receivable invoice (money in)
    BILL = "bill"  # a payable invoice (money out)
    INSTALLMENT = "installment"  # a financing installment debited from the business
    PAYOUT = "payout"  # a processor payout (a payment of kind payout)
    PAYMENT = "payment"  # an existing payment a refund or chargeback gives back
    FEES = "fees"  # bank or processor fees: booked as fees, nothing else to pay


class DiscrepancyKind(StrEnum):
    UNDERPAID = "underpaid"  # less than owed arrived
    OVERPAID = "overpaid"  # more than owed arrived: the rest is kept as the payer's credit
    PAYOUT_MISMATCH = "payout_mismatch"  # a payout's payments minus fees do not add up to what arrived
    NOT_IN_BANK = "not_in_bank"  # a processor said paid, the bank never saw the money after N days
    DUPLICATE = "duplicate"  # the same money twice (same payer, amount and reference)


class ShortfallCause(StrEnum):
    BANK_FEES = "bank_fees"  # short by a small fixed-looking amount (<= 1.5 % and <= 25.00)
    EARLY_PAYMENT_DISCOUNT = "early_payment_discount"  # short by 1 %, 2 %, 2.5 % or 3 % (skonto)


@dataclass(frozen=True)
class MatchTarget:
    """One thing a line pays (or is): its type, id and the part of the line's amount it takes."""

    type: TargetType
    id: str  # inv_/ins_/pay_ id, or "fees"
    amount: int  # minor units of the line's currency, > 0
    label: str = ""  # what a person recognises: the invoice number, the payout reference


@dataclass(frozen=True)
class Discrepancy:
    kind: DiscrepancyKind
    amount: int  # the difference, minor units, > 0
    currency: str
    cause: ShortfallCause | None = None  # for UNDERPAID: what the shortfall looks like
    detail: str = ""
    target_id: str | None = None  # the invoice, payout or payment concerned


@dataclass(frozen=True)
class Proposal:
    """A way to explain a bank line: what it pays, by which rule, how sure (0-100)."""

    rule: MatchRule
    score: int
    targets: tuple[MatchTarget, ...]
    counterparty_id: str | None = None
    discrepancies: tuple[Discrepancy, ...] = ()
    reason: str = ""  # one sentence for a person: "RF18 5390 0754 7034 names INV-7034"

    @property
    def total(self) -> int:
        return sum(target.amount for target in self.targets)


# --------------------------------------------------------------------------- the books, as lookups


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice or bill a bank line could pay: what matching needs of it."""

    invoice_id: str
    number: str
    counterparty_id: str
    counterparty_name: str
    direction: str  # "receivable" | "payable"
    currency: str
    amount_due: int
    outstanding: int  # > 0
    issue_date: date
    due_date: date


@dataclass(frozen=True)
class OpenInstallment:
    installment_id: str
    plan_id: str
    amount: int
    currency: str
    due_date: date
    end_to_end_id: str | None  # what Cashline's debit request set (the installment id when none)


@dataclass(frozen=True)
class KnownPayment:
    """A payment Cashline recorded that a bank line may be: a processor payout, a refund or
    chargeback going out, or one the bank should have shown by now."""

    payment_id: str
    kind: str  # payment | payout | refund | chargeback | fee
    source: str  # stripe | gocardless | paypal | manual | bank_transfer
    amount: int
    currency: str
    value_date: date
    reference: str  # the source's reference (po_..., PO..., re_...)
    # For a payout: what its settled payments add up to (gross) and the fees taken, when known.
    settled_gross: int | None = None
    fees: int | None = None
    counterparty_id: str | None = None


class Candidates(Protocol):
    """The keyed lookups matching may make for one line. Each is one (bounded) Query or GetItem."""

    def invoices_by_number(self, direction: str, normalized_number: str) -> list[OpenInvoice]: ...

    def invoices_owing(self, direction: str, currency: str, amount: int) -> list[OpenInvoice]:
        """Open invoices whose outstanding amount is exactly `amount` (at most a few)."""
        ...

    def open_invoices_of(self, counterparty_id: str, direction: str, currency: str) -> list[OpenInvoice]:
        """A counterparty's open invoices in one currency, oldest due first (at most 50)."""
        ...

    def counterparty_of_iban(self, iban: str) -> str | None: ...

    def learned_counterparty(self, remittance_key: str) -> str | None:
        """The counterparty a person confirmed for this normalised remittance pattern."""
        ...

    def installments_due(self, currency: str, amount: int, around: date) -> list[OpenInstallment]:
        """Installments not yet paid of exactly `amount`, due within a few days of `around`."""
        ...

    def payments_near(self, kind: str, currency: str, amount: int, around: date) -> list[KnownPayment]:
        """Payments of a kind and exact amount with a value date within a few days of `around`."""
        ...


# --------------------------------------------------------------------------- accounts and lines


@dataclass(frozen=True)
class CsvMappingSpec:
    """A bank account's saved CSV column mapping (cashline.domain.bank.csv_lines.CsvMapping's fields)."""

    fields: dict[str, str]


@dataclass(frozen=True)
class BankAccount:
    tenant_id: str
    bank_account_id: str
    name: str
    currency: str
    iban: str | None  # compact, validated
    account_other: str | None  # another identification (a national account number) when no IBAN
    bic: str | None
    operating: bool  # the account Cashline's debits and payouts use
    # CsvMapping's fields as JSON values (column lists and markers are lists): services.bank.accounts
    csv_mapping: dict[str, Any] | None
    created_from_file: bool
    balance: int | None  # the latest closing balance a statement reported (minor units, signed)
    balance_date: date | None
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def identification(self) -> str:
        return self.iban or self.account_other or ""


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: str  # imported | auto_matched | matched | ignored | unmatched | suggested
    actor: str
    note: str = ""


@dataclass(frozen=True)
class BankTransaction:
    """One bank line, stored: what the bank said, and what Cashline made of it."""

    tenant_id: str
    transaction_id: str  # btx_
    bank_account_id: str
    statement_id: str  # bst_
    import_id: str  # bsi_
    fingerprint: str  # what makes two reports of one line the same (see services.bank.imports)
    amount: int
    currency: str
    direction: Direction
    booking_date: date
    value_date: date | None
    entry_status: EntryStatus
    reversal: bool
    bank_reference: str | None
    end_to_end_id: str | None
    mandate_id: str | None
    creditor_reference: str | None
    remittance: str
    counterparty_name: str | None
    counterparty_iban: str | None
    counterparty_account: str | None
    counterparty_bic: str | None
    transaction_code: str | None
    status: TransactionStatus
    proposals: tuple[Proposal, ...] = ()  # best first, at most 5
    match: Proposal | None = None  # what was applied (status matched)
    matched_by: str | None = None  # "auto" or the person's actor id
    # Every payment the match touched: those it created (reversed by unmatch) first, then those it
    # reconciled (`reconciled_payment_ids`: a payout, refund or installment payment another source
    # recorded; unmatch only takes the bank's confirmation back from them).
    payment_ids: tuple[str, ...] = ()
    ignore_reason: str | None = None
    discrepancies: tuple[Discrepancy, ...] = ()
    # The stored discrepancies (bdc_) flagged on the line now, one per `discrepancies` entry in the
    # same order ("" for one stored before ids were kept): unmatch resolves those of the match.
    discrepancy_ids: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.min)
    updated_at: datetime = field(default_factory=lambda: datetime.min)
    version: int = 0
    reconciled_payment_ids: tuple[str, ...] = ()  # of `payment_ids`, those the match did not create

    @property
    def created_payment_ids(self) -> tuple[str, ...]:
        """The payments the match created (unmatch reverses these)."""
        return tuple(p for p in self.payment_ids if p not in self.reconciled_payment_ids)


@dataclass(frozen=True)
class StoredStatement:
    """A statement as imported: the file's figures and how many of its lines are matched."""

    tenant_id: str
    statement_id: str  # bst_
    import_id: str  # bsi_
    bank_account_id: str
    account: str  # the IBAN or other identification the file named
    format: str
    kind: str  # statement | intraday | notification
    currency: str
    bank_statement_id: str | None  # the bank's own id / :20:
    sequence: str | None
    from_date: date | None
    to_date: date | None
    opening_balance: int | None
    closing_balance: int | None
    transaction_count: int  # lines stored (lines already seen in an earlier report are not counted)
    duplicate_lines: int  # lines of the file already seen in an earlier report
    credits_total: int
    debits_total: int
    balanced: bool | None
    matched: int
    unmatched: int  # not matched: suggested, unmatched (ignored ones count as neither)
    created_at: datetime
