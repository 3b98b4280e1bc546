"""When two spellings are probably the same thing: a payer's name as the bank prints it and the
counterparty's name in Cashline, or an invoice number as a payer typed it and as it was issued.

Used only as corroboration next to an amount or a payer: a resemblance alone never matches a line.
"""

from __future__ import annotations

import re
import unicodedata

# Words that say what kind of company it is, not which one, and joining words: "Müller GmbH & Co. KG"
# and "MUELLER" are the same name.
_LEGAL_WORDS = frozenset(
    {
        "GMBH", "MBH", "AG", "KG", "KGAA", "CO", "UG", "EK", "EV", "OHG", "GBR", "LTD", "LIMITED", "PLC",
        "INC", "LLC", "LLP", "CORP", "SA", "SAS", "SARL", "SRL", "SPA", "BV", "NV", "AB", "OY", "AS", "SE",
        "EURL", "SCI", "SASU", "UND", "AND", "ET", "THE", "DE", "DU", "LA", "LE", "LES", "VON", "DER", "DIE"
    }
)  # fmt: skip
# German letters banks spell out in their ASCII formats ("MUELLER"), so "Müller" must read the same.
_SPELLED_OUT = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "ẞ": "SS"})
_WORD = re.compile(r"[A-Z0-9]+")
_GROUP = re.compile(r"[A-Z]+|[0-9]+")
# Banks cut long names at 27 to 35 characters: a word cut to at least this many letters still counts.
_MIN_PREFIX = 4
# A typo is trusted only in numbers at least this long: in short ones one character is too much.
MIN_TYPO_LENGTH = 5


def name_words(name: str) -> frozenset[str]:
    """The distinctive words of a party name: upper-case ASCII, legal forms and joining words dropped."""
    spelled = name.upper().translate(_SPELLED_OUT)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return frozenset(w for w in _WORD.findall(ascii_text) if len(w) > 1 and w not in _LEGAL_WORDS)


def similar_names(first: str | None, second: str | None) -> bool:
    """True when more than half the distinctive words of the shorter name appear in the other (a word
    cut by the bank to 4+ letters counts): "MUELLER HANDELSGESELLS" ~ "Müller Handelsgesellschaft mbH",
    but "Müller Bau" is not "Müller Logistik"."""
    if not first or not second:
        return False
    words_a, words_b = name_words(first), name_words(second)
    if not words_a or not words_b:
        return False
    shorter, longer = sorted((words_a, words_b), key=len)
    found = sum(1 for word in shorter if any(_same_word(word, other) for other in longer))
    return found * 2 > len(shorter)


def _same_word(first: str, second: str) -> bool:
    if first == second:
        return True
    short, long = sorted((first, second), key=len)
    return len(short) >= _MIN_PREFIX and long.startswith(short)


def number_groups(spelled: str) -> tuple[str, ...]:
    """An invoice number's letter and digit groups, leading zeros of digit groups dropped:
    "INV-2026-00042" and "inv 2026 42" are both ("INV", "2026", "42")."""
    groups = _GROUP.findall(spelled.upper())
    return tuple(group.lstrip("0") or "0" if group.isdigit() else group for group in groups)


def same_but_zeros(first: str, second: str) -> bool:
    """The same number but for leading zeros of a group ("INV-00042" written "INV 42")."""
    groups = number_groups(first)
    return len(groups) > 0 and groups == number_groups(second)


def one_edit_apart(first: str, second: str) -> bool:
    """Exactly one character replaced, inserted, dropped or two neighbours swapped, on numbers of at
    least MIN_TYPO_LENGTH characters (Damerau-Levenshtein distance 1, restricted form)."""
    if first == second or min(len(first), len(second)) < MIN_TYPO_LENGTH:
        return False
    if len(first) == len(second):
        return _one_replaced_or_swapped(first, second)
    if abs(len(first) - len(second)) == 1:
        shorter, longer = sorted((first, second), key=len)
        return _one_inserted(shorter, longer)
    return False


def _one_replaced_or_swapped(first: str, second: str) -> bool:
    differ = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    if len(differ) == 1:
        return True
    return (
        len(differ) == 2
        and differ[1] == differ[0] + 1
        and first[differ[0]] == second[differ[1]]
        and first[differ[1]] == second[differ[0]]
    )


def _one_inserted(shorter: str, longer: str) -> bool:
    for index, (a, b) in enumerate(zip(shorter, longer, strict=False)):
        if a != b:
            return shorter[index:] == longer[index + 1 :]
    return True  # the extra character is the last one
