"""Bank statement import: a file in, its statements and lines stored once, matching started.

What happens to a file (docs/api.md "Bank statements"):
1. The byte budget (413), then the format from the bytes (`domain.bank.detect`) and the parse: camt,
   MT940/MT942, or CSV with the saved mapping of the account `?bank_account_id=` names. A file that
   cannot be understood is a 422 on field "body" naming the line or XPath.
2. Each statement's account (`accounts.account_for_statement`) and its claim: a statement is named by
   account, kind, the bank's statement id and sequence and its dates (a statement with neither id
   nor sequence, a CSV export, by its lines instead). A claim whose statement is complete (its import
   record exists) is a 409 with `existing_id`, nothing written; an incomplete one younger than
   `RESUME_AFTER` is being imported right now (409); an older one is an import that died half-way,
   and this import finishes it.
3. Each booked line's fingerprint (`domain.bank.fingerprints`); lines an earlier report or
   notification already brought (their line claim exists) are skipped and counted as
   `duplicate_lines` (also when a concurrent import claims one between the check and a chunk's
   write); a reference-less line of an intraday report or notification is new money and claims a
   slot the end-of-day statement's line will find; pending entries are not stored (they come again
   once booked).
4. The writes (`import_writes`): chunks of at most 40 lines per transaction with their claims, the
   statement's counter and the day totals, so a crash leaves whole chunks and a resume adds the rest;
   then the import record (which makes the statements complete) and the account's balance.
5. The raw file, when a store is given, is kept at `raw_file_key` (`bank-statements/<tenant>/<import
   id>`) once the import committed; a failure to keep it is logged and does not fail the import.
6. Matching (`services.bank.matching.match_lines`) for the first `MATCH_NOW` new lines; the rest wait
   in the `bank_match` due index for the sweep ("matching": "queued").

The statement's credit/debit totals and `balanced` are the file's own figures (every line of it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError

from cashline.adapters.documents import DocumentStore
from cashline.dal.bank_repository import bank
from cashline.domain.bank.camt import parse_camt
from cashline.domain.bank.csv_lines import CsvMapping, parse_csv
from cashline.domain.bank.detect import detect_format
from cashline.domain.bank.fingerprints import booked_lines, statement_key
from cashline.domain.bank.model import BankFileError, BankStatement
from cashline.domain.bank.mt940 import parse_mt940
from cashline.domain.bank.reconciliation import BankAccount, BankTransaction, StoredStatement
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, OverBudgetError, compressed_format, megabytes
from cashline.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from cashline.ids import new_id
from cashline.observability import logger
from cashline.services.bank import accounts, matching
from cashline.services.bank.import_writes import (
    MATCH_NOW,
    RESUME_AFTER,
    StatementPlan,
    finish,
    write_statement,
)

MAX_STATEMENT_BYTES = MAX_DECOMPRESSED_BYTES
RAW_FILE_PREFIX = "bank-statements/"


def raw_file_key(tenant_id: str, import_id: str) -> str:
    """Where an import's file is kept in the documents bucket (one key per import)."""
    return f"{RAW_FILE_PREFIX}{tenant_id}/{import_id}"


@dataclass(frozen=True)
class ImportResult:
    """What one file became: the import's id, the format read, whether every new line has been
    through matching ("done") or some wait for the sweep ("queued"), and the statements stored."""

    import_id: str
    format: str
    matching: Literal["done", "queued"]
    statements: list[StoredStatement]


def import_file(
    tenant_id: str,
    body: bytes,
    *,
    bank_account_id: str | None,
    actor: str,
    now: datetime,
    keep_in: DocumentStore | None = None,
) -> ImportResult:
    """Import the bank file `body` (camt.052/053/054, MT940/MT942 or CSV with the account's mapping)
    as the module docstring describes; `actor` goes into each line's history. With `keep_in`, the
    file itself is put at `raw_file_key` after the import committed (the bank inbox moves its object
    there instead)."""
    given = accounts.get_account(tenant_id, bank_account_id) if bank_account_id is not None else None
    statements = _parse(body, given)
    if given is not None and len({accounts.statement_identification(s) for s in statements} - {None}) > 1:
        raise UnprocessableError(
            "the file holds statements of several accounts: import it without ?bank_account_id=",
            field="bank_account_id",
        )
    _refuse_repeats(statements)
    resolve: Callable[[BankStatement], BankAccount | None] = (
        (lambda s: accounts.given_account(tenant_id, s, given.bank_account_id))
        if given is not None
        else (lambda s: accounts.known_account(tenant_id, s))
    )
    # Every statement's claim is checked before anything is written (an account from the file too).
    found = [(statement, resolve(statement)) for statement in statements]
    resumed = [
        _claimed(tenant_id, account, statement, now) if account else None for statement, account in found
    ]
    import_id = next((s.import_id for s in resumed if s is not None), None) or new_id("bank_import")
    plans: list[StatementPlan] = []
    for (statement, account), stored in zip(found, resumed, strict=True):
        owner = account or accounts.account_for_statement(
            tenant_id, statement, given_account_id=None, now=now
        )
        plan = StatementPlan(statement, owner, _key(statement, owner), stored)
        write_statement(plan, import_id, actor=actor, already_new=_new_count(plans), now=now)
        plans.append(plan)
    finish(plans, import_id, hashlib.sha256(body).hexdigest(), now)
    if keep_in is not None:
        _keep(keep_in, raw_file_key(tenant_id, import_id), body)
    new_lines = [tx for plan in plans for tx in plan.new_lines]
    _match(tenant_id, new_lines[:MATCH_NOW], now)
    return ImportResult(
        import_id=import_id,
        format=statements[0].format,
        # Lines a resumed import wrote before it died are matched by the sweep, not here.
        matching="done" if len(new_lines) <= MATCH_NOW and not any(resumed) else "queued",
        statements=[bank.get_statement(tenant_id, plan.statement_id) for plan in plans],
    )


def _refuse_repeats(statements: list[BankStatement]) -> None:
    """One statement twice in a file would claim itself twice: refused before anything is written."""
    seen: set[tuple[str | None, str, str]] = set()
    for statement in statements:
        named = accounts.statement_identification(statement)
        key = (named, statement.kind.value, statement_key(statement, named or ""))
        if key in seen:
            raise UnprocessableError(
                f"the file holds statement {statement.statement_id or statement.sequence or ''} of {named} "
                "twice",
                field="body",
            )
        seen.add(key)


def _new_count(plans: list[StatementPlan]) -> int:
    return sum(len(plan.new_lines) for plan in plans)


def _key(statement: BankStatement, account: BankAccount) -> str:
    return statement_key(statement, account.bank_account_id)


# --------------------------------------------------------------------------- reading the file


def _parse(body: bytes, given: BankAccount | None) -> list[BankStatement]:
    if not body:
        raise ValidationError("the body is empty: send the bank file itself", field="body")
    archive = compressed_format(body)
    if archive:
        raise UnsupportedMediaTypeError(
            f"the body is a {archive} archive: send the bank file itself", field="body"
        )
    if len(body) > MAX_STATEMENT_BYTES:
        raise PayloadTooLargeError(
            f"the bank file is more than {megabytes(MAX_STATEMENT_BYTES)}", field="body"
        )
    try:
        kind = detect_format(body)
        if kind == "camt":
            statements = parse_camt(body)
        elif kind == "csv":
            statements = parse_csv(body, _csv_mapping(given))
        else:
            statements = parse_mt940(body, currency=given.currency if given else None)
        for statement in statements:
            booked_lines(statement, "")  # a line without any date: refused before anything is written
    except OverBudgetError as exc:
        raise PayloadTooLargeError(exc.message, field="body") from exc
    except BankFileError as exc:
        raise UnprocessableError(f"the bank file cannot be read: {exc}", field="body") from exc
    if not statements:
        raise UnprocessableError("the bank file holds no statement", field="body")
    return statements


def _csv_mapping(given: BankAccount | None) -> CsvMapping:
    if given is None:
        raise UnprocessableError(
            "a CSV file is read with a bank account's saved csv_mapping: name the account with "
            "?bank_account_id=",
            field="bank_account_id",
        )
    if not given.csv_mapping:
        raise UnprocessableError(
            f"bank account {given.bank_account_id} has no csv_mapping: save one (PATCH) to import CSV",
            field="bank_account_id",
        )
    return accounts.csv_mapping_of(given.csv_mapping)


# --------------------------------------------------------------------------- names and fingerprints

# --------------------------------------------------------------------------- claims


def _claimed(
    tenant_id: str, account: BankAccount, statement: BankStatement, now: datetime
) -> StoredStatement | None:
    """None when the statement is new; the stored statement to resume when an import of it died
    more than RESUME_AFTER ago; ConflictError (existing_id) when it is imported or being imported."""
    holder = bank.statement_claim(
        tenant_id, account.bank_account_id, statement.kind.value, _key(statement, account)
    )
    if holder is None:
        return None
    stored = bank.get_statement(tenant_id, holder)
    if _complete(stored):
        raise ConflictError(
            f"this statement was imported already as {holder}", field="body", details={"existing_id": holder}
        )
    if now - stored.created_at < RESUME_AFTER:
        raise ConflictError(
            f"this statement is being imported right now as {holder}; try again in a few minutes",
            field="body",
            details={"existing_id": holder},
        )
    logger.info(
        "resuming a statement import that did not finish", statement_id=holder, import_id=stored.import_id
    )
    return stored


def _complete(stored: StoredStatement) -> bool:
    # The import record is written last, once every line of every statement of the file is stored.
    try:
        bank.get_import(stored.tenant_id, stored.import_id)
    except NotFoundError:
        return False
    return True


def _keep(store: DocumentStore, key: str, body: bytes) -> None:
    """The import stands without its kept copy: a failed put is logged, never the import's error."""
    try:
        store.put(key, body, content_type="application/octet-stream")
    except (BotoCoreError, ClientError) as exc:
        logger.warning("the imported bank file was not kept", key=key, error=str(exc))


def _match(tenant_id: str, txs: list[BankTransaction], now: datetime) -> None:
    """Matching right after the import. The lines are stored and on the due index whatever happens
    here, so a failure leaves them to the sweep instead of failing an import that is complete."""
    if not txs:
        return
    try:
        matching.match_lines(tenant_id, txs, now=now)
    except (ConflictError, DependencyUnavailableError) as exc:
        logger.warning("matching after the import left to the bank_match sweep", error=exc.message)
