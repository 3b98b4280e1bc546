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
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from cashline.dal.party_repository import UNIQUE_FIELDS, CounterpartyRepository, claimed_by
from cashline.domain.access import Tenant
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, compressed_format, megabytes
from cashline.domain.counterparties import Counterparty, normalize_tax_id
from cashline.domain.import_reports import ImportReport, RowResult
from cashline.domain.invoices import Invoice, InvoiceFilter, NewInvoice
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency
from cashline.errors import CashlineError, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError
from cashline.schemas.common import field_of
from cashline.schemas.invoices import CreateInvoiceRequest
from cashline.schemas.parties import CreateCounterpartyRequest
from cashline.services import invoices as invoice_service
from cashline.services.counterparties import new_counterparty
from cashline.services.tenancy import tenants

MAX_ROWS = 5_000
MAX_CSV_BYTES = MAX_DECOMPRESSED_BYTES
# The csv module builds a whole row (one string per cell) before we see it: a row is bounded too.
MAX_ROW_CHARS = 256 * 1024
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


class RowError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _read(data: bytes, kind: str) -> list[dict[str, str]]:
    _refuse_oversize_or_compressed(data)
    # Decoded as it is read, so the file is never held a second time as one (4-byte-wide) string.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        return _rows(text, kind)
    except UnicodeDecodeError as exc:
        raise ValidationError("the CSV must be UTF-8", field="body") from exc
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KB limit
        raise ValidationError(f"unreadable CSV: {exc}", field="body") from exc


def _refuse_oversize_or_compressed(data: bytes) -> None:
    archive = compressed_format(data)
    if archive:
        raise UnsupportedMediaTypeError(f"the body is a {archive} archive: send the CSV itself", field="body")
    if len(data) > MAX_CSV_BYTES:
        raise PayloadTooLargeError(f"the CSV is more than {megabytes(MAX_CSV_BYTES)}", field="body")


def _rows(text: io.TextIOWrapper, kind: str) -> list[dict[str, str]]:
    sample = text.read(4096)
    text.seek(0)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    lines = _BoundedRows(text)
    reader = csv.DictReader(lines, dialect=dialect)
    columns = {c.strip() for c in reader.fieldnames or []}
    lines.row_done()  # the header is read
    allowed = COUNTERPARTY_COLUMNS if kind == "counterparties" else INVOICE_COLUMNS
    unknown = sorted(columns - allowed)
    if unknown:
        raise ValidationError(
            f"unknown column {unknown[0]!r}; known: {', '.join(sorted(allowed))}", field=unknown[0]
        )
    missing = sorted(REQUIRED[kind] - columns)
    if missing:
        raise ValidationError(f"missing column {missing[0]!r}", field=missing[0])
    rows: list[dict[str, str]] = []
    for row in reader:
        lines.row_done()
        # Stopped at the first row too many: the rest of the file is never read into rows.
        if len(rows) == MAX_ROWS:
            raise PayloadTooLargeError(
                f"more than {MAX_ROWS} rows: at most {MAX_ROWS} per file", field="body"
            )
        rows.append({k.strip(): (v or "").strip() for k, v in row.items() if k})
    return rows


class _BoundedRows:
    """Feeds the csv reader line by line and stops a row (quoted newlines included) past MAX_ROW_CHARS."""

    def __init__(self, text: io.TextIOWrapper):
        self._lines = iter(text)
        self._row_chars = 0

    def __iter__(self) -> _BoundedRows:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self._row_chars += len(line)
        if self._row_chars > MAX_ROW_CHARS:
            raise PayloadTooLargeError(f"a CSV row is longer than {MAX_ROW_CHARS // 1024} KB", field="body")
        return line

    def row_done(self) -> None:
        self._row_chars = 0


def minor_units(text: str, currency: str, name: str = "amount") -> int:
    """'1234.56' EUR -> 123456: exact, and refused when finer than the currency's minor unit."""
    try:
        value = Decimal(text.replace(" ", ""))
    except InvalidOperation as exc:
        raise RowError(name, "expected a decimal amount like 1234.56") from exc
    if not value.is_finite() or abs(value) >= 10**12:
        raise RowError(name, "expected a finite amount below 10^12")
    scaled = value.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise RowError(name, f"{currency} has {currency_exponent(currency)} decimals")
    return int(scaled)


# Where a request model's field comes from in a CSV row, for error messages that name the column.
_COLUMN_OF = {
    "amount_due": "amount",
    "counterparty.id": "counterparty_id",
    "counterparty.name": "counterparty_name",
    "counterparty.external_reference": "counterparty_external_reference",
    "counterparty.tax_id": "counterparty_tax_id",
    "counterparty.email": "counterparty_email",
}


def _validated(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """The same checks as the JSON API (lengths, formats, ranges), with errors naming the column."""
    try:
        return model.model_validate(values)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        loc = field_of(first) or ""
        raise RowError(_COLUMN_OF.get(loc, loc or "row"), str(first.get("msg"))) from exc


def _invoice_request(row: dict[str, str]) -> CreateInvoiceRequest:
    try:
        currency = normalize_currency(row.get("currency", ""))
    except CurrencyError as exc:
        raise RowError("currency", str(exc)) from exc
    counterparty: dict[str, Any] = {}
    if row.get("counterparty_id"):
        counterparty = {"id": row["counterparty_id"]}
    else:
        for column, key in (
            ("counterparty_name", "name"),
            ("counterparty_external_reference", "external_reference"),
            ("counterparty_tax_id", "tax_id"),
            ("counterparty_email", "email"),
        ):
            if row.get(column):
                counterparty[key] = row[column]
        counterparty.setdefault("name", counterparty.get("external_reference", ""))
        if not counterparty["name"]:
            raise RowError(
                "counterparty_name", "give counterparty_id, counterparty_external_reference or _name"
            )
    values = {
        "direction": row.get("direction", "").lower(),
        "number": row.get("number", ""),
        "issue_date": row.get("issue_date", ""),
        "due_date": row.get("due_date", ""),
        "currency": currency,
        "amount_due": minor_units(row.get("amount", ""), currency),
        "counterparty": counterparty,
        "description": row.get("description") or None,
    }
    request: CreateInvoiceRequest = _validated(CreateInvoiceRequest, values)
    return request


class FileCounterparties:
    """One file's counterparties: rows naming the same one share it, and new ones are created once,
    before the invoices that need them. Matched by id, external reference, tax id, then exact name."""

    def __init__(self, tenant_id: str, now: datetime):
        self.tenant_id = tenant_id
        self.now = now
        self.known: dict[str, Counterparty] = {}
        self.new: dict[str, Counterparty] = {}

    def resolve(self, new: NewInvoice) -> Counterparty:
        if new.counterparty_id:
            try:
                return counterparties.get_profile(self.tenant_id, new.counterparty_id)
            except CashlineError as exc:
                raise RowError("counterparty_id", "counterparty not found") from exc
        values = dict(new.counterparty or {})
        if values.get("tax_id"):
            values["tax_id"] = normalize_tax_id(str(values["tax_id"]))  # claims hold the normal form
        keys = [f"{f}:{values[f]}" for f in ("external_reference", "tax_id") if values.get(f)]
        keys.append(f"name:{str(values.get('name', '')).casefold()}")
        for key in keys:
            if key in self.known:
                return self.known[key]
        found = self._existing(values)
        if found is None:
            try:
                found = new_counterparty(self.tenant_id, values, now=self.now)
            except CashlineError as exc:
                raise RowError(
                    _COLUMN_OF.get(f"counterparty.{exc.field}", "counterparty_name"), exc.message
                ) from exc
            self.new[found.counterparty_id] = found
        self.known.update(dict.fromkeys(keys, found))
        return found

    def _existing(self, values: dict[str, Any]) -> Counterparty | None:
        for field_name, scope in UNIQUE_FIELDS.items():
            holder = (
                claimed_by(self.tenant_id, scope, str(values[field_name])) if values.get(field_name) else None
            )
            if holder:
                return counterparties.get_profile(self.tenant_id, holder)
        if values.get("external_reference") or values.get("tax_id"):
            return None  # identified by a reference nobody holds yet: a new counterparty
        same_name = counterparties.find_by_name(self.tenant_id, str(values["name"]))
        if len(same_name) > 1:
            raise RowError("counterparty_name", "several counterparties have this name; give counterparty_id")
        return same_name[0] if same_name else None


def _plan_counterparty(
    tenant_id: str, row: dict[str, str], now: datetime
) -> tuple[Any, list[str], str | None]:
    values: dict[str, Any] = {k: v for k, v in row.items() if v and not k.startswith("address_")}
    if row.get("address_line1"):
        values["address"] = {
            k: v
            for k, v in {
                "line1": row["address_line1"],
                "postal_code": row.get("address_postal_code"),
                "city": row.get("address_city"),
            }.items()
            if v
        }
    request = _validated(CreateCounterpartyRequest, {"name": "", **values})
    candidate = new_counterparty(tenant_id, request.model_dump(exclude_none=True), now=now)
    keys = [f"{f}:{getattr(candidate, f)}" for f in UNIQUE_FIELDS if getattr(candidate, f)]
    existing = next(
        (
            holder
            for f, scope in UNIQUE_FIELDS.items()
            if getattr(candidate, f)
            for holder in [claimed_by(tenant_id, scope, getattr(candidate, f))]
            if holder
        ),
        None,
    )
    return candidate, keys, existing


def _plan_invoice(
    tenant: Tenant, row: dict[str, str], files: FileCounterparties, now: datetime
) -> tuple[Any, list[str], str | None]:
    new = _invoice_request(row).to_new_invoice()
    prepared = invoice_service.prepare_invoice(
        tenant, new, now=now, source="csv", resolved=files.resolve(new)
    )
    keys = [claim.value for claim in prepared.claims]
    return prepared, keys, claimed_by(tenant.tenant_id, "INVNO", prepared.claims[0].value)


def import_csv(
    tenant_id: str, data: bytes, *, kind: str, partial: bool, actor: str, now: datetime
) -> ImportReport:
    if kind not in REQUIRED:
        raise ValidationError("type must be counterparties or invoices", field="type")
    rows = _read(data, kind)
    report = ImportReport(kind=kind, partial=partial)
    tenant = tenants.get(tenant_id)
    files = FileCounterparties(tenant_id, now)
    planned: list[tuple[RowResult, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        result = RowResult(row=number, status="valid")
        report.rows.append(result)
        try:
            if kind == "counterparties":
                candidate, keys, existing = _plan_counterparty(tenant_id, row, now)
            else:
                candidate, keys, existing = _plan_invoice(tenant, row, files, now)
        except RowError as exc:
            result.status, result.field, result.message = "error", exc.field, exc.message
            continue
        except CashlineError as exc:
            result.status, result.field, result.message = (
                "error",
                _COLUMN_OF.get(exc.field or "", exc.field),
                exc.message,
            )
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
    needed = {prepared.invoice.counterparty_id for _, prepared in planned} if kind == "invoices" else set()
    for counterparty in files.new.values():
        if counterparty.counterparty_id in needed:
            counterparties.create(counterparty)
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


def _cell(text: str | None) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR) is quoted (CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text or ""


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
                _cell(i.number),
                i.status.value,
                i.counterparty_id,
                _cell(i.counterparty_name),
                _cell(i.segment),
                i.issue_date.isoformat(),
                i.due_date.isoformat(),
                i.currency,
                _decimal_text(i.subtotal, i.currency),
                _decimal_text(i.tax, i.currency),
                _decimal_text(i.amount_due, i.currency),
                _decimal_text(i.amount_paid, i.currency),
                _decimal_text(i.amount_outstanding, i.currency),
                _cell(i.description),
            ]
        )
    return out.getvalue()
