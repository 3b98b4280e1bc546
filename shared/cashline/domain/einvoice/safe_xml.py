"""Safe XML parsing and typed value reading shared by the UBL and CII readers.

E-invoices arrive from outside (e-mail, upload, Peppol), so the parser refuses every DTD: with no
DTD there can be no entity expansion (billion laughs) and no external entity (XXE) to resolve.
The value readers turn element text into ints of minor units, Decimals and dates, and raise
`EInvoiceError` naming the field instead of letting a `decimal.InvalidOperation` escape.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse

from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES, OverBudgetError, require_within
from cashline.domain.einvoice.model import EInvoiceError, EInvoiceTooLargeError
from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency

MAX_XML_BYTES = MAX_DECOMPRESSED_BYTES
# A parsed element costs some 100-200 bytes however short its tag, so a few MB of "<a/>" would
# become hundreds of MB of tree: the count is bounded too. A 2,000-line invoice has ~100,000.
MAX_XML_ELEMENTS = 100_000

# A number with more integer digits than this is not an invoice value but an attack on arithmetic.
_MAX_AMOUNT_DIGITS = 24


def parse_xml(data: bytes, *, max_elements: int = MAX_XML_ELEMENTS) -> Element:
    """Parse untrusted bytes into an ElementTree root, refusing DTDs, entities and oversize input.

    The document (already decompressed, if it came out of a PDF) must fit the decompressed-byte
    budget, and parsing stops at the first element beyond `max_elements`, before the tree grows.
    """
    try:
        require_within(len(data), "the XML document", MAX_XML_BYTES)
    except OverBudgetError as exc:
        raise EInvoiceTooLargeError(exc.message, limit=exc.limit) from exc
    root: Element | None = None
    try:
        events = iterparse(
            io.BytesIO(data), events=("start",), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        for count, (_event, element) in enumerate(events, start=1):
            if count > max_elements:
                raise EInvoiceTooLargeError(
                    f"the XML document has more than {max_elements:,} elements", limit=max_elements
                )
            root = element if root is None else root
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise EInvoiceError("XML with a DTD/entities is refused") from exc
    except ParseError as exc:
        raise EInvoiceError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise EInvoiceError("not well-formed XML: no element found")
    return root


def local_name(tag: str) -> str:
    """`{namespace}Name` -> `Name`."""
    return tag.rsplit("}", 1)[-1]


def namespace_of(tag: str) -> str | None:
    """`{namespace}Name` -> `namespace` (None for an element without a namespace)."""
    if tag.startswith("{"):
        return tag[1:].split("}", 1)[0]
    return None


class Paths:
    """Namespace-aware lookups with one prefix map, so callers write `p.text(el, "cbc:ID")`."""

    def __init__(self, namespaces: Mapping[str, str]):
        self._ns = dict(namespaces)

    def find(self, el: Element | None, path: str) -> Element | None:
        """First element at `path` below `el` (None when `el` is None or nothing matches)."""
        if el is None:
            return None
        return el.find(path, self._ns)

    def findall(self, el: Element | None, path: str) -> list[Element]:
        """All elements at `path` below `el`, in document order."""
        if el is None:
            return []
        return el.findall(path, self._ns)

    def text(self, el: Element | None, path: str) -> str | None:
        """Stripped text of the first element at `path`; None when missing or blank."""
        return clean(self.find(el, path))

    def texts(self, el: Element | None, path: str) -> list[str]:
        """Stripped, non-blank texts of every element at `path`."""
        return [value for value in (clean(found) for found in self.findall(el, path)) if value]

    def required(self, el: Element | None, path: str, field: str) -> str:
        """Like `text`, but a missing or blank value is an `EInvoiceError` naming `field`."""
        value = self.text(el, path)
        if value is None:
            raise EInvoiceError(f"missing mandatory {field}", field=field)
        return value


def clean(el: Element | None) -> str | None:
    """Element text with surrounding whitespace removed; None for a missing or blank element."""
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def first(*values: str | None) -> str | None:
    """The first value that is present, for "BT-27, else BT-28"-style fallbacks."""
    return next((value for value in values if value), None)


def to_currency(code: str | None) -> str:
    """Validate BT-5 against ISO 4217."""
    if code is None:
        raise EInvoiceError("missing mandatory currency", field="currency")
    try:
        return normalize_currency(code)
    except CurrencyError as exc:
        raise EInvoiceError(str(exc), field="currency") from exc


def to_decimal(value: str, field: str) -> Decimal:
    """A finite Decimal from element text (quantities, prices, rates keep their written digits)."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise EInvoiceError(f"{field} is not a number: {value!r}", field=field) from exc
    if not number.is_finite():
        raise EInvoiceError(f"{field} is not a finite number: {value!r}", field=field)
    # "1E+999999" is a valid Decimal whose first multiplication overflows; no invoice value is that big.
    if number and number.adjusted() >= _MAX_AMOUNT_DIGITS:
        raise EInvoiceError(f"{field} is implausibly large: {value!r}", field=field)
    return number


def optional_decimal(value: str | None, field: str) -> Decimal | None:
    """`to_decimal` for an optional element."""
    return None if value is None else to_decimal(value, field)


def to_minor(value: str, currency: str, field: str) -> int:
    """Convert a written amount to integer minor units of `currency`, exactly.

    Works on the decimal digits themselves rather than multiplying, so no Decimal context
    precision can round a sub-cent amount into an apparently whole one.
    """
    number = to_decimal(value, field)
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite numbers always have an int exponent
    digit_list = list(digits)
    # "4900.0" and "4900" are the same amount: trailing zeros after the point do not count.
    while exponent < 0 and len(digit_list) > 1 and digit_list[-1] == 0:
        digit_list.pop()
        exponent += 1
    if len(digit_list) + max(exponent, 0) > _MAX_AMOUNT_DIGITS:
        raise EInvoiceError(f"{field} is implausibly large: {value!r}", field=field)
    shift = exponent + currency_exponent(currency)
    if shift < 0 and any(digit_list[shift:]):
        raise EInvoiceError(f"{field} {value!r} has more decimals than {currency} allows", field=field)
    magnitude = int("".join(map(str, digit_list)) or "0")
    factor: int = 10 ** abs(shift)
    minor = magnitude * factor if shift >= 0 else magnitude // factor
    return -minor if sign else minor


def optional_minor(value: str | None, currency: str, field: str, default: int = 0) -> int:
    """`to_minor` for an optional amount; absent means `default` (EN 16931: 0 for BT-107 etc.)."""
    return default if value is None else to_minor(value, currency, field)


def required_minor(value: str | None, currency: str, field: str) -> int:
    """`to_minor` for a mandatory amount."""
    if value is None:
        raise EInvoiceError(f"missing mandatory {field}", field=field)
    return to_minor(value, currency, field)


def to_date(value: str | None, field: str, *, required: bool = False) -> date | None:
    """Parse `YYYY-MM-DD` (UBL, optionally with a zone suffix) or `YYYYMMDD` (CII format 102)."""
    if value is None:
        if required:
            raise EInvoiceError(f"missing mandatory {field}", field=field)
        return None
    raw = value.strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        # xs:date may carry a time zone ("2017-11-13Z", "2017-11-13+01:00"); the day is what counts.
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise EInvoiceError(f"{field} is not a date: {value!r}", field=field) from exc


def to_bool(value: str | None, field: str) -> bool:
    """xs:boolean: "true"/"false"/"1"/"0"."""
    normalized = (value or "").strip().lower()
    if normalized in ("true", "1"):
        return True
    if normalized in ("false", "0"):
        return False
    raise EInvoiceError(f"{field} is not a boolean: {value!r}", field=field)
