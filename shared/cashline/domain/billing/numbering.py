"""Invoice numbers from a per-tenant pattern and sequence.

Plain Python: no storage, no clock reads. The sequence itself (gap-free, conditional writes) lives in
cashline.dal.invoice_numbers; this module only checks a pattern, names the sequence a number comes
from, and formats it.

A pattern is literal text with placeholders:

- ``{seq}`` or ``{seq:0N}`` (N = 1..12): the sequence number, zero-padded to N digits (a number with
  more digits is written in full, never cut). Exactly one is required.
- ``{YYYY}`` the four-digit year, ``{YY}`` its last two digits, ``{MM}`` the two-digit month of the
  invoice's issue date (not the day it is finalised: a subscription invoice is dated its period's
  start, and a draft finalised in January for a December period stays a December invoice, numbered
  in the year its date shows, so the number and the date it prints never disagree).

The literal text may hold only ``A-Z a-z 0-9 - / _ .`` and the whole pattern at most 40 characters
(a number must fit the 30+ character fields of e-invoice formats and bank references).

Example: ``{YYYY}-{seq:06}`` issued on 3 March 2027 with sequence number 42 -> ``2027-000042``.

Sequences: a pattern holding a year placeholder (``{YYYY}`` or ``{YY}``) counts from 1 again every
calendar year (scope ``"2027"``); any other pattern counts for ever (scope ``"all"``). A month in the
pattern does not reset the count ("2027-03-000042" is followed by "2027-04-000043"), so the scope is
never finer than a year and each number is still unique. Changing the pattern keeps the scope's
count: ``{YYYY}-{seq:06}`` changed to ``INV-{YYYY}-{seq:06}`` in 2027 continues with the next
number, so no number is given twice within a scope. Across scopes a pattern change can repeat a text
(``R{seq}`` at 2701, then ``R{YY}{seq:02}`` in 2027 starts at ``R2701`` again): the finalising
transaction claims every formatted number tenant-wide (dal/invoice_numbers.py
``stage_number_claim``), so such a collision is refused (409 on ``number``; the sequence does not
skip it, which would leave a gap) and the tenant changes the pattern, never a duplicate number.
"""

from __future__ import annotations

import re
from datetime import date

DEFAULT_PATTERN = "{YYYY}-{seq:06}"
MAX_PATTERN_LENGTH = 40
ALL_TIME_SCOPE = "all"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SEQUENCE = re.compile(r"seq(?::0([1-9]|1[0-2]))?")
_DATE_PLACEHOLDERS = frozenset({"YYYY", "YY", "MM"})
_YEAR_PLACEHOLDERS = frozenset({"YYYY", "YY"})
_LITERAL = re.compile(r"[A-Za-z0-9\-/_.]*")


def check_pattern(pattern: str) -> None:
    """Raise ValueError naming what is wrong with ``pattern``; return None when it is usable."""
    if not pattern:
        raise ValueError("the number pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the number pattern is longer than {MAX_PATTERN_LENGTH} characters")
    sequences = 0
    for name in _PLACEHOLDER.findall(pattern):
        if _SEQUENCE.fullmatch(name):
            sequences += 1
        elif name not in _DATE_PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {{{name}}}: use {{seq}}, {{seq:06}}, {{YYYY}}, {{YY}} or {{MM}}"
            )
    if sequences != 1:
        raise ValueError("the number pattern needs exactly one {seq} or {seq:0N} placeholder")
    literal = _PLACEHOLDER.sub("", pattern)
    if not _LITERAL.fullmatch(literal):
        bad = sorted({c for c in literal if not _LITERAL.fullmatch(c)})
        raise ValueError(
            f"the number pattern holds {''.join(bad)!r}: only letters, digits and - / _ . are allowed"
        )


def format_number(pattern: str, *, year: int, seq: int, month: int | None = None) -> str:
    """The invoice number ``pattern`` gives sequence number ``seq`` issued in ``year`` (and ``month``).

    ``format_number("{YYYY}-{seq:06}", year=2027, seq=42) == "2027-000042"``. ``month`` is needed
    only when the pattern holds ``{MM}`` (ValueError otherwise, never a guessed month).
    """
    check_pattern(pattern)
    if seq < 1:
        raise ValueError("sequence numbers start at 1")

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "YYYY":
            return f"{year:04d}"
        if name == "YY":
            return f"{year % 100:02d}"
        if name == "MM":
            if month is None:
                raise ValueError("the number pattern holds {MM}: pass the month of issue")
            return f"{month:02d}"
        width = _SEQUENCE.fullmatch(name)
        digits = int(width.group(1)) if width and width.group(1) else 1
        return f"{seq:0{digits}d}"

    return _PLACEHOLDER.sub(fill, pattern)


def sequence_scope(pattern: str, issued_on: date) -> str:
    """Which count a number issued on ``issued_on`` takes: the year ("2027") when the pattern shows
    the year, so numbering starts again each year, else ``"all"``."""
    check_pattern(pattern)
    if any(name in _YEAR_PLACEHOLDERS for name in _PLACEHOLDER.findall(pattern)):
        return f"{issued_on.year:04d}"
    return ALL_TIME_SCOPE
