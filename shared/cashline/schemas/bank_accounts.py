"""Wire formats of bank accounts and bank statement imports: the account (with its saved CSV column
mapping), an import's answer and the statements it stored, and a statement with its lines. Mapped
from the domain's values (cashline.domain.bank.reconciliation) with `.of(...)`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from cashline.domain.bank.reconciliation import BankAccount, StoredStatement
from cashline.schemas.bank_transactions import BankTransactionOutput
from cashline.schemas.common import CurrencyCode, ListQuery, OutputModel, RequestModel

Id = Annotated[str, Field(max_length=40)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Column = Annotated[
    str, Field(min_length=1, max_length=100, description="A column name as the header writes it")
]
Marker = Annotated[str, Field(min_length=1, max_length=20)]
Bic = Annotated[str, Field(min_length=8, max_length=11, examples=["COBADEFFXXX"])]


class CsvMappingFields(RequestModel):
    """Which column of the bank's CSV export holds what (by header name) and how it writes dates and
    numbers. Amount: `amount` alone (signed), or `credit` and `debit` columns, or `amount` with a
    `direction` column and its markers (e.g. "H"/"S")."""

    booking_date: Column
    date_format: Annotated[str, Field(max_length=20, examples=["%d.%m.%Y"])] = "%d.%m.%Y"
    value_date: Column | None = None
    amount: Column | None = None
    credit: Column | None = None
    debit: Column | None = None
    direction: Column | None = None
    credit_markers: Annotated[list[Marker], Field(max_length=10)] = Field(default_factory=list)
    debit_markers: Annotated[list[Marker], Field(max_length=10)] = Field(default_factory=list)
    currency_column: Column | None = None
    currency: CurrencyCode | None = Field(
        default=None, description="The lines' currency when no column says it"
    )
    remittance: Annotated[list[Column], Field(max_length=10)] = Field(
        default_factory=list, description="Columns joined into the remittance text"
    )
    counterparty_name: Column | None = None
    counterparty_iban: Column | None = None
    end_to_end_id: Column | None = None
    bank_reference: Column | None = None
    decimal_separator: Literal[",", "."] = ","
    thousands_separator: Annotated[str, Field(max_length=1)] | None = None
    delimiter: Literal[";", ",", "\t", "|"] | None = Field(default=None, description="None: sniffed")
    skip_lines: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, description="Preamble lines before the header; None: the header is found"
    )
    encoding: Annotated[str, Field(max_length=20)] | None = None
    account: Annotated[str, Field(max_length=42)] | None = Field(
        default=None, description="The account's IBAN or other identification, when the file names none"
    )

    def stored(self) -> dict[str, Any]:
        """The mapping as the account keeps it (fields left at their default are left out)."""
        return self.model_dump(exclude_defaults=True)


class CreateBankAccountRequest(RequestModel):
    name: Name
    currency: CurrencyCode
    iban: Annotated[str, Field(max_length=42, description="Checked: country format and checksum")] | None = (
        None
    )
    account: Annotated[str, Field(min_length=1, max_length=42)] | None = Field(
        default=None, description="Another account identification, for an account without an IBAN"
    )
    bic: Bic | None = None
    operating: bool = Field(
        default=False, description="The account Cashline's debits and payouts use (one per currency)"
    )
    csv_mapping: CsvMappingFields | None = None


class UpdateBankAccountRequest(RequestModel):
    version: int = Field(ge=0, description="The version you read; a stale one gives 409")
    name: Name | None = None
    bic: Bic | None = None
    operating: bool | None = None
    csv_mapping: CsvMappingFields | None = None


class BankAccountOutput(OutputModel):
    id: str
    object: str = "bank_account"
    name: str
    currency: str
    iban: str | None
    account: str = Field(description="The identification: the IBAN, or another one")
    bic: str | None
    operating: bool
    csv_mapping: dict[str, Any] | None
    balance: int | None = Field(description="The latest closing balance a statement reported, minor units")
    balance_date: date | None
    created_from_file: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, account: BankAccount) -> BankAccountOutput:
        return cls(
            id=account.bank_account_id,
            name=account.name,
            currency=account.currency,
            iban=account.iban,
            account=account.identification,
            bic=account.bic,
            operating=account.operating,
            csv_mapping=account.csv_mapping,
            balance=account.balance,
            balance_date=account.balance_date,
            created_from_file=account.created_from_file,
            created_at=account.created_at,
            updated_at=account.updated_at,
            version=account.version,
        )


class ImportStatementQuery(RequestModel):
    bank_account_id: Id | None = Field(
        default=None, description="The account the file is of; needed for CSV (its saved mapping)"
    )


class StatementListQuery(ListQuery):
    bank_account_id: Id | None = None


class StatementLinesQuery(RequestModel):
    lines_after: str | None = Field(
        default=None, max_length=2048, description="The `lines_cursor` of the last read"
    )


class StatementOutput(OutputModel):
    id: str
    object: str = "bank_statement"
    import_id: str
    bank_account_id: str
    account: str = Field(description="The IBAN or other identification the file named")
    format: str
    kind: str = Field(description="statement, intraday or notification")
    currency: str
    bank_statement_id: str | None = Field(description="The bank's own id (camt Stmt/Id, MT940 :20:)")
    sequence: str | None
    from_date: date | None
    to_date: date | None
    opening_balance: int | None
    closing_balance: int | None
    transaction_count: int = Field(description="Lines stored (lines seen in an earlier report are not)")
    duplicate_lines: int = Field(description="Lines already seen in an earlier report or notification")
    credits_total: int
    debits_total: int
    balanced: bool | None = Field(description="opening + credits - debits == closing; null without balances")
    matched: int
    unmatched: int
    created_at: datetime

    @classmethod
    def of(cls, s: StoredStatement) -> StatementOutput:
        return cls(
            id=s.statement_id,
            import_id=s.import_id,
            bank_account_id=s.bank_account_id,
            account=s.account,
            format=s.format,
            kind=s.kind,
            currency=s.currency,
            bank_statement_id=s.bank_statement_id,
            sequence=s.sequence,
            from_date=s.from_date,
            to_date=s.to_date,
            opening_balance=s.opening_balance,
            closing_balance=s.closing_balance,
            transaction_count=s.transaction_count,
            duplicate_lines=s.duplicate_lines,
            credits_total=s.credits_total,
            debits_total=s.debits_total,
            balanced=s.balanced,
            matched=s.matched,
            unmatched=s.unmatched,
            created_at=s.created_at,
        )


class StatementWithLinesOutput(StatementOutput):
    lines: list[BankTransactionOutput]
    lines_cursor: str | None = Field(description="Pass as ?lines_after= for the next lines; null at the end")


class StatementImportOutput(OutputModel):
    id: str
    object: str = "bank_statement_import"
    format: str = Field(examples=["camt.053.001.02", "mt940", "csv"])
    matching: Literal["done", "queued"] = Field(
        description="done: every new line went through matching; queued: some wait for the sweep"
    )
    statements: list[StatementOutput]


class ReconciliationSettingsRequest(RequestModel):
    auto_match_threshold: Annotated[int, Field(ge=50, le=100)] = Field(
        default=90, description="A proposal scoring at least this is applied without a person"
    )
    not_in_bank_days: Annotated[int, Field(ge=1, le=60)] = Field(
        default=5, description="Days a processor payout may take to reach the bank before it is flagged"
    )
    version: int = Field(default=0, ge=0, description="The version read; 0 for the first save")


class ReconciliationSettingsOutput(OutputModel):
    auto_match_threshold: int
    not_in_bank_days: int
    version: int
