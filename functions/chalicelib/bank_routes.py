"""/v1/bank-accounts (create, read, list, change), /v1/bank-statements (import a bank file, list
the statements, read one with its lines) and /v1/reconciliation-settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from cashline.domain.access import Role
from cashline.schemas.bank_accounts import (
    BankAccountOutput,
    CreateBankAccountRequest,
    ImportStatementQuery,
    ReconciliationSettingsOutput,
    ReconciliationSettingsRequest,
    StatementImportOutput,
    StatementLinesQuery,
    StatementListQuery,
    StatementOutput,
    StatementWithLinesOutput,
    UpdateBankAccountRequest,
)
from cashline.schemas.bank_transactions import BankTransactionOutput
from cashline.schemas.common import ListQuery, PageOutput, page_output
from chalicelib.http import Call, api_route
from chalicelib.invoice_routes import actor_of
from chalicelib.runtime import api_ready, deferred

if TYPE_CHECKING:
    from cashline.dal.bank_repository import ReconciliationSettings
    from cashline.services import documents
    from cashline.services.bank import accounts, imports, statements
    from cashline.services.bank import settings as bank_settings
else:  # imported by the first request that uses them (chalicelib.runtime.deferred)
    bank_settings = deferred("cashline.services.bank.settings")
    documents = deferred("cashline.services.documents")
    accounts = deferred("cashline.services.bank.accounts")
    imports = deferred("cashline.services.bank.imports")
    statements = deferred("cashline.services.bank.statements")

bank_api = Blueprint(__name__)
TAG = "bank accounts and statements"
# The format is read from the bytes, so the type only has to be one a bank file travels as. An MT940
# (no type of its own) is sent as application/octet-stream, which passes the bytes untouched
# (app.api.binary_types) whatever their encoding; text/plain stays refused like on every route.
BANK_FILE_CONTENT_TYPES = (
    "application/xml",
    "text/xml",
    "text/csv",
    "application/csv",
    "application/octet-stream",
)


def _fields(
    body: CreateBankAccountRequest | UpdateBankAccountRequest, *, exclude_unset: bool
) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=exclude_unset, exclude={"version", "csv_mapping"})
    if "csv_mapping" in body.model_fields_set:
        fields["csv_mapping"] = body.csv_mapping.stored() if body.csv_mapping is not None else None
    return fields


@api_route(
    bank_api,
    "/v1/bank-accounts",
    method="POST",
    summary="Create a bank account (IBAN or other identification; one operating account per currency)",
    request=CreateBankAccountRequest,
    response=BankAccountOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
)
def create_bank_account(call: Call[CreateBankAccountRequest, Any]) -> BankAccountOutput:
    fields = {k: v for k, v in _fields(call.body, exclude_unset=False).items() if v is not None}
    return BankAccountOutput.of(accounts.create_account(call.tenant_id, fields, now=call.now))


@api_route(
    bank_api,
    "/v1/bank-accounts",
    method="GET",
    summary="List bank accounts by name",
    query=ListQuery,
    response=PageOutput[BankAccountOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_bank_accounts(call: Call[Any, ListQuery]) -> PageOutput[BankAccountOutput]:
    page = accounts.list_accounts(
        call.tenant_id, limit=call.query.limit, starting_after=call.query.starting_after
    )
    return page_output(page, BankAccountOutput.of)


@api_route(
    bank_api,
    "/v1/bank-accounts/{bank_account_id}",
    method="GET",
    summary="A bank account with its latest balance",
    response=BankAccountOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_bank_account(call: Call[Any, Any]) -> BankAccountOutput:
    return BankAccountOutput.of(accounts.get_account(call.tenant_id, call.path["bank_account_id"]))


@api_route(
    bank_api,
    "/v1/bank-accounts/{bank_account_id}",
    method="PATCH",
    summary="Change a bank account's name, BIC, operating flag or CSV mapping (send the version you read)",
    request=UpdateBankAccountRequest,
    response=BankAccountOutput,
    role=Role.FINANCE,
    tag=TAG,
)
def update_bank_account(call: Call[UpdateBankAccountRequest, Any]) -> BankAccountOutput:
    account = accounts.update_account(
        call.tenant_id,
        call.path["bank_account_id"],
        _fields(call.body, exclude_unset=True),
        expected_version=call.body.version,
        now=call.now,
    )
    return BankAccountOutput.of(account)


@api_route(
    bank_api,
    "/v1/bank-statements",
    method="POST",
    summary="Import a bank file sent as the body: camt.052/053/054, MT940/MT942, or CSV with the "
    "account's saved mapping (format read from the bytes)",
    query=ImportStatementQuery,
    response=StatementImportOutput,
    role=Role.FINANCE,
    status=201,
    idempotent=True,
    tag=TAG,
    accepts=BANK_FILE_CONTENT_TYPES,
)
def import_bank_statement(call: Call[Any, ImportStatementQuery]) -> StatementImportOutput:
    result = imports.import_file(
        call.tenant_id,
        call.raw_body,
        bank_account_id=call.query.bank_account_id,
        actor=actor_of(call),
        now=call.now,
        keep_in=documents.store_for(api_ready()),  # the raw file, at bank-statements/<tenant>/<id>
    )
    return StatementImportOutput(
        id=result.import_id,
        format=result.format,
        matching=result.matching,
        statements=[StatementOutput.of(s) for s in result.statements],
    )


@api_route(
    bank_api,
    "/v1/bank-statements",
    method="GET",
    summary="List imported bank statements, latest last day first",
    query=StatementListQuery,
    response=PageOutput[StatementOutput],
    role=Role.READ_ONLY,
    tag=TAG,
)
def list_bank_statements(call: Call[Any, StatementListQuery]) -> PageOutput[StatementOutput]:
    page = statements.list_statements(
        call.tenant_id,
        bank_account_id=call.query.bank_account_id,
        limit=call.query.limit,
        starting_after=call.query.starting_after,
    )
    return page_output(page, StatementOutput.of)


@api_route(
    bank_api,
    "/v1/bank-statements/{statement_id}",
    method="GET",
    summary="A bank statement with its lines (200 at a time: pass lines_cursor as ?lines_after=)",
    query=StatementLinesQuery,
    response=StatementWithLinesOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_bank_statement(call: Call[Any, StatementLinesQuery]) -> StatementWithLinesOutput:
    view = statements.get_statement(
        call.tenant_id, call.path["statement_id"], lines_after=call.query.lines_after
    )
    return StatementWithLinesOutput(
        **dict(StatementOutput.of(view.statement)),
        lines=[BankTransactionOutput.of(tx) for tx in view.lines],
        lines_cursor=view.lines_cursor,
    )


@api_route(
    bank_api,
    "/v1/reconciliation-settings",
    method="GET",
    summary="The score from which a match is applied automatically, and the days a payout may take",
    response=ReconciliationSettingsOutput,
    role=Role.READ_ONLY,
    tag=TAG,
)
def get_reconciliation_settings(call: Call[Any, Any]) -> ReconciliationSettingsOutput:
    return _settings_output(bank_settings.get_settings(call.tenant_id))


@api_route(
    bank_api,
    "/v1/reconciliation-settings",
    method="PUT",
    summary="Set the automatic-match threshold and the not-in-bank days (send the version you read)",
    request=ReconciliationSettingsRequest,
    response=ReconciliationSettingsOutput,
    role=Role.ADMIN,
    tag=TAG,
)
def put_reconciliation_settings(
    call: Call[ReconciliationSettingsRequest, Any],
) -> ReconciliationSettingsOutput:
    saved = bank_settings.update_settings(
        call.tenant_id,
        auto_match_threshold=call.body.auto_match_threshold,
        not_in_bank_days=call.body.not_in_bank_days,
        version=call.body.version,
        now=call.now,
    )
    return _settings_output(saved)


def _settings_output(saved: ReconciliationSettings) -> ReconciliationSettingsOutput:
    return ReconciliationSettingsOutput(
        auto_match_threshold=saved.auto_match_threshold,
        not_in_bank_days=saved.not_in_bank_days,
        version=saved.version,
    )
