"""Which locale a reminder, statement or alert is formatted in: never refused for a rare pair."""

from __future__ import annotations

import pytest

from cashline.domain.locales import locale_for


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("de", "CH", "de_CH"),
        ("en", "DE", "en_DE"),
        ("en-GB", "GB", "en_GB"),
        ("en", "JP", "en"),  # CLDR has no en_JP: the language alone (a monthly statement once crashed)
        ("de", None, "de"),
        ("xx", "DE", "en"),
        ("", "FR", "en_FR"),
    ],
)
def test_a_locale_is_the_pair_cldr_knows_else_the_language_else_english(
    language: str, country: str | None, expected: str
) -> None:
    assert locale_for(language, country) == expected
