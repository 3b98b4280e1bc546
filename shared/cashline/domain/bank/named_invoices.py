"""Which open invoices a bank line names: its creditor reference and the invoice numbers in its
remittance text, exact, with lost leading zeros, or with one typo.

Evidence, strongest first:
- REFERENCE: an ISO 11649 RF reference (structured field or text) or a national reference in the
  structured field (Swiss QR reference: 27 digits, mod 10 recursive; Finnish viitenumero: 7-3-1
  weights; Norwegian KID: Luhn), its check digits valid and its number an open invoice's.
- NUMBER: a token of the text is an open invoice's number, compared without spaces, dashes and case
  ("RE 2026/17" is "RE-2026-17"), also when a bank's line wrapping split it ("RE-2026-0 0042");
  looked up by number, one Query each, at most 24 per line.
- ZEROS: the number but for leading zeros the payer dropped ("INV-00042" paid as "INV 42"), found by
  looking the zero-padded spellings up, or among the invoices already read for the line.
- TYPO: one character replaced, dropped, added or two swapped, in a number of 5+ characters; found
  only among the invoices read for the line (owing exactly the amount, the payer's open ones), so a
  typo is never believed without the amount or the payer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import pairwise

from cashline.domain.bank.reconciliation import BankTransaction, Candidates, OpenInvoice
from cashline.domain.bank.resemblance import one_edit_apart, same_but_zeros
from cashline.domain.references import (
    invoice_number_candidates,
    normalize_invoice_number,
    parse_creditor_references,
)

RECEIVABLE = "receivable"
MAX_NUMBER_LOOKUPS = 24  # invoices_by_number Queries per line, whatever the text holds
MAX_PADDED_WIDTH = 6  # "INV 42" is tried as INV042 ... INV000042


class Evidence(IntEnum):
    """How an invoice was named, weakest to strongest."""

    TYPO = 1
    ZEROS = 2
    NUMBER = 3
    REFERENCE = 4


@dataclass(frozen=True)
class Named:
    """An open invoice the line names, how, and as the payer spelled it."""

    invoice: OpenInvoice
    evidence: Evidence
    spelled: str  # as the payer wrote it
    # The spelling names another invoice exactly and only resembles this one ("RE-41" is an open
    # invoice, and RE-42 of the same amount is one typo away): a rival explanation, never one of
    # several invoices paid together.
    rival: bool = False


class NumberLookup:
    """books.invoices_by_number, each number once, at most MAX_NUMBER_LOOKUPS Queries per line (one
    per line, shared by every search of that line)."""

    def __init__(self, books: Candidates) -> None:
        self._books = books
        self._seen: dict[str, list[OpenInvoice]] = {}

    def __call__(self, normalized: str) -> list[OpenInvoice]:
        if normalized not in self._seen:
            if len(self._seen) >= MAX_NUMBER_LOOKUPS or not normalized:
                return []
            self._seen[normalized] = self._books.invoices_by_number(RECEIVABLE, normalized)
        return self._seen[normalized]


def find_named(line: BankTransaction, lookup: NumberLookup, pool: Sequence[OpenInvoice]) -> list[Named]:
    """The open invoices the line's reference and remittance text name, strongest evidence first.
    `pool`: invoices already read for this line (owing the amount, the payer's), checked for lost
    zeros and typos against every spelling but dates (a rival when the spelling named another
    invoice)."""
    found: dict[str, Named] = {}
    for reference in references(line):
        for invoice in lookup(reference):
            _keep(found, Named(invoice, Evidence.REFERENCE, reference))
    spellings = number_spellings(line)
    misses: list[str] = []
    for spelled in spellings:
        hits = lookup(normalize_invoice_number(spelled))
        for invoice in hits:
            _keep(found, Named(invoice, Evidence.NUMBER, spelled))
        if not hits:
            misses.append(spelled)
    for spelled in misses:
        for variant in padded_variants(spelled):
            for invoice in lookup(variant):
                _keep(found, Named(invoice, Evidence.ZEROS, spelled))
    for invoice in pool:
        for spelled in spellings:
            evidence = None if _DATE.fullmatch(spelled) else _resemblance(spelled, invoice.number)
            if evidence is not None:
                _keep(found, Named(invoice, evidence, spelled, rival=spelled not in misses))
    return sorted(found.values(), key=lambda named: (-named.evidence, named.rival))


# "03.11.2026", "11/2026", "2026-11-03": a date is one keystroke from many numbers, never a typo of one.
_DATE = re.compile(r"[0-9]{1,4}[./-][0-9]{1,2}(?:[./-][0-9]{2,4})?|[0-9]{1,2}[./-][0-9]{4}")


def _keep(found: dict[str, Named], named: Named) -> None:
    current = found.get(named.invoice.invoice_id)
    if current is None or (named.evidence, not named.rival) > (current.evidence, not current.rival):
        found[named.invoice.invoice_id] = named


def _resemblance(spelled: str, number: str) -> Evidence | None:
    if same_but_zeros(spelled, number):
        return Evidence.ZEROS
    if one_edit_apart(normalize_invoice_number(spelled), normalize_invoice_number(number)):
        return Evidence.TYPO
    return None


def references(line: BankTransaction) -> list[str]:
    """The invoice numbers the line's creditor references carry (RF in the structured field or the
    text; a national reference in the structured field), distinct, in that order."""
    found: list[str] = []
    structured = re.sub(r"\s", "", line.creditor_reference or "").upper()
    if structured.startswith("RF"):
        found.extend(parse_creditor_references(structured))
    elif structured.isdigit():
        found.extend(national_reference_numbers(structured))
    found.extend(parse_creditor_references(line.remittance))
    return list(dict.fromkeys(found))


# A prefix word and a short number the general tokenizer leaves out ("INV 42", "RE-7"), and numbers
# printed in groups ("INV 2026 42"): the spellings a payer who drops zeros uses.
_PREFIXED_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2,5}[ #:./-]{0,2}[0-9]{1,6}(?:[ /-][0-9]{1,6}){0,2}(?![A-Za-z0-9])"
)


def number_spellings(line: BankTransaction) -> list[str]:
    """What in the text could be an invoice number, as written: the general candidates first
    (cashline.domain.references), then prefixed short numbers, then two neighbouring words joined
    (a number the bank's line wrapping cut); distinct by normalized form."""
    texts = [line.remittance]
    structured = (line.creditor_reference or "").strip()
    if structured and not structured.upper().startswith("RF"):
        texts.insert(0, structured)  # a bank's structured field holding the plain invoice number
    spellings: dict[str, str] = {}
    for text in texts:
        found = [
            *invoice_number_candidates(text),
            *(match.group() for match in _PREFIXED_NUMBER.finditer(text)),
            *_rejoined(text),
        ]
        for candidate in found:
            spellings.setdefault(normalize_invoice_number(candidate), candidate)
    return list(spellings.values())


def _rejoined(text: str) -> list[str]:
    # MT940 and camt carry remittance in lines of 27-140 characters that the parser joins with a
    # space, so "RE-2026-0" + "0042" may be one number: two words with digits, one space apart.
    words = list(re.finditer(r"\S+", text))
    return [
        (first.group() + second.group()).strip(".,;:()")
        for first, second in pairwise(words)
        if second.start() - first.end() == 1 and _has_digit(first.group()) and _has_digit(second.group())
    ]


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def padded_variants(spelled: str) -> Iterator[str]:
    """Normalized numbers with the last digit group zero-padded ("INV 42" -> INV042 .. INV000042);
    only for spellings with a letter or digit group before the number (a bare number is too vague)."""
    groups = re.findall(r"[A-Z]+|[0-9]+", spelled.upper())
    if len(groups) < 2 or not groups[-1].isdigit():
        return
    head, last = "".join(groups[:-1]), groups[-1]
    for width in range(len(last) + 1, MAX_PADDED_WIDTH + 1):
        yield head + last.zfill(width)


def national_reference_numbers(digits: str) -> list[str]:
    """The numbers a national structured reference carries (check digit dropped, leading zeros
    dropped), for each scheme whose check digit it passes: Swiss QR reference, Finnish, Norwegian KID."""
    body, check = digits[:-1], digits[-1:]
    if len(digits) < 4 or not check:
        return []
    passes = (
        (len(digits) == 27 and _mod10_recursive(body) == int(check))
        or (len(digits) <= 20 and _finnish_check(body) == int(check))
        or (len(digits) <= 25 and _luhn_check(body) == int(check))
    )
    number = body.lstrip("0")
    return [number] if passes and number else []


_RECURSIVE_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)


def _mod10_recursive(body: str) -> int:
    carry = 0
    for digit in body:
        carry = _RECURSIVE_TABLE[(carry + int(digit)) % 10]
    return (10 - carry) % 10


def _finnish_check(body: str) -> int:
    weights = (7, 3, 1)
    total = sum(int(digit) * weights[i % 3] for i, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _luhn_check(body: str) -> int:
    total = 0
    for i, digit in enumerate(reversed(body)):
        doubled = int(digit) * (2 if i % 2 == 0 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10
