"""Bank accounts: create, read, list, change, and the account a statement in a file belongs to.

An account is identified by its IBAN (checked by schwifty) or, where a bank gives none, by another
identification (a national account number as an MT940 `:25:` writes it); each identification names
one account of the tenant (a claim item), and a currency has at most one operating account (the one
Cashline's debits and payouts use).
"""

from __future__ import annotations

import re
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import datetime
from typing import Any

from cashline.dal.bank_repository import bank
from cashline.dal.pagination import Page
from cashline.domain.bank.csv_lines import CsvMapping
from cashline.domain.bank.model import BankStatement
from cashline.domain.bank.reconciliation import BankAccount
from cashline.domain.counterparties import CounterpartyRuleError, normalize_iban
from cashline.domain.money import CurrencyError, normalize_currency
from cashline.errors import ConflictError, NotFoundError, UnprocessableError, ValidationError
from cashline.ids import is_id_of, new_id

EDITABLE = ("name", "bic", "operating", "csv_mapping")
BIC_SHAPE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
# "XXX" is what the parsers say for a file that names no currency (an MT940 without balances).
NO_CURRENCY = "XXX"
_TUPLE_FIELDS = {f.name for f in dataclass_fields(CsvMapping) if str(f.type).startswith("tuple")}


def identification_key(value: str) -> str:
    """How an identification is compared: upper case, no spaces ("de89 3704..." == "DE893704...")."""
    return "".join(value.split()).upper()


def csv_mapping_of(stored: dict[str, Any]) -> CsvMapping:
    """The saved mapping as the CSV reader takes it; a ValidationError naming `csv_mapping.<field>`
    when a field is unknown or its value does not fit (CsvMapping checks its own rules)."""
    known = {f.name for f in dataclass_fields(CsvMapping)}
    unknown = sorted(set(stored) - known)
    if unknown:
        raise ValidationError(f"csv_mapping: unknown field {unknown[0]!r}", field=f"csv_mapping.{unknown[0]}")
    values: dict[str, Any] = {
        name: tuple(value) if name in _TUPLE_FIELDS else value for name, value in stored.items()
    }
    try:
        return CsvMapping(**values)
    except ValueError as exc:
        # CsvMapping's messages start with the field they are about ("amount: name an amount column").
        name = str(exc).split(":", 1)[0]
        field = f"csv_mapping.{name}" if name in known else "csv_mapping"
        raise ValidationError(f"csv_mapping: {exc}", field=field) from exc
    except TypeError as exc:  # a required field (booking_date) missing
        raise ValidationError(f"csv_mapping: {exc}", field="csv_mapping") from exc


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Normalise the given fields; an error names its field."""
    checked = dict(values)
    if "name" in checked and not str(checked["name"] or "").strip():
        raise ValidationError("name must not be empty", field="name")
    if "name" in checked:
        checked["name"] = str(checked["name"]).strip()
    if checked.get("bic") is not None:
        bic = identification_key(checked["bic"])
        if not BIC_SHAPE.match(bic):
            raise ValidationError("bic: not a BIC (8 or 11 letters and digits)", field="bic")
        checked["bic"] = bic
    if checked.get("csv_mapping") is not None:
        csv_mapping_of(checked["csv_mapping"])  # refused now rather than at the first import
    return checked


def _identification(values: dict[str, Any]) -> tuple[str | None, str | None]:
    """(iban, other identification): exactly one of them."""
    iban, other = values.get("iban"), values.get("account")
    if iban is not None and other is not None:
        raise ValidationError("give an iban or another account identification, not both", field="account")
    if iban is None and other is None:
        raise ValidationError(
            "an iban (or another account identification in `account`) is required", field="iban"
        )
    if iban is not None:
        try:
            return normalize_iban(iban), None
        except CounterpartyRuleError as exc:
            raise ValidationError(str(exc), field="iban") from exc
    compact = identification_key(str(other))
    if not compact:
        raise ValidationError("account must not be empty", field="account")
    return None, compact


def _currency(value: Any) -> str:
    try:
        return normalize_currency(str(value))
    except CurrencyError as exc:
        raise ValidationError(f"currency: {exc}", field="currency") from exc


def create_account(tenant_id: str, fields: dict[str, Any], *, now: datetime) -> BankAccount:
    """A new bank account from `fields` (name, currency, iban | account, bic, operating, csv_mapping).
    409 when the identification is taken (details.existing_id) or another account is already the
    operating one in the currency."""
    checked = _checked(fields)
    iban, other = _identification(checked)
    return bank.create_account(
        BankAccount(
            tenant_id=tenant_id,
            bank_account_id=new_id("bank_account"),
            name=checked["name"],
            currency=_currency(checked.get("currency")),
            iban=iban,
            account_other=other,
            bic=checked.get("bic"),
            operating=bool(checked.get("operating", False)),
            csv_mapping=checked.get("csv_mapping"),
            created_from_file=False,
            balance=None,
            balance_date=None,
            created_at=now,
            updated_at=now,
        )
    )


def get_account(tenant_id: str, bank_account_id: str, *, field: str = "bank_account_id") -> BankAccount:
    """The tenant's bank account; 404 for an unknown or another tenant's id (no read for a malformed one)."""
    if not is_id_of("bank_account", bank_account_id):
        raise NotFoundError("bank account not found", field=field)
    return bank.get_account(tenant_id, bank_account_id)


def list_accounts(tenant_id: str, *, limit: int, starting_after: str | None) -> Page[BankAccount]:
    """The tenant's bank accounts by name."""
    return bank.list_accounts(tenant_id, limit=limit, starting_after=starting_after)


def update_account(
    tenant_id: str,
    bank_account_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    now: datetime,
) -> BankAccount:
    """Change name, bic, operating or csv_mapping (null clears bic and csv_mapping); 409 when
    `expected_version` is given and is not the stored one, or the currency has another operating account."""
    before = get_account(tenant_id, bank_account_id)
    if expected_version is not None and before.version != expected_version:
        raise ConflictError("bank account was changed since this version; read it again", field="version")
    checked = _checked({k: v for k, v in changes.items() if k in EDITABLE})
    if "operating" in checked and checked["operating"] is None:
        checked["operating"] = False
    after = replace(before, **checked, updated_at=now, version=before.version + 1)
    return bank.update_account(before, after)


def account_for_statement(
    tenant_id: str, statement: BankStatement, *, given_account_id: str | None, now: datetime
) -> BankAccount:
    """The account `statement` belongs to: the one named by `given_account_id` (422 field
    `bank_account_id` when the file names another), else the tenant's account with the file's IBAN or
    other identification, else one created from the file (`created_from_file=True`)."""
    if given_account_id is not None:
        return given_account(tenant_id, statement, given_account_id)
    found = known_account(tenant_id, statement)
    if found is not None:
        return found
    return _account_from_file(tenant_id, statement, now=now)


def given_account(tenant_id: str, statement: BankStatement, bank_account_id: str) -> BankAccount:
    """The account `?bank_account_id=` names, checked against the account the file names: a file
    naming another IBAN, or an identification another account holds, is refused."""
    account = get_account(tenant_id, bank_account_id)
    named = statement_identification(statement)
    if named is None:
        return account
    if statement.account_iban and account.iban and identification_key(statement.account_iban) != account.iban:
        raise UnprocessableError(
            f"the file is a statement of {named}, not of this account ({account.iban})",
            field="bank_account_id",
        )
    holder = bank.account_by_identification(tenant_id, named)
    if holder is not None and holder.bank_account_id != account.bank_account_id:
        raise UnprocessableError(
            f"the file is a statement of {named}, which is bank account {holder.bank_account_id}",
            field="bank_account_id",
        )
    return account


def statement_identification(statement: BankStatement) -> str | None:
    """The IBAN or other identification a statement names, compared form; None when it names none."""
    named = statement.account_iban or statement.account_other
    return identification_key(named) if named else None


def known_account(tenant_id: str, statement: BankStatement) -> BankAccount | None:
    """The tenant's account holding the identification the statement names, if any (no write)."""
    named = statement_identification(statement)
    if named is None:
        raise UnprocessableError(
            "the file names no account: say which one with ?bank_account_id=", field="bank_account_id"
        )
    return bank.account_by_identification(tenant_id, named)


def _account_from_file(tenant_id: str, statement: BankStatement, *, now: datetime) -> BankAccount:
    named = statement_identification(statement) or ""
    if statement.currency == NO_CURRENCY:
        raise UnprocessableError(
            f"the file names no currency for {named}: create the bank account first and import with "
            "?bank_account_id=",
            field="bank_account_id",
        )
    iban: str | None = None
    if statement.account_iban:
        try:
            iban = normalize_iban(statement.account_iban)
        except CounterpartyRuleError:
            iban = None  # mod-97 right but not a format schwifty knows: kept as another identification
    account = BankAccount(
        tenant_id=tenant_id,
        bank_account_id=new_id("bank_account"),
        name=(statement.account_name or f"{statement.account_bic or 'Bank account'} {named[-4:]}").strip()[
            :200
        ],
        currency=statement.currency,
        iban=iban,
        account_other=None if iban else named,
        bic=statement.account_bic,
        operating=False,
        csv_mapping=None,
        created_from_file=True,
        balance=None,
        balance_date=None,
        created_at=now,
        updated_at=now,
    )
    try:
        return bank.create_account(account)
    except ConflictError as exc:
        # Another import of a file naming the same account created it a moment ago: use that one.
        existing = exc.details.get("existing_id")
        if not isinstance(existing, str):
            raise
        return bank.get_account(tenant_id, existing)
