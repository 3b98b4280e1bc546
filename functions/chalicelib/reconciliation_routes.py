"""/v1/bank-transactions (the queue a person works), /v1/reports/reconciliation, /v1/bank-discrepancies
(listed, and resolved by a person)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.bank_transactions import (
    BankDiscrepancyOutput,
    BankTransactionOutput,
    BankTransactionsQuery,
    DiscrepanciesQuery,
    IgnoreRequest,
    MatchRequest,
    ReconciliationQuery,
    ReconciliationReportOutput,
    ResolveDiscrepancyRequest,
    UnmatchRequest,
)
from cashline.schemas.common import PageOutput, page_output
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.runtime import deferred

if TYPE_CHECKING:
    from cashline.services.bank import flags, queue, reports
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    flags = deferred("cashline.services.bank.flags")
    queue = deferred("cashline.services.bank.queue")
    reports = deferred("cashline.services.bank.reports")

reconciliation_api = Blueprint(__name__)
TAG = "reconciliation"
ID = "/v1/bank-transactions/{transaction_id}"


@api_route(
    reconciliation_api,
    "/v1/bank-transactions",
    method="GET",
    summary="List bank transactions (by status, account, statement, booking dates, amounts)",
    query=BankTransactionsQuery,
    response=PageOutput[BankTransactionOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_bank_transactions(call: Call[Any, BankTransactionsQuery]) -> PageOutput[BankTransactionOutput]:
    q = call.query
    flt = queue.TransactionFilter(
        status=q.status,
        bank_account_id=q.bank_account_id,
        statement_id=q.statement_id,
        first=q.from_,
        last=q.to,
        amount_min=q.amount_min,
        amount_max=q.amount_max,
        direction=q.direction,
    )
    page = queue.list_transactions(call.tenant_id, flt, limit=q.limit, starting_after=q.starting_after)
    return page_output(page, BankTransactionOutput.of)


@api_route(
    reconciliation_api,
    ID,
    method="GET",
    summary="A bank transaction: what the bank said, its proposals, its match and its history",
    response=BankTransactionOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_bank_transaction(call: Call[Any, Any]) -> BankTransactionOutput:
    return BankTransactionOutput.of(queue.get_transaction(call.tenant_id, call.path["transaction_id"]))


@api_route(
    reconciliation_api,
    ID + "/match",
    method="POST",
    summary="Match a bank transaction: one of its proposals, or invoices, a bill, a payout, fees",
    request=MatchRequest,
    response=BankTransactionOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def match_bank_transaction(call: Call[MatchRequest, Any]) -> BankTransactionOutput:
    body = call.body
    tx = queue.match_transaction(
        call.tenant_id,
        call.path["transaction_id"],
        proposal=body.proposal,
        targets=[t.to_domain() for t in body.targets] if body.targets is not None else None,
        keep_rest_as_credit=body.keep_rest_as_credit,
        actor=actor_of(call),
        now=call.now,
        expected_version=body.version,
    )
    return BankTransactionOutput.of(tx)


@api_route(
    reconciliation_api,
    ID + "/ignore",
    method="POST",
    summary="Mark a bank transaction as needing no match, with a reason",
    request=IgnoreRequest,
    response=BankTransactionOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def ignore_bank_transaction(call: Call[IgnoreRequest, Any]) -> BankTransactionOutput:
    tx = queue.ignore_transaction(
        call.tenant_id,
        call.path["transaction_id"],
        reason=call.body.reason,
        actor=actor_of(call),
        now=call.now,
        expected_version=call.body.version,
    )
    return BankTransactionOutput.of(tx)


@api_route(
    reconciliation_api,
    ID + "/unmatch",
    method="POST",
    summary="Undo a match (the payments it created are reversed) or an ignore",
    request=UnmatchRequest,
    response=BankTransactionOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def unmatch_bank_transaction(call: Call[UnmatchRequest, Any]) -> BankTransactionOutput:
    tx = queue.unmatch_transaction(
        call.tenant_id,
        call.path["transaction_id"],
        reason=call.body.reason,
        actor=actor_of(call),
        now=call.now,
        expected_version=call.body.version,
    )
    return BankTransactionOutput.of(tx)


@api_route(
    reconciliation_api,
    "/v1/reports/reconciliation",
    method="GET",
    summary="Bank lines in, matched automatically, by a person, ignored and open; discrepancies by kind",
    query=ReconciliationQuery,
    response=ReconciliationReportOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def reconciliation_report(call: Call[Any, ReconciliationQuery]) -> ReconciliationReportOutput:
    report = reports.reconciliation_report(
        call.tenant_id,
        first=call.query.from_,
        last=call.query.to,
        bank_account_id=call.query.bank_account_id,
        now=call.now,
    )
    return ReconciliationReportOutput.of(report)


@api_route(
    reconciliation_api,
    "/v1/bank-discrepancies",
    method="GET",
    summary="Discrepancies flagged by reconciliation (underpaid, overpaid, payout mismatch, ...)",
    query=DiscrepanciesQuery,
    response=PageOutput[BankDiscrepancyOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_bank_discrepancies(call: Call[Any, DiscrepanciesQuery]) -> PageOutput[BankDiscrepancyOutput]:
    page = reports.list_discrepancies(
        call.tenant_id,
        status=call.query.status,
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, BankDiscrepancyOutput.of)


@api_route(
    reconciliation_api,
    "/v1/bank-discrepancies/{discrepancy_id}/resolve",
    method="POST",
    summary="Resolve an open discrepancy with a note (409 when it is resolved already)",
    request=ResolveDiscrepancyRequest,
    response=BankDiscrepancyOutput,
    role=Role.FINANCE,
    idempotent=True,
    tag=TAG,
)
def resolve_bank_discrepancy(call: Call[ResolveDiscrepancyRequest, Any]) -> BankDiscrepancyOutput:
    resolved = flags.resolve_discrepancy(
        call.tenant_id,
        call.path["discrepancy_id"],
        note=call.body.note,
        actor=actor_of(call),
        now=call.now,
    )
    return BankDiscrepancyOutput.of(resolved)
