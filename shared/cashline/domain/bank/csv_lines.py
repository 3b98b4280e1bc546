"""A bank's CSV export read into one `BankStatement` ("csv", a STATEMENT without balances) with a
`CsvMapping` that says which column holds what: banks' CSV exports share no layout, so the mapping is
set up once per bank account and given with every file.

Accepted: UTF-8 with or without BOM, else cp1252 (or the mapping's encoding); `;`, `,`, tab or `|`
(the mapping's, or sniffed); preamble lines before the header (a fixed number, or the first row holding
every mapped column name, compared case- and space-insensitively); quoted fields with delimiters and
line breaks; amounts with a decimal comma or point, an optional thousands separator, a sign in front,
behind ("12,50-") or parentheses; one signed amount column, separate credit/debit columns, or an amount
plus a direction column with its markers; rows whose every mapped field is empty (skipped). Control
characters are dropped from every field.
Refused, `BankFileError` naming "line N, column X": an empty file, a mapped column missing from the
header, a date or amount that cannot be read, a direction marker the mapping does not name, both or
neither of the credit/debit columns filled, an unknown currency; and a file over the byte budget.

Rounding rule (more decimals than the currency's minor unit), as camt's and MT940's: trailing zeros are
exact ("8,8500" EUR is 885), other extra digits round half-even: "12,345" EUR -> 1234 (4 is even, the
half goes down), "12,355" EUR -> 1236, "12,34501" EUR -> 1235 (above the half), "5,5" JPY -> 6.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from cashline.domain.bank.model import (
    BankFileError,
    BankLine,
    BankStatement,
    Direction,
    ReportKind,
    looks_like_iban,
)
from cashline.domain.byte_budget import require_within
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency

NO_CURRENCY = "XXX"  # ISO 4217 "no currency", for a file without lines whose mapping names none
DELIMITERS = (";", ",", "\t", "|")
_THOUSANDS = (".", ",", " ", "'", "\u00a0", "\u202f")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # keeps tab, LF and CR for the reader
_NUMBER = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
_SNIFF_CHARS = 8192


def _key(name: str) -> str:
    """A column name as compared: case- and space-insensitive ("Buchungs tag " == "buchungstag")."""
    return "".join(name.split()).casefold()


@dataclass(frozen=True)
class CsvMapping:
    """Which column holds what (by header name), and how the file writes dates and numbers.

    Amount, one of: `amount` alone (signed: negative is a debit); `credit` and `debit` columns (one of
    them filled per row; a sign is ignored); `amount` plus `direction` with `credit_markers` and
    `debit_markers` (compared case-insensitively, e.g. ("C",)/("D",), ("H",)/("S",)).
    `skip_lines`: preamble lines before the header; None finds the header (first row naming every
    mapped column). `encoding`: None is UTF-8 (BOM or not) with a cp1252 fallback. `currency`: the
    account's, and the lines' when `currency_column` is None or empty. `account`: IBAN or other id.
    """

    booking_date: str
    date_format: str = "%d.%m.%Y"
    value_date: str | None = None
    amount: str | None = None
    credit: str | None = None
    debit: str | None = None
    direction: str | None = None
    credit_markers: tuple[str, ...] = ()
    debit_markers: tuple[str, ...] = ()
    currency_column: str | None = None
    currency: str | None = None
    remittance: tuple[str, ...] = ()
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    end_to_end_id: str | None = None
    bank_reference: str | None = None
    decimal_separator: str = ","
    thousands_separator: str | None = None
    delimiter: str | None = None
    skip_lines: int | None = None
    encoding: str | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        for name, value in self.named_columns():
            if not value.strip():
                raise ValueError(f"{name}: a column name must not be blank")
        if "%" not in self.date_format:
            raise ValueError(f"date_format: {self.date_format!r} has no strftime directive")
        self._check_amount_columns()
        self._check_format()
        if self.currency is not None:
            try:
                object.__setattr__(self, "currency", normalize_currency(self.currency))
            except CurrencyError as exc:
                raise ValueError(f"currency: {exc}") from exc
        if self.currency is None and self.currency_column is None:
            raise ValueError("currency: name a currency or a currency_column")
        if self.account is not None and not self.account.strip():
            raise ValueError("account: must not be blank")

    def _check_format(self) -> None:
        if self.decimal_separator not in (",", "."):
            raise ValueError(f"decimal_separator: {self.decimal_separator!r} is not ',' or '.'")
        if self.thousands_separator is not None and (
            self.thousands_separator not in _THOUSANDS or self.thousands_separator == self.decimal_separator
        ):
            raise ValueError(f"thousands_separator: {self.thousands_separator!r} not usable")
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            raise ValueError(f"delimiter: {self.delimiter!r} is not one of ; , tab |")
        if self.skip_lines is not None and self.skip_lines < 0:
            raise ValueError("skip_lines: must be 0 or more")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError as exc:
                raise ValueError(f"encoding: {self.encoding!r} is unknown") from exc

    def _check_amount_columns(self) -> None:
        if self.amount is None:
            if self.credit is None or self.debit is None:
                raise ValueError("amount: name an amount column, or both credit and debit columns")
            if self.direction is not None:
                raise ValueError("direction: needs an amount column")
        elif self.credit is not None or self.debit is not None:
            raise ValueError("credit: an amount column and credit/debit columns exclude each other")
        markers = {_key(m) for m in self.credit_markers}, {_key(m) for m in self.debit_markers}
        if self.direction is None:
            if self.credit_markers or self.debit_markers:
                raise ValueError("credit_markers: markers need a direction column")
            return
        for name, given in (("credit_markers", markers[0]), ("debit_markers", markers[1])):
            if not given or "" in given:
                raise ValueError(f"{name}: name at least one marker, none blank")
        if markers[0] & markers[1]:
            raise ValueError(f"debit_markers: {sorted(markers[0] & markers[1])} also a credit marker")

    def named_columns(self) -> list[tuple[str, str]]:
        """(field, column name) of every mapped column, in the order they are looked for."""
        single = (
            ("booking_date", self.booking_date),
            ("value_date", self.value_date),
            ("amount", self.amount),
            ("credit", self.credit),
            ("debit", self.debit),
            ("direction", self.direction),
            ("currency_column", self.currency_column),
            ("counterparty_name", self.counterparty_name),
            ("counterparty_iban", self.counterparty_iban),
            ("end_to_end_id", self.end_to_end_id),
            ("bank_reference", self.bank_reference),
        )
        named = [(field, column) for field, column in single if column is not None]
        return named + [("remittance", column) for column in self.remittance]


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]  # column key -> stripped cell ("" when the row is shorter)
    names: dict[str, str]  # column key -> the header's name for it, as the file writes it


def parse_csv(data: bytes, mapping: CsvMapping) -> list[BankStatement]:
    """The CSV export `data` as one `BankStatement` (module docstring: what is accepted and refused)."""
    require_within(len(data), "the CSV file")
    text = _CONTROL.sub("", _decode(data, mapping.encoding))
    if not text.strip():
        raise BankFileError("the CSV file is empty", where="line 1")
    offset = 0
    if mapping.skip_lines:
        physical = text.splitlines(keepends=True)
        offset = min(mapping.skip_lines, len(physical))
        text = "".join(physical[offset:])
    rows = _table(text, mapping, offset)
    lines = tuple(line for row in rows if (line := _line(row, mapping)) is not None)
    days = [line.booking_date for line in lines if line.booking_date is not None]
    account = (mapping.account or "").replace(" ", "").upper()
    iban = account if looks_like_iban(account) else None
    currency = mapping.currency or (lines[0].currency if lines else NO_CURRENCY)
    return [
        BankStatement(
            format="csv",
            kind=ReportKind.STATEMENT,
            currency=currency,
            account_iban=iban,
            account_other=None if iban or mapping.account is None else mapping.account.strip(),
            statement_id=None,
            sequence=None,
            from_date=min(days) if days else None,
            to_date=max(days) if days else None,
            opening_balance=None,
            closing_balance=None,
            lines=lines,
        )
    ]


# --- text, delimiter, header ---------------------------------------------------------------------


def _decode(data: bytes, encoding: str | None) -> str:
    if encoding is not None:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise BankFileError(f"not {encoding} text: {exc.reason}", where=f"byte {exc.start + 1}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # cp1252 is latin-1 plus letters where latin-1 has control codes; its 5 unused bytes are dropped.
        return data.decode("cp1252", errors="ignore")


def _read(text: str, delimiter: str, offset: int) -> list[tuple[int, list[str]]]:
    """Every non-blank row with the file's line number (1-based) where it starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((offset + start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BankFileError(f"CSV not readable: {exc}", where=f"line {offset + start}") from exc
    return rows


def _candidates(text: str, mapping: CsvMapping) -> list[str]:
    if mapping.delimiter is not None:
        return [mapping.delimiter]
    try:
        sniffed = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = max(DELIMITERS, key=text[:_SNIFF_CHARS].count)  # preamble lines may confuse the sniffer
    return [sniffed, *(d for d in DELIMITERS if d != sniffed)]


def _table(text: str, mapping: CsvMapping, offset: int) -> list[_Row]:
    """The data rows after the header (the first row naming every mapped column), mapped cells only."""
    wanted = [_key(column) for _, column in mapping.named_columns()]
    best: tuple[int, int, list[str]] | None = None  # (matches, line, header cells) of the closest row
    for delimiter in _candidates(text, mapping):
        rows = _read(text, delimiter, offset)
        scan = rows[:1] if mapping.skip_lines is not None else rows
        for index, (line, cells) in enumerate(scan):
            keys = [_key(cell) for cell in cells]
            matches = sum(key in keys for key in wanted)
            if matches == len(wanted):
                columns = {key: keys.index(key) for key in wanted}
                names = {key: " ".join(cells[i].split()) for key, i in columns.items()}
                return [_Row(n, _cells(c, columns), names) for n, c in rows[index + 1 :]]
            if best is None or matches > best[0]:
                best = (matches, line, cells)
    assert best is not None  # the text is not blank, so some row was read
    _, line, cells = best
    keys = [_key(cell) for cell in cells]
    missing = next(column for _, column in mapping.named_columns() if _key(column) not in keys)
    raise BankFileError(
        f"the mapped column {missing!r} is not in the header", where=f"line {line}, column {missing}"
    )


def _cells(cells: list[str], columns: dict[str, int]) -> dict[str, str]:
    return {key: cells[i].strip() if i < len(cells) else "" for key, i in columns.items()}


# --- one row -------------------------------------------------------------------------------------


def _line(row: _Row, mapping: CsvMapping) -> BankLine | None:
    if not any(row.cells.values()):
        return None  # every mapped field empty: a spacer or a bank's empty trailer row

    def cell(column: str | None) -> str:
        return row.cells[_key(column)] if column is not None else ""

    def where(column: str) -> str:
        return f"line {row.line}, column {row.names.get(_key(column), column)}"

    booking_date = _date(cell(mapping.booking_date), mapping.date_format, where(mapping.booking_date))
    currency = _currency(
        cell(mapping.currency_column) or mapping.currency,
        where(mapping.currency_column or "(the mapping's currency)"),
    )
    amount, direction = _amount_and_direction(mapping, currency, cell, where)
    remittance = " ".join(" ".join(cell(column).split()) for column in mapping.remittance if cell(column))
    iban = cell(mapping.counterparty_iban).replace(" ", "").upper()
    value_day = cell(mapping.value_date)
    return BankLine(
        amount=amount,
        currency=currency,
        direction=direction,
        booking_date=booking_date,
        value_date=(
            _date(value_day, mapping.date_format, where(mapping.value_date or "")) if value_day else None
        ),
        bank_reference=cell(mapping.bank_reference) or None,
        end_to_end_id=cell(mapping.end_to_end_id) or None,
        remittance=remittance,
        counterparty_name=" ".join(cell(mapping.counterparty_name).split()) or None,
        counterparty_iban=iban if looks_like_iban(iban) else None,
        counterparty_account=(cell(mapping.counterparty_iban) or None)
        if iban and not looks_like_iban(iban)
        else None,
        raw_location=f"line {row.line}",
    )


def _amount_and_direction(
    mapping: CsvMapping,
    currency: str,
    cell: Callable[[str | None], str],
    where: Callable[[str], str],
) -> tuple[int, Direction]:
    if mapping.credit is not None and mapping.debit is not None:
        credit, debit = cell(mapping.credit), cell(mapping.debit)
        credit_value = _decimal(credit, mapping, where(mapping.credit)) if credit else None
        debit_value = _decimal(debit, mapping, where(mapping.debit)) if debit else None
        if credit_value is not None and debit_value is not None and credit_value and debit_value:
            raise BankFileError(
                "an amount in both the credit and the debit column", where=where(mapping.credit)
            )
        if debit_value:  # a non-zero debit
            return _minor(abs(debit_value), currency), Direction.DEBIT
        if credit_value is not None:
            return _minor(abs(credit_value), currency), Direction.CREDIT
        if debit_value is not None:
            return 0, Direction.DEBIT
        raise BankFileError("no amount in the credit or the debit column", where=where(mapping.credit))
    assert mapping.amount is not None  # CsvMapping checked: an amount column or credit and debit
    text = cell(mapping.amount)
    if not text:
        raise BankFileError("no amount", where=where(mapping.amount))
    value = _decimal(text, mapping, where(mapping.amount))
    if mapping.direction is None:
        return _minor(abs(value), currency), Direction.DEBIT if value < 0 else Direction.CREDIT
    marker = _key(cell(mapping.direction))
    if marker in {_key(m) for m in mapping.credit_markers}:
        return _minor(abs(value), currency), Direction.CREDIT
    if marker in {_key(m) for m in mapping.debit_markers}:
        return _minor(abs(value), currency), Direction.DEBIT
    raise BankFileError(
        f"direction {cell(mapping.direction)!r} is none of the markers "
        f"{[*mapping.credit_markers, *mapping.debit_markers]}",
        where=where(mapping.direction),
    )


def _decimal(text: str, mapping: CsvMapping, where: str) -> Decimal:
    """ "-1.234,56", "1.234,56-", "(1,234.56)", "+12" as a Decimal, by the mapping's separators."""
    value = "".join(text.replace("\u00a0", " ").replace("\u202f", " ").split(" "))
    if mapping.thousands_separator is not None:
        value = value.replace("".join(mapping.thousands_separator.split()), "")
    negative = False
    if value.startswith("(") and value.endswith(")"):
        value, negative = value[1:-1], True
    if value[:1] in "+-" and value:
        negative, value = negative or value[0] == "-", value[1:]
    elif value[-1:] in ("+", "-") and value:
        negative, value = negative or value[-1] == "-", value[:-1]
    if mapping.decimal_separator == ",":
        if "." in value:  # a point where the mapping expects a decimal comma: ambiguous, refused
            raise BankFileError(f"amount {text!r} is not a number", where=where)
        value = value.replace(",", ".")
    if not _NUMBER.match(value):
        raise BankFileError(f"amount {text!r} is not a number", where=where)
    try:
        number = Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only what Decimal reads
        raise BankFileError(f"amount {text!r} is not a number", where=where) from exc
    return -number if negative else number


def _minor(value: Decimal, currency: str) -> int:
    """`value` in minor units of `currency`, rounded half-even (module docstring)."""
    exponent = currency_exponent(currency)
    with localcontext() as context:
        context.prec = 60  # a 15-digit amount must never be rounded by the context itself
        return int(value.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN).scaleb(exponent))


def _date(text: str, fmt: str, where: str) -> date:
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError as exc:
        raise BankFileError(f"date {text!r} does not match {fmt!r}", where=where) from exc


def _currency(code: str | None, where: str) -> str:
    if not code:
        raise BankFileError("no currency: the row has none and the mapping names none", where=where)
    try:
        return normalize_currency(code)
    except CurrencyError as exc:
        raise BankFileError(str(exc), where=where) from exc
