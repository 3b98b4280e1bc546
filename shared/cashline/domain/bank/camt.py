"""ISO 20022 bank-to-customer messages (camt.052 report, camt.053 statement, camt.054 notification)
read into `BankStatement`s, one per `Rpt`/`Stmt`/`Ntfctn`, whatever the version (.001.02 to .001.08
and later: elements are matched by local name, so a new namespace needs no code).

The XML goes through the project's safe parser (no DTD, no entities, no external references, the
decompressed-byte budget and an element cap). What cannot be understood is a `BankFileError` naming
the XPath: not a camt message, a statement without an account, an amount that is not a number, an
unknown currency. What banks really send is accepted: statements without balances, entries without
dates, a balance in another currency than the account (left out: see `_balance`), and amounts with
more decimals than the currency has.

Rounding rule (amounts with more decimals than the currency's minor unit): trailing zeros are exact
("8.8500" EUR is 885); any other extra digits are rounded half-even to the minor unit, the rounding
of ISO 20022's own "fractionDigits" facet applied by banks that print five decimals. Worked example:
"12.345" EUR -> 1234 (the 4 is even, so the half goes down), "12.355" EUR -> 1236, "12.34501" EUR ->
1235 (above the half), "5.5" JPY -> 6, "0.004" EUR -> 0 (an entry of nothing, kept as a zero line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from xml.etree.ElementTree import Element

from cashline.domain.bank.model import (
    BankFileError,
    BankLine,
    BankStatement,
    Direction,
    EntryStatus,
    ReportKind,
    looks_like_iban,
)
from cashline.domain.einvoice.model import EInvoiceError
from cashline.domain.einvoice.safe_xml import clean, local_name, namespace_of, parse_xml, to_bool, to_decimal
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency

# A statement of 10,000 entries with full transaction details has some 600,000 elements; the
# e-invoice default (100,000) would refuse it. The byte budget still bounds the file itself.
MAX_CAMT_ELEMENTS = 1_000_000

# message element -> (report element, kind, message family)
_MESSAGES = {
    "BkToCstmrAcctRpt": ("Rpt", ReportKind.INTRADAY, "camt.052"),
    "BkToCstmrStmt": ("Stmt", ReportKind.STATEMENT, "camt.053"),
    "BkToCstmrDbtCdtNtfctn": ("Ntfctn", ReportKind.NOTIFICATION, "camt.054"),
}
_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.(\d{3}\.\d{2})$")
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD", "ITBD")  # a camt.052 report without a closing balance ends on an interim one
_PENDING = {"PDNG", "INFO", "FUTR"}
_PLACEHOLDERS = {"NOTPROVIDED", "NONREF", "NOT PROVIDED"}  # "no end-to-end id" in bank speak


def parse_camt(data: bytes) -> list[BankStatement]:
    """Parse a camt.052/053/054 file into one `BankStatement` per report, statement or notification.

    Raises `BankFileError` (with `where`, an XPath) for a file that is not a camt message, is not
    well-formed or safe XML, exceeds the size budget, or holds a value that cannot be read.
    """
    try:
        root = parse_xml(data, max_elements=MAX_CAMT_ELEMENTS)
    except EInvoiceError as exc:
        raise BankFileError(exc.message, where="/") from exc
    message, path = _find_message(root)
    report_tag, kind, family = _MESSAGES[local_name(message.tag)]
    fmt = _format_of(message, family, path)
    reports = [child for child in message if local_name(child.tag) == report_tag]
    if not reports:
        raise BankFileError(f"the {family} message holds no {report_tag}", where=path)
    return [
        _statement(report, f"{path}/{report_tag}[{index}]", fmt, kind)
        for index, report in enumerate(reports, start=1)
    ]


def _find_message(root: Element) -> tuple[Element, str]:
    """The BkToCstmr* element (under `Document`, or deeper inside a bank's envelope) and its XPath."""
    stack: list[tuple[Element, str]] = [(root, f"/{local_name(root.tag)}")]
    while stack:
        element, path = stack.pop()
        if local_name(element.tag) in _MESSAGES:
            return element, path
        stack.extend((child, f"{path}/{local_name(child.tag)}") for child in reversed(element))
    raise BankFileError(
        "not an ISO 20022 camt.052/053/054 message"
        " (no BkToCstmrAcctRpt, BkToCstmrStmt or BkToCstmrDbtCdtNtfctn)",
        where=f"/{local_name(root.tag)}",
    )


def _format_of(message: Element, family: str, path: str) -> str:
    """`camt.053.001.02` from the namespace; the bare family when the file carries no namespace."""
    namespace = namespace_of(message.tag)
    if namespace is None:
        return family
    match = _NAMESPACE.match(namespace)
    if match is None:
        raise BankFileError(f"not an ISO 20022 camt namespace: {namespace!r}", where=path)
    if match.group(1) != family:
        raise BankFileError(
            f"a {local_name(message.tag)} message in the {match.group(1)} namespace", where=path
        )
    return f"{match.group(1)}.{match.group(2)}"


# --- element helpers (namespace-agnostic) ------------------------------------------------------


def _child(element: Element | None, *names: str) -> Element | None:
    """The first element along the local-name path `names` below `element`."""
    for name in names:
        if element is None:
            return None
        element = next((child for child in element if local_name(child.tag) == name), None)
    return element


def _children(element: Element | None, name: str) -> list[Element]:
    return [] if element is None else [child for child in element if local_name(child.tag) == name]


def _text(element: Element | None, *names: str) -> str | None:
    return clean(_child(element, *names))


def _first(*values: str | None) -> str | None:
    return next((value for value in values if value), None)


# --- values ------------------------------------------------------------------------------------


def _currency(code: str | None, where: str) -> str:
    if code is None:
        raise BankFileError("missing currency", where=where)
    try:
        return normalize_currency(code)
    except CurrencyError as exc:
        raise BankFileError(str(exc), where=where) from exc


def _minor(value: str | None, currency: str, where: str) -> int:
    """A written amount in minor units of `currency`, rounded half-even (module docstring)."""
    if value is None:
        raise BankFileError("missing amount", where=where)
    try:
        number = to_decimal(value, "amount")
    except EInvoiceError as exc:
        raise BankFileError(exc.message, where=where) from exc
    if number < 0:
        raise BankFileError(f"a negative amount {value!r} (the direction is CdtDbtInd's)", where=where)
    exponent = currency_exponent(currency)
    with localcontext() as context:
        context.prec = 60  # to_decimal allows 24 integer digits; quantizing must never round them
        rounded = number.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN)
        return int(rounded.scaleb(exponent))


def _amount(element: Element | None, fallback_currency: str | None, where: str) -> tuple[int, str]:
    """An `Amt Ccy="..."` element as (minor units, currency); the account's currency when Ccy is absent."""
    if element is None:
        raise BankFileError("missing amount", where=where)
    currency = _currency(element.get("Ccy") or fallback_currency, f"{where}/@Ccy")
    return _minor(element.text, currency, where), currency


def _direction(element: Element, where: str) -> Direction:
    indicator = _text(element, "CdtDbtInd")
    if indicator == "CRDT":
        return Direction.CREDIT
    if indicator == "DBIT":
        return Direction.DEBIT
    raise BankFileError(f"CdtDbtInd is {indicator!r}, not CRDT or DBIT", where=f"{where}/CdtDbtInd")


def _date(element: Element | None, where: str) -> date | None:
    """`Dt` or `DtTm` below `element` (or the text of `element` itself): the day as written."""
    if element is None:
        return None
    raw = _first(_text(element, "Dt"), _text(element, "DtTm"), clean(element))
    if raw is None:
        return None
    try:
        # A DtTm's local day is the bank's booking day: "2014-12-31T23:15:00+01:00" is the 31st.
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise BankFileError(f"not a date: {raw!r}", where=where) from exc


# --- statement ---------------------------------------------------------------------------------


def _statement(report: Element, path: str, fmt: str, kind: ReportKind) -> BankStatement:
    account = _child(report, "Acct")
    if account is None:
        raise BankFileError("a statement without an account", where=f"{path}/Acct")
    iban = _iban(account)
    other = _text(account, "Id", "Othr", "Id")
    if iban is None and other is not None and looks_like_iban(other):
        iban, other = other.replace(" ", "").upper(), None  # some banks put the IBAN in Othr/Id
    if iban is None and other is None:
        raise BankFileError(
            "the account has neither an IBAN nor another identification", where=f"{path}/Acct/Id"
        )
    currency = _account_currency(report, account, path)
    entries = _children(report, "Ntry")
    lines = tuple(
        _line(entry, f"{path}/Ntry[{index}]", currency) for index, entry in enumerate(entries, start=1)
    )
    from_date, to_date = _period(report, lines, path)
    servicer = _child(account, "Svcr", "FinInstnId")
    return BankStatement(
        format=fmt,
        kind=kind,
        currency=currency,
        account_iban=iban,
        account_other=None if iban else other,
        statement_id=_text(report, "Id"),
        sequence=_first(_text(report, "ElctrncSeqNb"), _text(report, "LglSeqNb")),
        from_date=from_date,
        to_date=to_date,
        opening_balance=_balance(report, _OPENING, currency, path),
        closing_balance=_balance(report, _CLOSING, currency, path),
        account_bic=_first(_text(servicer, "BIC"), _text(servicer, "BICFI")),
        account_name=_first(_text(account, "Ownr", "Nm"), _text(account, "Nm")),
        lines=lines,
    )


def _account_currency(report: Element, account: Element, path: str) -> str:
    """`Acct/Ccy`; else the first balance's currency; else the first entry's (camt.054 often has none)."""
    written = _text(account, "Ccy")
    if written is not None:
        return _currency(written, f"{path}/Acct/Ccy")
    for name in ("Bal", "Ntry"):
        for element in _children(report, name):
            code = _child(element, "Amt")
            if code is not None and code.get("Ccy"):
                return _currency(code.get("Ccy"), f"{path}/{name}/Amt/@Ccy")
    raise BankFileError("no currency for the account (no Acct/Ccy, balance or entry)", where=f"{path}/Acct")


def _balance(report: Element, codes: tuple[str, ...], currency: str, path: str) -> int | None:
    """The signed balance of the first type in `codes` found (the first opening, the last closing).

    A balance written in another currency than the account's is not a balance of this account in its
    minor units (a bank's test file has an EUR account closing at "27.00 SEK"): it is left out, so
    `balanced` says None (unknown) rather than comparing EUR cents with kronor.
    """
    for code in codes:
        found = [
            (index, bal)
            for index, bal in enumerate(_children(report, "Bal"), start=1)
            if _first(_text(bal, "Tp", "CdOrPrtry", "Cd"), _text(bal, "Tp", "CdOrPrtry", "Prtry")) == code
        ]
        if not found:
            continue
        index, bal = found[0] if code in _OPENING else found[-1]
        where = f"{path}/Bal[{index}]/Amt"
        amount_element = _child(bal, "Amt")
        written = amount_element.get("Ccy") if amount_element is not None else None
        if written is not None and _currency(written, f"{where}/@Ccy") != currency:
            return None
        amount, _ = _amount(amount_element, currency, where)
        indicator = _text(bal, "CdtDbtInd")
        return -amount if indicator == "DBIT" else amount
    return None


def _period(report: Element, lines: tuple[BankLine, ...], path: str) -> tuple[date | None, date | None]:
    """FrToDt; else the span of the entries' booking (or value) dates; else the creation day."""
    period = _child(report, "FrToDt")
    if period is not None:
        return (
            _date(_child(period, "FrDtTm"), f"{path}/FrToDt/FrDtTm"),
            _date(_child(period, "ToDtTm"), f"{path}/FrToDt/ToDtTm"),
        )
    days = [day for line in lines if (day := line.booking_date or line.value_date) is not None]
    if days:
        return min(days), max(days)
    created = _date(_child(report, "CreDtTm"), f"{path}/CreDtTm")
    return created, created


# --- entries -----------------------------------------------------------------------------------


def _line(entry: Element, where: str, account_currency: str) -> BankLine:
    amount, currency = _amount(_child(entry, "Amt"), account_currency, f"{where}/Amt")
    direction = _direction(entry, where)
    details = [tx for detail in _children(entry, "NtryDtls") for tx in _children(detail, "TxDtls")]
    declared = sum(_batch_size(detail, where) for detail in _children(entry, "NtryDtls"))
    count = max(len(details), declared)
    single = details[0] if len(details) == 1 else None  # a batch's details belong to no one line
    reversal = _text(entry, "RvslInd")
    try:
        reversed_ = reversal is not None and to_bool(reversal, "RvslInd")
    except EInvoiceError as exc:
        raise BankFileError(exc.message, where=f"{where}/RvslInd") from exc
    party, party_account = _counterparty(single, direction)
    remittance = " ".join(text for tx in ([single] if single is not None else []) for text in _ustrd(tx))
    return BankLine(
        amount=amount,
        currency=currency,
        direction=direction,
        booking_date=_date(_child(entry, "BookgDt"), f"{where}/BookgDt"),
        value_date=_date(_child(entry, "ValDt"), f"{where}/ValDt"),
        status=_status(entry),
        reversal=reversed_,
        bank_reference=_first(_text(entry, "AcctSvcrRef"), _text(single, "Refs", "AcctSvcrRef")),
        end_to_end_id=_reference(_text(single, "Refs", "EndToEndId")),
        mandate_id=_reference(_text(single, "Refs", "MndtId")),
        creditor_reference=_text(single, "RmtInf", "Strd", "CdtrRefInf", "Ref"),
        remittance=remittance or " ".join(_texts(entry, "AddtlNtryInf")),
        counterparty_name=_first(_text(party, "Pty", "Nm"), _text(party, "Nm")),
        counterparty_iban=_iban(party_account),
        counterparty_account=None if _iban(party_account) else _text(party_account, "Id", "Othr", "Id"),
        counterparty_bic=_agent_bic(single, direction),
        transaction_code=_transaction_code(_child(entry, "BkTxCd")),
        batch_count=count if count > 1 else None,
        raw_location=where,
    )


def _batch_size(details: Element, where: str) -> int:
    written = _text(details, "Btch", "NbOfTxs")
    if written is None:
        return 0
    if not written.isdigit():
        raise BankFileError(f"NbOfTxs is not a number: {written!r}", where=f"{where}/NtryDtls/Btch/NbOfTxs")
    return int(written)


def _status(entry: Element) -> EntryStatus:
    # .02-.07 write <Sts>BOOK</Sts>; .08 and later <Sts><Cd>BOOK</Cd></Sts> (or <Prtry>).
    # Sts is mandatory; an entry without one is taken as booked (what a statement lists is booked).
    code = _first(_text(entry, "Sts", "Cd"), _text(entry, "Sts", "Prtry"), _text(entry, "Sts"))
    return EntryStatus.PENDING if code in _PENDING else EntryStatus.BOOKED


def _counterparty(tx: Element | None, direction: Direction) -> tuple[Element | None, Element | None]:
    """The other side: who paid us for a credit (debtor), whom we paid for a debit (creditor)."""
    role = "Dbtr" if direction is Direction.CREDIT else "Cdtr"
    parties = _child(tx, "RltdPties")
    return _child(parties, role), _child(parties, f"{role}Acct")


def _agent_bic(tx: Element | None, direction: Direction) -> str | None:
    agent = _child(tx, "RltdAgts", "DbtrAgt" if direction is Direction.CREDIT else "CdtrAgt", "FinInstnId")
    return _first(_text(agent, "BIC"), _text(agent, "BICFI"))


def _iban(account: Element | None) -> str | None:
    iban = _text(account, "Id", "IBAN")
    return iban.replace(" ", "").upper() if iban else None


def _ustrd(tx: Element) -> Iterator[str]:
    for info in _children(tx, "RmtInf"):
        yield from (text for element in _children(info, "Ustrd") if (text := clean(element)))


def _texts(element: Element, name: str) -> list[str]:
    return [text for child in _children(element, name) if (text := clean(child))]


def _reference(value: str | None) -> str | None:
    return None if value is None or value.upper() in _PLACEHOLDERS else value


def _transaction_code(code: Element | None) -> str | None:
    """ISO `Domn/Fmly/SubFmly` as "PMNT/RCDT/ESCT"; else the proprietary code ("NTRF+166", "544")."""
    domain = _child(code, "Domn")
    if domain is not None:
        parts = [_text(domain, "Cd"), _text(domain, "Fmly", "Cd"), _text(domain, "Fmly", "SubFmlyCd")]
        return "/".join(part for part in parts if part) or None
    return _text(code, "Prtry", "Cd")
