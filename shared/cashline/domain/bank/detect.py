"""Which bank format a file is, from its first bytes: nothing is parsed here, so the file is read whole
only once, by the parser this names.

- "camt": XML whose root element is in an ISO 20022 camt.052/053/054 namespace
  (`urn:iso:std:iso:20022:tech:xsd:camt.053.001.02` and the other versions).
- "mt942": SWIFT fields with an MT942's `:13D:` or `:34F:` and no `:60F:`/`:62F:` balances.
- "mt940": SWIFT fields (`:20:`, `:25:`, `:28C:`, `:60F:`, `:61:`, `:62F:`...).
- "csv": delimited text (`;`, `,`, tab or `|`): at least two rows, and at least half of them, with the same
  number of columns (two or more), so a bank's preamble lines pass; the CSV reader checks the rest.
Anything else (other XML, a PDF, a compressed body, prose) is a `BankFileError`.
"""

from __future__ import annotations

import csv
import re
from collections import Counter

from cashline.domain.bank.model import BankFileError
from cashline.domain.byte_budget import require_within

SNIFF_BYTES = 8192  # a root element's start tag, or the first fields of an MT940, are well within
_NOT_READ = "not a bank statement format Cashline reads"
_ROOT = re.compile(r"<(?![?!])(?:(?P<prefix>[\w.-]+):)?[\w.-]+(?P<attributes>[^>]*)>")
_CAMT = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.\d{3}\.\d{2}")
_SWIFT_TAG = re.compile(r"(?m)^[ \t]*:\r?\n?(\d{2}[A-Z]?):")
_INLINE_TAG = re.compile(r":(20|25|28C|60[FM]|61|62[FM]|13D|34F|86):")
_MT940_TAGS = {"20", "25", "28C", "60F", "60M", "61", "62F", "62M", "86"}
_MT942_TAGS = {"13D", "34F"}
_BALANCES = {"60F", "60M", "62F", "62M"}
_DELIMITERS = (";", ",", "\t", "|")


def detect_format(data: bytes) -> str:
    """ "camt", "mt940", "mt942" or "csv" for the bank file `data` (module docstring); BankFileError
    "not a bank statement format Cashline reads" otherwise."""
    require_within(len(data), "the bank file")
    text = _text(data[:SNIFF_BYTES])
    if "\x00" in text:
        raise BankFileError(f"{_NOT_READ}: binary data", where="byte 1")
    if text.lstrip().startswith("<"):
        if _is_camt(text):
            return "camt"
        raise BankFileError(f"{_NOT_READ}: XML, but not an ISO 20022 camt.052/053/054 message", where="/*")
    tags = set(_SWIFT_TAG.findall(text))
    if not tags and "\n" not in text and "\r" not in text:
        tags = set(_INLINE_TAG.findall(text))  # a file without line breaks
    if tags & _MT942_TAGS and not tags & _BALANCES:
        return "mt942"
    if tags & (_MT940_TAGS | _MT942_TAGS):
        return "mt940"
    if _is_delimited(text, complete=len(data) <= SNIFF_BYTES):
        return "csv"
    raise BankFileError(_NOT_READ, where="line 1")


def _text(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8-sig", errors="replace")


def _is_camt(text: str) -> bool:
    """The root element's own namespace (default, or its prefix's) is a camt one."""
    root = _ROOT.search(text)
    if root is None:
        return False
    name = f"xmlns:{root['prefix']}" if root["prefix"] else "xmlns"
    declared = re.search(rf"{re.escape(name)}\s*=\s*[\"']([^\"']*)[\"']", root["attributes"])
    return declared is not None and _CAMT.fullmatch(declared.group(1)) is not None


def _is_delimited(text: str, *, complete: bool) -> bool:
    rows = text.splitlines()
    if not complete:
        rows = rows[:-1]  # the sniffed window may end inside a row
    rows = [row for row in rows[:50] if row.strip()]
    if len(rows) < 2:
        return False
    for delimiter in _DELIMITERS:
        widths = Counter(len(fields) for fields in csv.reader(rows, delimiter=delimiter))
        width, count = widths.most_common(1)[0]
        # Most rows agree on two or more columns; a few others may be a bank's preamble or totals.
        if width >= 2 and count >= 2 and count * 2 >= len(rows):
            return True
    return False
