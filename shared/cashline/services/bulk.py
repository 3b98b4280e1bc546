"""CSV in and out: `POST /v1/imports` (counterparties or invoices, row by row) and the invoice export.

An import checks every row first. Without `partial=true` a file with any bad row writes nothing and
the answer lists each row's problem; with it, the good rows are written and the bad ones reported.
Rows that exist already (same counterparty and number, same external reference or tax id) are
reported as duplicates with the existing id, never written twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from cashline.dal.invoice_queries import InvoiceFilter
from cashline.dal.party_repository import UNIQUE_FIELDS, CounterpartyRepository, claimed_by
from cashline.domain.invoices import Direction, Invoice
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency
from cashline.errors import CashlineError, ValidationError
from cashline.services import invoices as invoice_service
from cashline.services.counterparties import new_counterparty
from cashline.services.invoices import NewInvoice

MAX_ROWS = 5_000
MAX_EXPORT_ROWS = 50_000
COUNTERPARTY_COLUMNS = {
    "name",
    "email",
    "phone",
    "country",
    "preferred_language",
    "segment",
    "tax_id",
    "iban",
    "external_reference",
    "address_line1",
    "address_postal_code",
    "address_city",
}
INVOICE_COLUMNS = {
    "direction",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "amount",
    "description",
    "counterparty_id",
    "counterparty_external_reference",
    "counterparty_name",
    "counterparty_tax_id",
    "counterparty_email",
}
REQUIRED = {
    "counterparties": {"name"},
    "invoices": {"direction", "number", "issue_date", "due_date", "currency", "amount"},
}

counterparties = CounterpartyRepository()


@dataclass
class RowResult:
    row: int  # 1 = the header line, so the first data row is 2, as a spreadsheet shows it
    status: Literal["created", "duplicate", "error", "valid"]
    id: str | None = None
    field: str | None = None
    message: str | None = None


@dataclass
class ImportReport:
    kind: str
    partial: bool
    rows: list[RowResult] = field(default_factory=list)
    written: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


class RowError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _read(data: bytes, kind: str) -> list[dict[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("the CSV must be UTF-8", field="body") from exc
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = {c.strip() for c in reader.fieldnames or []}
    allowed = COUNTERPARTY_COLUMNS if kind == "counterparties" else INVOICE_COLUMNS
    unknown = sorted(columns - allowed)
    if unknown:
        raise ValidationError(
            f"unknown column {unknown[0]!r}; known: {', '.join(sorted(allowed))}", field=unknown[0]
        )
    missing = sorted(REQUIRED[kind] - columns)
    if missing:
        raise ValidationError(f"missing column {missing[0]!r}", field=missing[0])
    rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"at most {MAX_ROWS} rows per file", field="body")
    return rows


def _date(row: dict[str, str], name: str) -> date:
    try:
        return date.fromisoformat(row[name])
    except (KeyError, ValueError) as exc:
        raise RowError(name, "expected a date as YYYY-MM-DD") from exc


def minor_units(text: str, currency: str, name: str = "amount") -> int:
    """'1234.56' EUR -> 123456: exact, and refused when finer than the currency's minor unit."""
    try:
        value = Decimal(text.replace(" ", ""))
    except InvalidOperation as exc:
        raise RowError(name, "expected a decimal amount like 1234.56") from exc
    scaled = value.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise RowError(name, f"{currency} has {currency_exponent(currency)} decimals")
    return int(scaled)


def _invoice_row(row: dict[str, str], names: dict[str, dict[str, Any]]) -> NewInvoice:
    try:
        direction = Direction(row.get("direction", "").lower())
    except ValueError as exc:
        raise RowError("direction", "expected receivable or payable") from exc
    try:
        currency = normalize_currency(row.get("currency", ""))
    except CurrencyError as exc:
        raise RowError("currency", str(exc)) from exc
    if not row.get("number"):
        raise RowError("number", "required")
    counterparty: dict[str, Any] | None = None
    if not row.get("counterparty_id"):
        name = row.get("counterparty_name") or row.get("counterparty_external_reference")
        if not name:
            raise RowError(
                "counterparty_name", "give counterparty_id, counterparty_external_reference or _name"
            )
        counterparty = {"name": name}
        for column, key in (
            ("counterparty_external_reference", "external_reference"),
            ("counterparty_tax_id", "tax_id"),
            ("counterparty_email", "email"),
        ):
            if row.get(column):
                counterparty[key] = row[column]
        counterparty = names.setdefault(
            name.casefold(), counterparty
        )  # one new counterparty per name and file
    amount = minor_units(row.get("amount", ""), currency)
    if amount <= 0:
        raise RowError("amount", "must be positive")
    return NewInvoice(
        direction=direction,
        number=row["number"],
        issue_date=_date(row, "issue_date"),
        due_date=_date(row, "due_date"),
        currency=currency,
        counterparty_id=row.get("counterparty_id") or None,
        counterparty=counterparty,
        amount_due=amount,
        description=row.get("description") or None,
    )


def _counterparty_values(row: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in row.items() if v and not k.startswith("address_")}
    if row.get("address_line1"):
        values["address"] = {
            "line1": row["address_line1"],
            **({"postal_code": row["address_postal_code"]} if row.get("address_postal_code") else {}),
            **({"city": row["address_city"]} if row.get("address_city") else {}),
        }
    return values


def import_csv(
    tenant_id: str, data: bytes, *, kind: str, partial: bool, actor: str, now: datetime
) -> ImportReport:
    if kind not in REQUIRED:
        raise ValidationError("type must be counterparties or invoices", field="type")
    rows = _read(data, kind)
    report = ImportReport(kind=kind, partial=partial)
    tenant = invoice_service.tenants.get(tenant_id)
    planned: list[tuple[RowResult, Any]] = []
    seen: dict[str, int] = {}
    names: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(rows, start=2):
        result = RowResult(row=number, status="valid")
        report.rows.append(result)
        try:
            if kind == "counterparties":
                candidate: Any = new_counterparty(tenant_id, _counterparty_values(row), now=now)
                keys = [f"{f}:{getattr(candidate, f)}" for f in UNIQUE_FIELDS if getattr(candidate, f)]
                existing = next(
                    (
                        claimed_by(tenant_id, scope, getattr(candidate, f))
                        for f, scope in UNIQUE_FIELDS.items()
                        if getattr(candidate, f) and claimed_by(tenant_id, scope, getattr(candidate, f))
                    ),
                    None,
                )
            else:
                candidate = invoice_service.prepare_invoice(
                    tenant, _invoice_row(row, names), now=now, source="csv"
                )
                keys = [claim.value for claim in candidate.claims]
                existing = claimed_by(tenant_id, "INVNO", candidate.claims[0].value)
        except RowError as exc:
            result.status, result.field, result.message = "error", exc.field, exc.message
            continue
        except CashlineError as exc:
            result.status, result.field, result.message = "error", exc.field, exc.message
            continue
        earlier = next((seen[k] for k in keys if k in seen), None)
        if existing or earlier:
            result.status, result.id = "duplicate", existing
            result.message = f"same as row {earlier}" if earlier else "exists already"
            continue
        seen.update(dict.fromkeys(keys, number))
        planned.append((result, candidate))
    if report.count("error") and not partial:
        return report  # nothing written: `written` stays False and the rows say why
    report.written = True
    for result, candidate in planned:
        _write(result, candidate, kind, actor)
    return report


def _write(result: RowResult, candidate: Any, kind: str, actor: str) -> None:
    try:
        if kind == "counterparties":
            result.id = counterparties.create(candidate).counterparty_id
        else:
            result.id = invoice_service.store_prepared(candidate, actor=actor).invoice_id
        result.status = "created"
    except CashlineError as exc:  # a row created meanwhile by someone else
        result.status, result.field, result.message = "duplicate", exc.field, exc.message
        result.id = str(exc.details.get("existing_id")) if exc.details.get("existing_id") else None


EXPORT_COLUMNS = [
    "id",
    "direction",
    "kind",
    "number",
    "status",
    "counterparty_id",
    "counterparty_name",
    "segment",
    "issue_date",
    "due_date",
    "currency",
    "subtotal",
    "tax",
    "amount_due",
    "amount_paid",
    "amount_outstanding",
    "description",
]


def _decimal_text(amount: int, currency: str) -> str:
    return str(Decimal(amount).scaleb(-currency_exponent(currency)))


def export_rows(tenant_id: str, invoice_filter: InvoiceFilter) -> Iterator[Invoice]:
    cursor: str | None = None
    produced = 0
    while True:
        page = invoice_service.list_invoices(tenant_id, invoice_filter, limit=100, starting_after=cursor)
        for invoice in page.items:
            produced += 1
            if produced > MAX_EXPORT_ROWS:
                raise ValidationError(
                    f"more than {MAX_EXPORT_ROWS} invoices match; narrow the filter", field="body"
                )
            yield invoice
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_csv(tenant_id: str, invoice_filter: InvoiceFilter) -> str:
    """The filtered list as CSV; amounts as decimals in major units (what a spreadsheet expects)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for i in export_rows(tenant_id, invoice_filter):
        writer.writerow(
            [
                i.invoice_id,
                i.direction.value,
                i.document_kind.value,
                i.number,
                i.status.value,
                i.counterparty_id,
                i.counterparty_name,
                i.segment or "",
                i.issue_date.isoformat(),
                i.due_date.isoformat(),
                i.currency,
                _decimal_text(i.subtotal, i.currency),
                _decimal_text(i.tax, i.currency),
                _decimal_text(i.amount_due, i.currency),
                _decimal_text(i.amount_paid, i.currency),
                _decimal_text(i.amount_outstanding, i.currency),
                i.description or "",
            ]
        )
    return out.getvalue()
