"""SWIFT MT940 (end-of-day statement) and MT942 (intraday report) read into `BankStatement`s, one per
message (from a `:20:` to the next, or to a `-` trailer line).

The `mt-940` library parses the fields (`mt940.models.Transactions`, its tags and processors: the
German structured `:86:`, `?00`..`?63` subfields and SEPA keywords EREF, MREF, SVWZ, IBAN, BIC). Here
the file's lines are numbered, the library is fed one field at a time (an error names its line), and
the result is mapped to the model; the Dutch `/KEY/value/` `:86:` (Rabobank, ING, ABN AMRO) is read here.

Accepted: UTF-8 (BOM or not), else cp1252/latin-1; control characters dropped; CRLF, LF, CR or no line
breaks; envelope lines around messages (`ABNANL2A`, `940`, `{1:...}{4:`, `-}`, `-XXX`); a tag split
from its line; wrapped `:61:`/`:86:`; indented tags; spaces for the entry date; lowercase marks; no
`:20:`, balances or `:86:`; an `:86:` about the account after the balances and unknown tags (left out).
Refused, `BankFileError` naming the line: no MT940 field, a field the library cannot read (a date that
does not exist, an amount that is none, a `:61:` without C/D), text after a one-line field, an unknown
currency, balances in two currencies.

Mapping: `:25:` is `account_iban` when IBAN-shaped (alone, after "BIC/", before " EUR"), else
`account_other`; `:20:` the statement id; `:28C:` the sequence ("5/1"); `:60F/M:` opening, `:62F/M:`
closing (signed) and their dates `from_date`/`to_date` (else the lines' span; MT942: the `:13D:` day);
`:13D:`/`:34F:` make an MT942. A `:61:` mark C/D is the direction; RC (a reversed credit: money out) is
a debit and RD a credit, both `reversal`; the entry date's year follows the value date across the year
end (the library: over 330 days apart is the next/previous year); none means the value date (SWIFT
writes it only when it differs); `transaction_code` is the type plus the `:86:` GVC ("NTRF/166"). A
message naming no currency takes the `currency` argument, else "XXX" (ISO 4217 "no currency", 2 decimals).

Rounding rule (more decimals than the currency's minor unit), as camt's: trailing zeros are exact
("8,8500" EUR is 885), other extra digits round half-even: "12,345" EUR -> 1234 (4 is even, the half
goes down), "12,355" EUR -> 1236, "12,34501" EUR -> 1235 (above the half), "5,5" JPY -> 6.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import TYPE_CHECKING, Any

from cashline.domain.bank.model import (
    IBAN_SHAPE,
    BankFileError,
    BankLine,
    BankStatement,
    Direction,
    ReportKind,
    looks_like_iban,
)
from cashline.domain.byte_budget import require_within
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency
from cashline.domain.references import creditor_reference, parse_creditor_references

if TYPE_CHECKING:
    from mt940.models import Transaction, Transactions
    from mt940.tags import Tag

NO_CURRENCY = "XXX"
_TAG = re.compile(r"^:(?P<tag>[0-9]{2}[A-Z]?|NS):")
_LONE_COLON_TAG = re.compile(r"^[0-9]{2}[A-Z]?:")  # the rest of a tag whose ":" ended the line before
_KNOWN = {"13", "20", "21", "25", "28", "34", "60", "61", "62", "64", "65", "86", "90", "NS"}
_MULTI_LINE = {"61", "86", "NS"}  # fields that continue on the next lines; the others are one line
_TERMINATOR = re.compile(r"^-(?:\}.*|XXX)?$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Only for a file without any line break: where the fields start.
_INLINE_TAG = re.compile(r"(?<=\S)(?=:(?:20|21|25|28C?|60[FM]?|61|62[FM]?|64|65|86|13D|34F|90[DC]|NS):)")
_INTRADAY = {"13", "13D", "34F"}
_PLACEHOLDERS = {"NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE"}
_UNTYPED = "\x00"  # marks a :61: without a type code, so the library opens a new line for the next :61:
# The start of a :61: up to its amount (value date, entry date or spaces, mark, funds code), and what
# follows the amount. The library reads at most 15 digits and commas and ignores the rest, so
# "1.234,56" would be read as 1 and a 22-digit amount cut: the amount is checked here first (SWIFT's
# 15d: digits, one decimal comma, at most 15 characters, then the type code or the end).
_SIXTY_ONE = re.compile(
    r"^\s*\d{6}(?:[\d ]{4})?\s*(?:R?[CD]|E[CD])\s*[A-Z]?\s*(?P<amount>[0-9][0-9,]*)(?P<after>.?)",
    re.IGNORECASE,
)
_BIC_SHAPE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_GERMAN = re.compile(r"^\d{3}[?>]\d{2}")  # Triodos writes ">" where the others write "?"
_SUBFIELD_2X = re.compile(r"\?2\d([^?]*)")
_MBANK = re.compile(r"^\d{3} [^;]*;")
_SLASH_KEY = re.compile(
    r"/(EREF|MARF|CSID|BENM|ORDP|NAME|IBAN|BIC|REMI|ISDT|CNTP|TRTP|PURP|RTRN|ULTC|ULTD|ULTB|ADDR"
    r"|SVCL|CDTRREFTP|CDTRREF|ISSR|EXCH|OCMT|CHGS|ACCW|BUSP|RTYP|PREF)/"
)
_BALANCE_TAGS = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING_TAGS = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")


@dataclass
class _Field:
    tag: str  # "61", "60F", "86"
    line: int  # the file's line (1-based) where the tag stands
    lines: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"line {self.line}"


def parse_mt940(data: bytes, *, currency: str | None = None) -> list[BankStatement]:
    """Every MT940/MT942 message of `data` as a `BankStatement` (module docstring: what is accepted,
    refused, and how fields map). `currency`: the account's, for messages that name none."""
    require_within(len(data), "the MT940 file")
    import mt940  # defer: the library (and importlib.metadata behind it) loads on the first statement

    messages = _messages(_decode(data))
    if not messages:
        raise BankFileError("not an MT940/MT942 file: no field tags such as :20: or :61:", where="line 1")
    return [_statement(fields, _collection(mt940), currency) for fields in messages]


# --- the file's lines and messages --------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # cp1252 is latin-1 plus letters where latin-1 has control codes; its 5 unused bytes are dropped.
        text = data.decode("cp1252", errors="ignore")
    return _CONTROL.sub("", text.replace("\t", " "))


def _lines(text: str) -> list[tuple[int, str]]:
    raw = text.splitlines()
    if len(raw) == 1:
        raw = _INLINE_TAG.sub("\n", raw[0]).split("\n")
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(raw, start=1):
        line = line.rstrip()
        if lines and lines[-1][1].strip() == ":" and _LONE_COLON_TAG.match(line):
            lines[-1] = (lines[-1][0], ":" + line)  # ":" and "86:..." on two lines
            continue
        lines.append((number, line))
    return lines


def _messages(text: str) -> list[list[_Field]]:
    """The fields of each message: a new message at each `:20:` and after each trailer line. Text before
    the first field and between a trailer and the next field is envelope, skipped; text after a field
    that does not continue over lines cannot be understood."""
    messages: list[list[_Field]] = []
    current: list[_Field] = []
    outside = True
    for number, line in _lines(text):
        tag = _TAG.match(line.lstrip())
        if tag:
            if tag["tag"] == "20" and current:
                messages.append(current)
                current = []
            elif outside and messages and not current and tag["tag"] != "20":
                current = messages.pop()  # a "-" line inside a message: only :20: starts the next one
            current.append(_Field(tag["tag"], number, [line.lstrip()[tag.end() :]]))
            outside = False
        elif not line.strip():
            continue
        elif _TERMINATOR.match(line.strip()):
            if current:
                messages.append(current)
            current, outside = [], True
        elif not outside and (current[-1].tag[:2] in _MULTI_LINE or current[-1].tag[:2] not in _KNOWN):
            current[-1].lines.append(line)
        elif not outside:
            raise BankFileError(
                f"text after the one-line field :{current[-1].tag}: {line.strip()[:40]!r}",
                where=f"line {number}",
            )
    if current:
        messages.append(current)
    return messages


# --- the library --------------------------------------------------------------------------------


def _collection(mt940: Any) -> Transactions:
    processors = mt940.models.Transactions.DEFAULT_PROCESSORS
    fixup = [mt940.processors.date_fixup_pre_processor]  # 30 February (some banks' month end) -> 28/29
    collection: Transactions = mt940.models.Transactions(
        processors={
            "pre_statement": [*processors["pre_statement"], *fixup],
            **{f"pre_{slug}": fixup for slug in (*_BALANCE_TAGS, *_CLOSING_TAGS)},
            "pre_transaction_details": [_details_pre_processor(mt940)],
        },
        # All of the library's opt-in fixes: :86: kept whole, ?31 as the IBAN, RC signed, lower-case marks.
        options=mt940.Options.all(),
    )
    return collection


def _details_pre_processor(mt940: Any) -> Any:
    def prepare(transactions: Transactions, tag: Tag, tag_dict: dict[str, Any], *args: Any) -> dict[str, Any]:
        text = tag_dict.get("transaction_details") or ""
        tag_dict["raw_details"] = text
        if _GERMAN.match(text.lstrip()):
            # " 020?00..." is the structured form too, and so is Triodos' "000>20...".
            tag_dict["transaction_details"] = re.sub(r">(?=\d{2})", "?", text.lstrip())
        elif _MBANK.match(text):
            tag_dict = mt940.processors.mBank_set_transaction_code(transactions, tag, tag_dict)
        return tag_dict

    return prepare


def _feed(
    collection: Transactions, fields: list[_Field]
) -> tuple[list[tuple[_Field, Transaction]], set[str]]:
    """Each field through the library; the :61: lines with their fields, and the tags seen."""
    located: list[tuple[_Field, Transaction]] = []
    seen: set[str] = set()
    previous = ""
    for item in fields:
        tag = item.tag
        if tag[:2] not in _KNOWN or (tag == "86" and previous not in _MULTI_LINE):
            continue  # an unknown tag, or an :86: about the account (after the balances): nothing to map
        seen.add(tag)
        previous = tag
        lines = collection.transactions
        if tag == "61" and lines and not lines[-1].data.get("id"):
            lines[-1].data["id"] = _UNTYPED
        if tag == "61":
            _check_amount(item)
        count = len(lines)
        try:
            collection.parse(f":{tag}:" + "\n".join(item.lines))
        except (RuntimeError, ValueError, ArithmeticError, LookupError, TypeError) as exc:
            raise BankFileError(
                f"field :{tag}: not understood: {item.lines[0][:60]!r}", where=item.where
            ) from exc
        if tag == "61":
            if len(collection.transactions) != count + 1:
                raise BankFileError("a :61: statement line not understood", where=item.where)
            located.append((item, collection.transactions[-1]))
    return located, seen


def _check_amount(item: _Field) -> None:
    start = _SIXTY_ONE.match(item.lines[0]) if item.lines else None
    if start is None:
        return  # the library says what is wrong with the field
    amount, after = start.group("amount"), start.group("after")
    if len(amount) > 15 or amount.count(",") > 1 or (after and not (after.isalpha() or after in " /")):
        raise BankFileError(
            f"a :61: amount MT940 cannot hold (digits and one decimal comma, at most 15): "
            f"{(amount + after)[:30]!r}",
            where=item.where,
        )


# --- mapping to the model -----------------------------------------------------------------------


def _statement(fields: list[_Field], collection: Transactions, fallback: str | None) -> BankStatement:
    located, seen = _feed(collection, fields)
    data = collection.data
    lines_of = {item.tag: item for item in fields}
    where = next((lines_of[t].where for t in ("60F", "60M", "60", "34F") if t in lines_of), fields[0].where)
    closing_at = next((lines_of[t].where for t in ("62F", "62M", "62") if t in lines_of), where)
    currency = _currency(collection.currency or fallback or NO_CURRENCY, where)
    opening, from_date = _balance(data, _BALANCE_TAGS, currency, where)
    closing, to_date = _balance(data, _CLOSING_TAGS, currency, closing_at)
    lines = tuple(_line(item, tx.data, currency) for item, tx in located)
    days = [day for line in lines if (day := line.booking_date or line.value_date) is not None]
    intraday = bool(seen & _INTRADAY)
    created = data.get("date")
    if intraday and isinstance(created, datetime):
        to_date = created.date()
    iban, other, bic = _account(str(data.get("account_identification") or ""))
    number, sequence = data.get("statement_number"), data.get("sequence_number")
    return BankStatement(
        format="mt942" if intraday else "mt940",
        kind=ReportKind.INTRADAY if intraday else ReportKind.STATEMENT,
        currency=currency,
        account_iban=iban,
        account_other=other,
        account_bic=bic,
        statement_id=_clean(data.get("transaction_reference")),
        sequence=f"{number}/{sequence}" if number and sequence else _clean(number),
        from_date=from_date or (min(days) if days else to_date),
        to_date=to_date or (max(days) if days else from_date),
        opening_balance=opening,
        closing_balance=closing,
        lines=lines,
    )


def _currency(code: str, where: str) -> str:
    try:
        return normalize_currency(code)
    except CurrencyError as exc:
        raise BankFileError(str(exc), where=where) from exc


def _minor(value: Decimal, currency: str) -> int:
    """`value` in minor units of `currency`, rounded half-even (module docstring)."""
    exponent = currency_exponent(currency)
    with localcontext() as context:
        context.prec = 60  # a 15-digit amount must never be rounded by the context itself
        return int(value.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN).scaleb(exponent))


def _balance(
    data: dict[str, Any], keys: tuple[str, ...], currency: str, where: str
) -> tuple[int | None, date | None]:
    for key in keys:
        balance = data.get(key)
        amount = getattr(balance, "amount", None)
        if amount is None or not hasattr(amount, "amount"):
            continue
        if amount.currency and _currency(amount.currency, where) != currency:
            raise BankFileError(
                f"a balance in {amount.currency}, the statement is in {currency}", where=where
            )
        day = getattr(balance, "date", None)
        return _minor(amount.amount, currency), _day(day)
    return None, None


def _day(value: Any) -> date | None:
    return date(value.year, value.month, value.day) if isinstance(value, date) else None


def _line(item: _Field, data: dict[str, Any], currency: str) -> BankLine:
    mark = str(data.get("status") or "").upper()
    reversal = mark.startswith("R")
    credit = mark.endswith("C") != reversal  # C and RD put money in; D and RC take it out
    value_date = _day(data.get("date"))
    details = _details(data)  # the BankLine fields an :86: gives, and "gvc"
    kind, gvc = data.get("id"), details.pop("gvc", None)
    code = None if kind == _UNTYPED else _clean(kind)
    extra = str(data.get("extra_details") or "").replace(" ", "").upper()
    if not details.get("counterparty_iban") and looks_like_iban(extra):
        details["counterparty_iban"] = extra  # Rabobank: the counterparty's IBAN on the :61:'s second line
    return BankLine(
        amount=_minor(abs(data["amount"].amount), currency),
        currency=currency,
        direction=Direction.CREDIT if credit else Direction.DEBIT,
        booking_date=_day(data.get("entry_date")) or value_date,
        value_date=value_date,
        reversal=reversal,
        bank_reference=_clean(data.get("bank_reference")),
        transaction_code=f"{code or ''}/{gvc}" if gvc else code,
        **details,
        raw_location=item.where,
    )


def _details(data: dict[str, Any]) -> dict[str, Any]:
    if "raw_details" not in data:
        return {}
    if "transaction_details" not in data:  # the library read the German structured form
        return _german(data)
    lines = str(data["transaction_details"]).split("\n")
    joined = "".join(lines)  # the structured forms wrap at a fixed width, inside words
    if _SLASH_KEY.match(joined.lstrip()):
        return _dutch(joined.strip())
    remittance = _words(" ".join(lines))
    gvc = data.get("transaction_code")  # mBank's
    return {"remittance": remittance, "creditor_reference": _rf(remittance), "gvc": gvc and str(gvc)}


def _german(data: dict[str, Any]) -> dict[str, Any]:
    raw = "".join(line.strip("\r") for line in str(data["raw_details"]).split("\n"))
    purpose = _clean(data.get("purpose")) or "".join(_SUBFIELD_2X.findall(raw))
    remittance = _words(" ".join(filter(None, (purpose, _clean(data.get("additional_purpose"))))))
    end_to_end = _clean(data.get("end_to_end_reference"))
    bank_code, account = _clean(data.get("applicant_bin")), _clean(data.get("applicant_iban"))
    ibans = [v for v in (account, _clean(data.get("gvc_applicant_iban"))) if v and looks_like_iban(v)]
    bics = [v for v in (bank_code, _clean(data.get("gvc_applicant_bin"))) if v and _BIC_SHAPE.match(v)]
    other = None
    if account and not ibans:
        other = f"{bank_code}/{account}" if bank_code and not bics else account
    return {
        "remittance": remittance,
        "end_to_end_id": end_to_end,
        "mandate_id": _clean(data.get("additional_position_reference")),
        "creditor_reference": _rf(f"{remittance} {end_to_end or ''}"),
        "counterparty_name": _words(str(data.get("applicant_name") or "")) or None,
        "counterparty_iban": ibans[0].replace(" ", "").upper() if ibans else None,
        "counterparty_account": other,
        "counterparty_bic": bics[0] if bics else None,
        "gvc": _clean(data.get("transaction_code")),
    }


def _dutch(text: str) -> dict[str, Any]:
    """The `/KEY/value/` form: /EREF/, /MARF/ mandate, /NAME/, /IBAN/, /BIC/, /REMI/ text (USTD) or
    structured (STRD, CDTRREF), /CNTP/ iban/bic/name/city."""
    values: dict[str, str] = {}
    keys = list(_SLASH_KEY.finditer(text))
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        values.setdefault(key.group(1), text[key.end() : end].strip("/ "))
    counterparty = [*values.get("CNTP", "").split("/"), "", "", ""]
    remittance = values.get("REMI", "")
    structured = values.get("CDTRREF")
    if remittance.startswith("STRD/"):
        structured = remittance.rsplit("/", 1)[-1]
    remittance = _words(remittance.removeprefix("USTD//").removeprefix("USTD/"))
    iban = values.get("IBAN") or counterparty[0]
    bic = values.get("BIC") or counterparty[1]
    return {
        "remittance": remittance,
        "end_to_end_id": _clean(values.get("EREF")),
        "mandate_id": _clean(values.get("MARF")),
        "creditor_reference": _clean(structured) or _rf(remittance),
        "counterparty_name": _words(values.get("NAME") or counterparty[2]) or None,
        "counterparty_iban": iban.upper() if looks_like_iban(iban) else None,
        "counterparty_account": None if looks_like_iban(iban) or not iban else iban,
        "counterparty_bic": bic.upper() if _BIC_SHAPE.match(bic.upper()) else None,
    }


def _account(raw: str) -> tuple[str | None, str | None, str | None]:
    """(IBAN, other identification, BIC) of a :25: account: "DE89...", "BIC/IBAN", "NL91... EUR". The
    bank's own field: an IBAN's shape is enough here (the service validates the account it creates)."""
    text = raw.strip()
    compact = text.replace(" ", "").upper()
    head, _, tail = compact.partition("/")
    words = text.upper().split()
    if len(words) > 1 and IBAN_SHAPE.match(words[0]):
        return words[0], None, None
    if IBAN_SHAPE.match(compact):
        return compact, None, None
    if tail and _BIC_SHAPE.match(head) and IBAN_SHAPE.match(tail):
        return tail, None, head
    return None, text or None, None


def _rf(text: str) -> str | None:
    found = parse_creditor_references(text)
    return creditor_reference(found[0]) if found else None


def _words(text: str) -> str:
    return " ".join(text.split())


def _clean(value: Any) -> str | None:
    """A reference as text; None for nothing or a placeholder ("NONREF", "NOTPROVIDED")."""
    if value is None:
        return None
    text = _words(str(value).split("\n")[0])
    return None if not text or text.upper() in _PLACEHOLDERS else text
