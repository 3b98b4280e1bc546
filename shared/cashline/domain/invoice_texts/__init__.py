"""The texts of issued invoices: one TOML file per language beside this module (the PDF's labels in
`[pdf]`, the e-mail that sends the invoice in `[email]`), loaded once per language on first use.

Adding a language is adding `<code>.toml` with the same keys as `en.toml`; any other language gets
English. Plain data: nothing here formats dates or amounts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

FALLBACK_LANGUAGE = "en"
_FOLDER = Path(__file__).parent
LANGUAGES: tuple[str, ...] = tuple(sorted(path.stem for path in _FOLDER.glob("*.toml")))

Part = Literal["pdf", "email"]


def language_of(locale: str) -> str:
    """The file a locale reads: its language when there is one ("de_AT" -> "de"), else English."""
    language = locale.strip().lower().replace("-", "_").split("_")[0]
    return language if language in LANGUAGES else FALLBACK_LANGUAGE


@cache
def _load(language: str) -> dict[str, dict[str, str]]:
    with (_FOLDER / f"{language}.toml").open("rb") as file:
        data: dict[str, dict[str, str]] = tomllib.load(file)
    return data


def invoice_texts(part: Part, locale: str) -> Mapping[str, str]:
    """The `part` texts in the locale's language (English when there is no file for it)."""
    return _load(language_of(locale))[part]
