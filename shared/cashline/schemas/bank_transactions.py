"""Wire formats of the reconciliation queue and report: bank transactions (what the bank said and
what Cashline made of it), a person's match/ignore/unmatch, the reconciliation report and the
discrepancies. Mapped from the domain's values (cashline.domain.bank.reconciliation) with `.of(...)`."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from cashline.domain.bank import reconciliation as domain
from cashline.domain.bank.model import Direction
from cashline.domain.bank.reconciliation import DiscrepancyKind, TargetType, TransactionStatus
from cashline.schemas.common import (
    FREE_TEXT,
    BusinessDate,
    FieldProblem,
    ListQuery,
    MinorUnits,
    OutputModel,
    RequestModel,
)

if TYPE_CHECKING:  # the report's and the discrepancy's domain types live in the services and the dal
    from cashline.dal.bank_repository import StoredDiscrepancy
    from cashline.services.bank.reports import AccountReconciliation, CountAmount, ReconciliationReport

Id = Annotated[str, Field(max_length=40)]


# --------------------------------------------------------------------------- the transaction


class MatchTargetOutput(OutputModel):
    type: TargetType
    id: str
    amount: int
    label: str

    @classmethod
    def of(cls, target: domain.MatchTarget) -> MatchTargetOutput:
        return cls(type=target.type, id=target.id, amount=target.amount, label=target.label)


class DiscrepancyOutput(OutputModel):
    kind: DiscrepancyKind
    amount: int
    currency: str
    cause: domain.ShortfallCause | None
    detail: str
    target_id: str | None

    @classmethod
    def of(cls, found: domain.Discrepancy) -> DiscrepancyOutput:
        return cls(
            kind=found.kind,
            amount=found.amount,
            currency=found.currency,
            cause=found.cause,
            detail=found.detail,
            target_id=found.target_id,
        )


class ProposalOutput(OutputModel):
    rule: domain.MatchRule
    score: int = Field(description="0-100; at or above the tenant's threshold it is applied without a person")
    reason: str
    counterparty_id: str | None
    targets: list[MatchTargetOutput]
    discrepancies: list[DiscrepancyOutput]

    @classmethod
    def of(cls, proposal: domain.Proposal) -> ProposalOutput:
        return cls(
            rule=proposal.rule,
            score=proposal.score,
            reason=proposal.reason,
            counterparty_id=proposal.counterparty_id,
            targets=[MatchTargetOutput.of(t) for t in proposal.targets],
            discrepancies=[DiscrepancyOutput.of(d) for d in proposal.discrepancies],
        )


class HistoryOutput(OutputModel):
    at: datetime
    action: str
    actor: str
    note: str

    @classmethod
    def of(cls, entry: domain.HistoryEntry) -> HistoryOutput:
        return cls(at=entry.at, action=entry.action, actor=entry.actor, note=entry.note)


class BankTransactionOutput(OutputModel):
    id: str
    bank_account_id: str
    statement_id: str
    amount: int = Field(description="Minor units, positive; `direction` says in or out")
    currency: str
    direction: Direction
    booking_date: date
    value_date: date | None
    entry_status: str
    reversal: bool
    bank_reference: str | None
    end_to_end_id: str | None
    creditor_reference: str | None
    remittance: str
    counterparty_name: str | None
    counterparty_iban: str | None
    status: TransactionStatus
    proposals: list[ProposalOutput]
    match: ProposalOutput | None
    matched_by: str | None = Field(description='"auto" or the person who matched it')
    payment_ids: list[str] = Field(
        description="Every payment the match touched: those it created first, then those it reconciled"
    )
    reconciled_payment_ids: list[str] = Field(
        description="Of `payment_ids`, those recorded elsewhere (a payout, refund, chargeback or a "
        "processor's installment payment) that the match only reconciled: unmatch leaves them standing"
    )
    ignore_reason: str | None
    discrepancies: list[DiscrepancyOutput]
    discrepancy_ids: list[str] = Field(
        description="The stored discrepancy (bdc_) of each entry of `discrepancies`, in order "
        '("" for one flagged before ids were kept): GET/POST /v1/bank-discrepancies'
    )
    history: list[HistoryOutput]
    version: int

    @classmethod
    def of(cls, tx: domain.BankTransaction) -> BankTransactionOutput:
        return cls(
            id=tx.transaction_id,
            bank_account_id=tx.bank_account_id,
            statement_id=tx.statement_id,
            amount=tx.amount,
            currency=tx.currency,
            direction=tx.direction,
            booking_date=tx.booking_date,
            value_date=tx.value_date,
            entry_status=tx.entry_status.value,
            reversal=tx.reversal,
            bank_reference=tx.bank_reference,
            end_to_end_id=tx.end_to_end_id,
            creditor_reference=tx.creditor_reference,
            remittance=tx.remittance,
            counterparty_name=tx.counterparty_name,
            counterparty_iban=tx.counterparty_iban,
            status=tx.status,
            proposals=[ProposalOutput.of(p) for p in tx.proposals],
            match=ProposalOutput.of(tx.match) if tx.match else None,
            matched_by=tx.matched_by,
            payment_ids=list(tx.payment_ids),
            reconciled_payment_ids=list(tx.reconciled_payment_ids),
            ignore_reason=tx.ignore_reason,
            discrepancies=[DiscrepancyOutput.of(d) for d in tx.discrepancies],
            discrepancy_ids=[
                tx.discrepancy_ids[i] if i < len(tx.discrepancy_ids) else ""
                for i in range(len(tx.discrepancies))
            ],
            history=[HistoryOutput.of(h) for h in tx.history],
            version=tx.version,
        )


# --------------------------------------------------------------------------- requests


class BankTransactionsQuery(ListQuery):
    status: TransactionStatus | None = None
    bank_account_id: Id | None = None
    statement_id: Id | None = None
    direction: Direction | None = None
    from_: BusinessDate | None = Field(default=None, alias="from", description="First booking date")
    to: BusinessDate | None = Field(default=None, description="Last booking date")
    amount_min: MinorUnits | None = Field(default=None, ge=0)
    amount_max: MinorUnits | None = Field(default=None, ge=0)


class MatchTargetRequest(RequestModel):
    type: Literal["invoice", "bill", "payout", "installment", "payment", "fees"]
    id: Id | None = Field(
        default=None, description="The invoice, bill, payout, installment or payment; none for fees"
    )
    amount: MinorUnits = Field(gt=0, description="The part of the line's amount it takes")

    @model_validator(mode="after")
    def _id_unless_fees(self) -> MatchTargetRequest:
        if self.type != "fees" and not self.id:
            raise FieldProblem(f"a {self.type} target needs its id", "id")
        return self

    def to_domain(self) -> domain.MatchTarget:
        return domain.MatchTarget(type=TargetType(self.type), id=self.id or "fees", amount=self.amount)


class MatchRequest(RequestModel):
    proposal: int | None = Field(default=None, ge=0, le=4, description="Index of one of the line's proposals")
    targets: Annotated[list[MatchTargetRequest], Field(min_length=1, max_length=20)] | None = None
    keep_rest_as_credit: bool = Field(
        default=False, description="A credit larger than its targets: keep the rest as the payer's credit"
    )
    version: int | None = Field(
        default=None, ge=0, description="The version read; a line changed since is a 409"
    )

    @model_validator(mode="after")
    def _one_way(self) -> MatchRequest:
        if (self.proposal is None) == (self.targets is None):
            raise FieldProblem("send either proposal or targets", "proposal")
        return self


class IgnoreRequest(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=500), FREE_TEXT]
    version: int | None = Field(
        default=None, ge=0, description="The version read; a line changed since is a 409"
    )


class UnmatchRequest(RequestModel):
    reason: Annotated[str, Field(max_length=500), FREE_TEXT] = ""
    version: int | None = Field(
        default=None, ge=0, description="The version read; a line changed since is a 409"
    )


class ReconciliationQuery(RequestModel):
    from_: BusinessDate | None = Field(
        default=None, alias="from", description="First booking day (default: the 1st of this month)"
    )
    to: BusinessDate | None = Field(default=None, description="Last booking day, inclusive (default: today)")
    bank_account_id: Id | None = None


class DiscrepanciesQuery(ListQuery):
    status: Literal["open", "resolved"] = "open"


class ResolveDiscrepancyRequest(RequestModel):
    note: Annotated[
        str,
        Field(max_length=500, description="What was found or done (kept with the discrepancy)"),
        FREE_TEXT,
    ] = ""


# --------------------------------------------------------------------------- the report


class CountAmountOutput(OutputModel):
    count: int
    amount: int

    @classmethod
    def of(cls, pair: CountAmount) -> CountAmountOutput:
        return cls(count=pair.count, amount=pair.amount)


class DiscrepancyTotalOutput(OutputModel):
    kind: DiscrepancyKind
    count: int
    amount: int


class AccountReconciliationOutput(OutputModel):
    bank_account_id: str
    name: str
    currency: str
    balance: int | None
    balance_date: date | None
    lines: int
    credits: int
    debits: int
    matched_auto: CountAmountOutput
    matched_person: CountAmountOutput
    ignored: CountAmountOutput
    open: CountAmountOutput
    discrepancies: list[DiscrepancyTotalOutput]

    @classmethod
    def of(cls, account: AccountReconciliation) -> AccountReconciliationOutput:
        return cls(
            bank_account_id=account.bank_account_id,
            name=account.name,
            currency=account.currency,
            balance=account.balance,
            balance_date=account.balance_date,
            lines=account.lines,
            credits=account.credits,
            debits=account.debits,
            matched_auto=CountAmountOutput.of(account.matched_auto),
            matched_person=CountAmountOutput.of(account.matched_person),
            ignored=CountAmountOutput.of(account.ignored),
            open=CountAmountOutput.of(account.open),
            discrepancies=[
                DiscrepancyTotalOutput(kind=kind, count=pair.count, amount=pair.amount)
                for kind, pair in account.discrepancies.items()
            ],
        )


class ReconciliationReportOutput(OutputModel):
    # `from` is a Python keyword: the field is `from_`, written as `from` (the query's own name).
    model_config = ConfigDict(extra="forbid", defer_build=True, serialize_by_alias=True)

    from_: date = Field(alias="from")
    to: date
    accounts: list[AccountReconciliationOutput]

    @classmethod
    def of(cls, report: ReconciliationReport) -> ReconciliationReportOutput:
        return cls.model_validate(
            {
                "from": report.first,
                "to": report.last,
                "accounts": [AccountReconciliationOutput.of(a) for a in report.accounts],
            }
        )


class BankDiscrepancyOutput(OutputModel):
    id: str
    kind: DiscrepancyKind
    amount: int
    currency: str
    cause: domain.ShortfallCause | None
    detail: str
    bank_transaction_id: str | None
    payment_id: str | None
    bank_account_id: str | None
    at: datetime
    status: Literal["open", "resolved"]
    resolved_at: datetime | None
    resolved_by: str | None = Field(
        description='Who resolved it: a person (also by unmatching its line), or "auto" (the matcher)'
    )
    note: str = Field(
        description='Why it was resolved: a person\'s note, "unmatched", or the bank line that showed it'
    )

    @classmethod
    def of(cls, stored: StoredDiscrepancy) -> BankDiscrepancyOutput:
        found = stored.discrepancy
        return cls(
            id=stored.discrepancy_id,
            kind=found.kind,
            amount=found.amount,
            currency=found.currency,
            cause=found.cause,
            detail=found.detail,
            bank_transaction_id=stored.bank_transaction_id,
            payment_id=stored.payment_id,
            bank_account_id=stored.bank_account_id,
            at=stored.at,
            status="resolved" if stored.status == "resolved" else "open",
            resolved_at=stored.resolved_at,
            resolved_by=stored.resolved_by,
            note=stored.note,
        )
