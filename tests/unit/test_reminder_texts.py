"""The built-in reminder texts as data: every language renders every template, no language lacks a
text English has, and English and German are byte for byte what they were before the texts moved out
of the code.

`reminder_texts_pinned.json` was written by `python -m tests.unit.test_reminder_texts` with the code
as it was before the move (texts concatenated in Python): the composed source of each built-in and
its rendering for every case of `pinned_cases()`. Regenerate it only for a deliberate change of an
English or German text, and read the diff.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cashline.domain import reminder_templates as rt
from cashline.domain import reminder_texts
from cashline.domain.late_charges import LateCharges
from cashline.domain.money_text import format_minor_units, parse_locale
from cashline.domain.reminder_context import format_basis_points, format_day
from cashline.domain.reminder_templates import (
    BUILTIN,
    CHANNELS,
    LANGUAGES,
    STAGES,
    builtin,
    reminder_context,
    render,
    sample_context,
    validate,
)

PINNED = Path(__file__).with_name("reminder_texts_pinned.json")
TEXTS = Path(rt.__file__).with_name("reminder_texts")
PINNED_LANGUAGES = ("en", "de")
# Each language in the locale it is most often written in, and one more that formats differently.
PINNED_LOCALES = {"en": ("en_GB", "en_US"), "de": ("de_DE", "de_CH")}
LOCALES = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}


def _key(key: tuple[str, str, str]) -> str:
    return "/".join(key)


def _context(case: str, locale: str) -> dict[str, Any]:
    """The inputs a reminder meets: before, on and after the due date, paid in part, rate changes..."""
    if case == "full":
        return sample_context(full=True, locale=locale)
    if case == "bare":
        return sample_context(full=False, locale=locale)
    common: dict[str, Any] = {
        "locale": locale,
        "creditor_name": "Acme Ltd",
        "debtor_name": "Client SARL",
        "debtor_language": "fr",
        "invoice_number": "INV-7",
        "issue_date": date(2026, 1, 15),
        "due_date": date(2026, 2, 14),
        "step_number": 1,
        "channel": "sms",
    }
    if case in ("early", "today"):
        # Phone but no e-mail address: the contact line names the phone only.
        return reminder_context(
            **common,
            creditor_email="",
            creditor_phone="+44 20 7946 0000",
            currency="GBP",
            amount_due=99_999,
            amount_outstanding=99_999,
            days_past_due=-5 if case == "early" else 0,
        )
    if case == "part_paid":
        # Two rates (the reference rate changed while late), one day, no compensation (not EUR),
        # a promise without an amount, no deadline, e-mail but no phone.
        charges = LateCharges(
            days_late=1,
            interest=7,
            compensation=0,
            rate_periods=[
                (date(2025, 12, 31), date(2025, 12, 31), 1015),
                (date(2026, 1, 1), date(2026, 1, 1), 1065),
            ],
        )
        return reminder_context(
            **common,
            creditor_email="ar@acme.example",
            creditor_iban="GB29 NWBK 6016 1331 9268 19",
            currency="USD",
            amount_due=500_000,
            amount_outstanding=200_000,
            days_past_due=1,
            late_charges=charges,
            promise_date=date(2026, 2, 20),
        )
    if case == "yen":
        # A currency without decimals, a long delay, August (a month some languages accent).
        charges = LateCharges(
            days_late=200,
            interest=5_560,
            compensation=6_000,
            rate_periods=[(date(2026, 2, 15), date(2026, 9, 2), 1015)],
        )
        return reminder_context(
            **common,
            creditor_email="keiri@acme.example",
            creditor_phone="+81 3 1234 5678",
            currency="JPY",
            amount_due=1_000_000,
            amount_outstanding=1_000_000,
            days_past_due=200,
            late_charges=charges,
            pay_by=date(2026, 8, 15),
            promise_date=date(2026, 8, 1),
            promise_amount=500_000,
        )
    raise ValueError(case)


CASES = ("full", "bare", "early", "today", "part_paid", "yen")


def pinned_cases() -> Iterator[tuple[str, tuple[str, str, str], str, dict[str, Any]]]:
    """(name, template key, locale, context) for every pinned rendering."""
    for language in PINNED_LANGUAGES:
        main, other = PINNED_LOCALES[language]
        for stage in STAGES:
            for channel in CHANNELS:
                key = (stage, channel, language)
                for case in CASES:
                    yield f"{_key(key)}@{main}#{case}", key, main, _context(case, main)
                yield f"{_key(key)}@{other}#full", key, other, _context("full", other)


def _snapshot() -> dict[str, Any]:
    sources = {
        _key(key): {"subject": BUILTIN[key].subject, "body": BUILTIN[key].body}
        for key in sorted(BUILTIN)
        if key[2] in PINNED_LANGUAGES
    }
    renders = {}
    for name, key, locale, context in pinned_cases():
        rendered = render(BUILTIN[key], context, locale)
        renders[name] = {"subject": rendered.subject, "body": rendered.body}
    return {"sources": sources, "renders": renders}


# --------------------------------------------------------------------------------------------------
# English and German exactly as before


def test_english_and_german_sources_are_unchanged() -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))["sources"]
    for name, expected in pinned.items():
        stage, channel, language = name.split("/")
        template = BUILTIN[(stage, channel, language)]
        assert {"subject": template.subject, "body": template.body} == expected, name
    assert len(pinned) == len(STAGES) * len(CHANNELS) * len(PINNED_LANGUAGES)


def test_english_and_german_renderings_are_unchanged() -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))["renders"]
    seen = 0
    for name, key, locale, context in pinned_cases():
        rendered = render(BUILTIN[key], context, locale)
        assert {"subject": rendered.subject, "body": rendered.body} == pinned[name], name
        seen += 1
    assert seen == len(pinned)


def test_rate_text_is_unchanged_in_english_and_german() -> None:
    two = LateCharges(
        days_late=2,
        interest=1,
        compensation=0,
        rate_periods=[
            (date(2025, 6, 30), date(2025, 6, 30), 1115),
            (date(2025, 7, 1), date(2025, 7, 1), 1015),
        ],
    )
    assert (
        rt.rate_text(two, "en_GB")
        == "11.15% p.a. 30 Jun 2025 \u2013 30 Jun 2025, 10.15% p.a. 1 Jul 2025 \u2013 1 Jul 2025"
    )
    assert rt.rate_text(two, "de_AT") == (
        "11,15 % p. a. 30.06.2025 \u2013 30.06.2025, 10,15 % p. a. 01.07.2025 \u2013 01.07.2025"
    )
    # A language without texts writes the rate the English way, in its own number format.
    assert rt.rate_text(two, "es_ES").startswith("11,15 % p.a. ")


# --------------------------------------------------------------------------------------------------
# Every language: complete, rendered cleanly, formatted for its locale


def _keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _keys(value, f"{prefix}{key}.")
    return keys


def test_the_languages_are_the_files() -> None:
    assert LANGUAGES[0] == "en"
    assert set(LANGUAGES) == {path.stem for path in TEXTS.glob("*.toml")} >= {"en", "de", "fr"}


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_no_language_lacks_a_key_english_has(language: str) -> None:
    english = _keys(tomllib.loads((TEXTS / "en.toml").read_text(encoding="utf-8")))
    other = _keys(tomllib.loads((TEXTS / f"{language}.toml").read_text(encoding="utf-8")))
    assert english - other == set(), f"{language}.toml lacks these keys of en.toml"
    assert other - english == set(), f"{language}.toml has keys en.toml does not (a typo?)"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
def test_every_template_renders_in_every_language(language: str, case: str) -> None:
    locale = LOCALES.get(language, language)
    context = _context(case, locale)
    for stage in STAGES:
        for channel in CHANNELS:
            template = BUILTIN[(stage, channel, language)]
            assert (template.name, template.channel, template.language) == (stage, channel, language)
            rendered = render(template, context, locale)
            shown = rendered.body + (rendered.subject or "")
            for leftover in ("{{", "}}", "{%", "%}", "${", "None", "\n\n\n", "  ", "\xa0", "\u202f"):
                assert leftover not in shown, (stage, channel, leftover)
            assert context["invoice"]["number"] in shown
            assert rendered.body.strip() == rendered.body and rendered.body
            assert (rendered.subject is None) == (channel == "sms"), (stage, channel)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_builtin_passes_validation_in_every_language(language: str) -> None:
    for stage in STAGES:
        for channel in CHANNELS:
            template = BUILTIN[(stage, channel, language)]
            validate(template.body)
            if template.subject is not None:
                validate(template.subject)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", ["email", "letter", "call_task"])
def test_money_and_dates_are_formatted_for_the_locale(language: str, channel: str) -> None:
    locale = LOCALES[language]
    loc = parse_locale(locale)
    body = render(BUILTIN[("second_reminder", channel, language)], sample_context(locale=locale), locale).body
    assert format_minor_units(128_471, "EUR", locale) in body  # the total due
    assert format_minor_units(123_456, "EUR", locale) in body
    assert format_day(date(2025, 7, 31), "medium", loc) in body  # the due date
    assert format_basis_points(1015, loc) in body  # the rate
    for raw in ("2025-07-31", "2025-09-10", "128471", "1015 "):  # (the phone number holds 123456)
        assert raw not in body


def test_each_language_writes_its_own_figures() -> None:
    bodies = {
        language: render(
            BUILTIN[("first_reminder", "email", language)], sample_context(locale=locale), locale
        ).body
        for language, locale in LOCALES.items()
    }
    assert "Total now due: €1,284.71" in bodies["en"]
    assert "Zu zahlender Gesamtbetrag: 1.284,71 €" in bodies["de"]
    assert "Total à régler : 1 284,71 €" in bodies["fr"]
    assert "au plus tard le 10 septembre 2025" in bodies["fr"]
    assert "Date d\u2019échéance : 31 juil. 2025" in bodies["fr"]


# --------------------------------------------------------------------------------------------------
# French


def test_french_uses_the_terms_of_french_late_payment_law() -> None:
    for stage in ("first_reminder", "second_reminder", "final_notice"):
        for channel in ("email", "letter"):
            body = render(BUILTIN[(stage, channel, "fr")], sample_context(locale="fr_FR"), "fr_FR").body
            assert "Pénalités de retard (10,15 % par an sur 30 jours) : 10,15 €" in body
            assert "Indemnité forfaitaire pour frais de recouvrement : 40,00 €" in body
            assert body.startswith("Madame, Monsieur,\n\n")
            assert "BGB" not in body and "Verzug" not in body


def test_french_letters_and_emails_are_formal_and_signed() -> None:
    letter = render(BUILTIN[("final_notice", "letter", "fr")], sample_context(locale="fr_FR"), "fr_FR")
    assert letter.subject == "Dernière relance \u2013 facture n° RE-2025-0042 du 1 juil. 2025"
    assert letter.body.endswith(
        "\n\nNous vous prions d\u2019agréer, Madame, Monsieur, l\u2019expression de nos salutations "
        "distinguées.\nMüller & Söhne GmbH"
    )
    assert "société de recouvrement" in letter.body and "ce courrier" in letter.body
    email = render(BUILTIN[("first_reminder", "email", "fr")], sample_context(locale="fr_FR"), "fr_FR")
    assert email.body.endswith("\n\nCordialement,\nMüller & Söhne GmbH")
    assert " tu " not in email.body and "vous" in email.body


def test_french_sms_dates_stay_in_the_gsm_alphabet_in_august() -> None:
    context = _context("yen", "fr_FR")  # pay by 15 August: "août" has a letter GSM-7 lacks
    body = render(BUILTIN[("final_notice", "sms", "fr")], context, "fr_FR").body
    assert "d'ici le 15/08/2026" in body
    assert "û" not in body


def test_french_rate_text_names_each_period() -> None:
    two = LateCharges(
        days_late=2,
        interest=1,
        compensation=0,
        rate_periods=[
            (date(2025, 6, 30), date(2025, 6, 30), 1115),
            (date(2025, 7, 1), date(2025, 7, 1), 1015),
        ],
    )
    assert rt.rate_text(two, "fr_FR") == (
        "11,15 % par an du 30 juin 2025 au 30 juin 2025, 10,15 % par an du 1 juil. 2025 au 1 juil. 2025"
    )


@pytest.mark.parametrize("language", ["fr", "fr_FR", "fr-BE", "fr_CA", " FR "])
def test_a_french_debtor_gets_the_french_texts(language: str) -> None:
    assert builtin("second_reminder", "sms", language) is BUILTIN[("second_reminder", "sms", "fr")]


# --------------------------------------------------------------------------------------------------
# The loader


def test_each_file_is_read_once_per_process() -> None:
    first = BUILTIN[("first_reminder", "letter", "de")]
    assert BUILTIN[("first_reminder", "letter", "de")] is first
    assert reminder_texts._load("de") is reminder_texts._load("de")
    assert len(BUILTIN) == len(list(BUILTIN)) == len(STAGES) * len(CHANNELS) * len(LANGUAGES)
    assert BUILTIN.get(("first_reminder", "letter", "xx")) is None
    assert BUILTIN.get(("first_reminder", "fax", "en")) is None


def _english() -> dict[str, Any]:
    return tomllib.loads((TEXTS / "en.toml").read_text(encoding="utf-8"))


def _broken(change: str) -> dict[str, Any]:
    data = _english()
    if change == "missing channel":
        del data["templates"]["final_notice"]["sms"]
    elif change == "missing stage":
        del data["templates"]["final_notice"]
    elif change == "unknown passage":
        data["passages"]["payment"] += " ${paymnet}"
    elif change == "passage inserts itself":
        data["passages"]["facts"] = "${facts}"
    elif change == "rate without percent":
        data["rate"]["per_annum"] = "{rate} p.a."
    elif change == "unknown template key":
        data["templates"]["first_reminder"]["email"]["subjet"] = "x"
    elif change == "unknown channel":
        data["templates"]["first_reminder"]["fax"] = {"body": "x"}
    elif change == "not text":
        data["passages"]["facts"] = 3
    return data


@pytest.mark.parametrize(
    "change",
    [
        "missing channel",
        "missing stage",
        "unknown passage",
        "passage inserts itself",
        "rate without percent",
        "unknown template key",
        "unknown channel",
        "not text",
    ],
)
def test_a_malformed_file_is_refused_with_what_is_wrong(change: str) -> None:
    with pytest.raises(reminder_texts.ReminderTextsError):
        reminder_texts._parse("xx", _broken(change))


def test_passages_are_inserted_before_jinja_sees_the_text() -> None:
    language = reminder_texts._parse("xx", _english())
    email = language.templates[("first_reminder", "email")]
    letter = language.templates[("first_reminder", "letter")]
    assert "${" not in email.body + (email.subject or "")
    assert "please disregard this e-mail." in email.body and "please disregard this letter." in letter.body
    assert email.language == "xx" and email.builtin


if __name__ == "__main__":  # regenerates the pinned file (see the module docstring)
    PINNED.write_text(
        json.dumps(_snapshot(), ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
