"""Finding what a payment is for in free remittance text (a bank transfer's "Verwendungszweck", a
processor's description): ISO 11649 creditor references ("RF18 5390 0754 7034") and tokens that
could be invoice numbers.

python-stdnum is not a dependency, so the ISO 7064 mod 97-10 check behind ISO 11649 is done here
(it is a few lines). Only ASCII letters and digits count: ISO 11649 allows nothing else, and invoice
numbers are matched on the same normalized form.
"""

from __future__ import annotations

import re

_MAX_REFERENCE = 21  # ISO 11649: the reference part is 1 to 21 alphanumerics (25 with "RF" + check)
_MAX_CANDIDATES = 20

# "RF" + two check digits at the start of a word; the reference itself may follow attached
# ("RF18539007547034") or in printed groups ("RF18 5390 0754 7034"). Remittance text is typed by
# people and upper-cased or not by banks, so the case is ignored.
_RF_START = re.compile(r"(?<![A-Za-z0-9])RF([0-9]{2})", re.IGNORECASE)
_CHUNK = re.compile(r"\s*([A-Za-z0-9]+)")
# Alphanumeric runs joined by single internal '-', '/', '.', '_' ("INV-2026-001", "2026/17", "3.11");
# everything else separates tokens, and punctuation around a token is never part of it.
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*")
# An upper-case word of 2-4 letters right before a number is often the number's own prefix ("RE 2026/17");
# lower-case words ("vom 3.11", "Nr 7781") are prose, not prefixes.
_PREFIX = re.compile(r"[A-Z]{2,4}")


def normalize_invoice_number(number: str) -> str:
    """The lookup key for an invoice number: upper-case ASCII letters and digits only, so
    "inv-2026/001" and "INV2026001" are the same number."""
    return "".join(ch for ch in number if ch.isascii() and ch.isalnum()).upper()


def _mod97(text: str) -> int:
    # ISO 7064 mod 97-10 as ISO 11649 uses it: letters become 10..35, then the digit string mod 97.
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def _is_valid(reference: str, check_digits: str) -> bool:
    # The check digits are validated with "RF" + check digits moved behind the reference.
    return 0 < len(reference) <= _MAX_REFERENCE and _mod97(f"{reference}RF{check_digits}") == 1


def creditor_reference(invoice_number: str) -> str:
    """The ISO 11649 creditor reference for an invoice number, e.g. "539007547034" ->
    "RF18539007547034" (unformatted, upper-case)."""
    reference = normalize_invoice_number(invoice_number)
    if not reference:
        raise ValueError(f"{invoice_number!r} has no letters or digits for a creditor reference")
    if len(reference) > _MAX_REFERENCE:
        raise ValueError(
            f"{invoice_number!r} has {len(reference)} letters and digits; a creditor reference allows 21"
        )
    check = 98 - _mod97(f"{reference}RF00")
    return f"RF{check:02d}{reference}"


def _references_with_spans(text: str) -> list[tuple[int, int, str]]:
    """Every valid RF reference as (start, end, reference part), in order of appearance.

    After "RF" + check digits, the alphanumeric chunks separated by whitespace are collected up to 21
    characters; the longest run of whole chunks that passes the check wins. A reference never ends
    inside a chunk, so "RF18 5390 0754 7034 Rechnung" yields 539007547034 and a stray word after the
    reference does not hide it. A check that fails means a typo or no reference: it is ignored, since
    guessing would pay the wrong invoice.
    """
    found: list[tuple[int, int, str]] = []
    consumed = 0
    for start_match in _RF_START.finditer(text):
        if start_match.start() < consumed:
            continue  # inside a reference already found
        check_digits = start_match.group(1)
        chunks: list[tuple[str, int]] = []  # (upper-case chunk, end offset in text)
        length = 0
        position = start_match.end()
        while (chunk := _CHUNK.match(text, position)) is not None:
            length += len(chunk.group(1))
            if length > _MAX_REFERENCE:
                break
            chunks.append((chunk.group(1).upper(), chunk.end()))
            position = chunk.end()
        for count in range(len(chunks), 0, -1):
            reference = "".join(part for part, _ in chunks[:count])
            if _is_valid(reference, check_digits):
                end = chunks[count - 1][1]
                found.append((start_match.start(), end, reference))
                consumed = end
                break
    return found


def parse_creditor_references(text: str) -> list[str]:
    """The reference parts (after "RF" and the check digits; upper-case, no spaces) of every valid
    ISO 11649 creditor reference in ``text``, distinct, in order of appearance."""
    return list(dict.fromkeys(reference for _, _, reference in _references_with_spans(text)))


def invoice_number_candidates(text: str) -> list[str]:
    """Tokens of free text that could be invoice numbers, for lookup by normalized number.

    - First the reference parts of valid RF references (the strongest evidence), then the rest of the
      text with those references blanked out.
    - A token is a run of ASCII letters and digits, possibly joined by single '-', '/', '.', '_'
      ("RE-2026-0042", "INV/2026/17"); any other character separates tokens, so surrounding
      punctuation is dropped ("3.11." -> "3.11").
    - A token counts when it has a digit and at least 3 letters and digits.
    - An upper-case word of 2-4 letters directly before (same line) a token that starts with a digit
      also yields the pair ("RE 2026/17" besides "2026/17"): numbers are printed with a spaced prefix.
    - Distinct by normalized number, the first spelling kept, in order of appearance, at most 20.
    """
    spans = _references_with_spans(text)
    candidates = [reference for _, _, reference in spans]
    blanked = text
    for start, end, _ in spans:
        blanked = blanked[:start] + " " * (end - start) + blanked[end:]
    previous: re.Match[str] | None = None
    for token in _TOKEN.finditer(blanked):
        word = token.group()
        if _looks_like_number(word):
            candidates.append(word)
            if previous is not None and _is_spaced_prefix(previous, token, blanked):
                candidates.append(f"{previous.group()} {word}")
        previous = token
    distinct: dict[str, str] = {}
    for candidate in candidates:
        distinct.setdefault(normalize_invoice_number(candidate), candidate)
    return list(distinct.values())[:_MAX_CANDIDATES]


def _looks_like_number(token: str) -> bool:
    return any(ch.isdigit() for ch in token) and len(normalize_invoice_number(token)) >= 3


def _is_spaced_prefix(previous: re.Match[str], token: re.Match[str], text: str) -> bool:
    between = text[previous.end() : token.start()]
    return (
        token.group()[0].isdigit()
        and _PREFIX.fullmatch(previous.group()) is not None
        and between.isspace()
        and "\n" not in between  # a word ending the previous line is not part of this number
    )
