"""The issued invoices' texts are data: every language file has English's keys and placeholders."""

from __future__ import annotations

import string

import pytest

from cashline.domain.invoice_texts import FALLBACK_LANGUAGE, LANGUAGES, invoice_texts, language_of


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("part", ["pdf", "email"])
def test_every_language_has_the_keys_and_placeholders_of_english(language: str, part: str) -> None:
    english = invoice_texts(part, FALLBACK_LANGUAGE)  # type: ignore[arg-type]
    texts = invoice_texts(part, language)  # type: ignore[arg-type]
    assert set(texts) == set(english)
    for key, text in texts.items():
        assert _placeholders(text) == _placeholders(english[key]), key


def test_a_locale_reads_its_language_and_anything_else_reads_english() -> None:
    assert language_of("de_AT") == "de" and language_of("DE-ch") == "de"
    assert language_of("fi") == "en" and language_of("") == "en"
    assert invoice_texts("email", "de")["invoice_subject"] == "Rechnung {number} von {seller}"
    assert invoice_texts("pdf", "pt_BR")["invoice"] == "Invoice"
