from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from cashline.domain import reminder_templates as rt
from cashline.domain.late_charges import late_charges
from cashline.domain.reminder_templates import (
    BUILTIN,
    CHANNELS,
    DEFAULT_BY_CHANNEL,
    LANGUAGES,
    STAGES,
    ReminderTemplate,
    TemplateProblem,
    builtin,
    reminder_context,
    render,
    sample_context,
    validate,
)

LOCALES = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}
ALL_KEYS = [(stage, channel, language) for stage in STAGES for channel in CHANNELS for language in LANGUAGES]

# GSM 03.38: the basic alphabet plus the extension table (which costs two characters each).
GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà" + "^{}\\[~]|€"
)


def _render(key: tuple[str, str, str], *, full: bool = True) -> rt.Rendered:
    locale = LOCALES[key[2]]
    return render(BUILTIN[key], sample_context(full=full, locale=locale), locale)


def _tenant(body: str, subject: str | None = None) -> ReminderTemplate:
    return ReminderTemplate("mine", "email", "en", subject, body, builtin=False)


@pytest.mark.parametrize("key", ALL_KEYS, ids="/".join)
@pytest.mark.parametrize("full", [True, False], ids=["all-parts", "no-optional-parts"])
def test_every_builtin_renders_cleanly(key: tuple[str, str, str], full: bool) -> None:
    rendered = _render(key, full=full)
    assert rendered.body.strip()
    for leftover in ("{{", "}}", "{%", "%}", "None", "\n\n\n", "  "):
        assert leftover not in rendered.body, leftover
    assert "RE-2025-0042" in rendered.body + (rendered.subject or "")
    if key[1] == "sms":
        assert rendered.subject is None
    else:
        assert rendered.subject and "\n" not in rendered.subject


def test_every_stage_exists_for_every_channel_and_language() -> None:
    assert set(BUILTIN) == set(ALL_KEYS)
    for (stage, channel, language), template in BUILTIN.items():
        assert (template.name, template.channel, template.language, template.builtin) == (
            stage,
            channel,
            language,
            True,
        )


@pytest.mark.parametrize("key", ALL_KEYS, ids="/".join)
def test_builtins_pass_their_own_validation(key: tuple[str, str, str]) -> None:
    template = BUILTIN[key]
    validate(template.body)
    if template.subject:
        validate(template.subject)


def test_german_amounts_and_dates() -> None:
    rendered = _render(("first_reminder", "email", "de"))
    assert rendered.subject == "Zahlungserinnerung: Rechnung RE-2025-0042"
    assert rendered.body.startswith("Sehr geehrte Damen und Herren,\n\nnach unseren Unterlagen")
    assert "Offener Betrag: 1.234,56 €" in rendered.body
    assert "Rechnungsdatum: 01.07.2025" in rendered.body
    assert "bis zum 10. September 2025" in rendered.body
    assert "IBAN DE89 3704 0044 0532 0130 00" in rendered.body
    assert rendered.body.endswith("Mit freundlichen Grüßen\nMüller & Söhne GmbH")
    english = _render(("first_reminder", "email", "en"))
    assert "Amount outstanding: €1,234.56" in english.body


@pytest.mark.parametrize("stage", ["first_reminder", "second_reminder", "final_notice"])
@pytest.mark.parametrize("channel", ["email", "letter"])
def test_late_charges_appear_on_overdue_reminders(stage: str, channel: str) -> None:
    german = _render((stage, channel, "de")).body
    assert "Verzugszinsen (10,15 % p. a. für 30 Tage): 10,15 €" in german
    assert "Verzugspauschale: 40,00 €" in german
    assert "Zu zahlender Gesamtbetrag: 1.284,71 €" in german
    english = _render((stage, channel, "en")).body
    assert "Late payment interest (10.15% p.a. for 30 days): €10.15" in english
    assert "Fixed compensation for recovery costs: €40.00" in english
    assert "Total now due: €1,284.71" in english
    without = _render((stage, channel, "de"), full=False).body
    assert "Verzugszinsen" not in without
    assert "1.234,56 €" in without


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_friendly_reminder_never_shows_late_charges(channel: str, language: str) -> None:
    body = _render(("friendly_reminder", channel, language)).body
    for word in ("Verzug", "Zinsen", "interest", "compensation", "40,00", "€40.00", "1.284,71", "1,284.71"):
        assert word not in body


def test_friendly_reminder_before_the_due_date() -> None:
    context = sample_context(full=False, locale="en_GB")
    context["invoice"]["days_past_due"] = -3
    body = render(builtin("friendly_reminder", "email", "en"), context, "en_GB").body
    assert "falls due on 31 July 2025" in body
    context["invoice"]["days_past_due"] = 0
    sms = render(builtin("friendly_reminder", "sms", "de"), context, "de_DE").body
    assert "ist heute fällig" in sms


@pytest.mark.parametrize("key", [k for k in ALL_KEYS if k[1] == "sms"], ids="/".join)
def test_sms_fit_two_messages_in_the_gsm_alphabet(key: tuple[str, str, str]) -> None:
    body = _render(key).body
    assert len(body) <= rt.SMS_MAX_CHARS
    assert "\n" not in body
    assert set(body) <= GSM_7, set(body) - GSM_7


def test_letters_and_emails_sign_off_as_a_business_does() -> None:
    assert _render(("second_reminder", "letter", "en")).body.endswith("Yours faithfully\nMüller & Söhne GmbH")
    assert _render(("second_reminder", "email", "en")).body.endswith("Kind regards\nMüller & Söhne GmbH")
    final = _render(("final_notice", "letter", "de"))
    assert final.subject == "Letzte Mahnung \u2013 Rechnung Nr. RE-2025-0042 vom 01.07.2025"
    assert "Inkassounternehmen" in final.body
    assert "dieses Schreiben" in final.body


def test_call_tasks_are_scripts_for_staff() -> None:
    script = _render(("second_reminder", "call_task", "en")).body
    assert "Suggested script:" in script
    assert "1. Introduce yourself" in script
    assert "Total now due: €1,284.71" in script
    assert "Promise not kept" in script
    german = _render(("final_notice", "call_task", "de")).body
    assert "Gesprächsleitfaden:" in german
    assert "„Guten Tag, mein Name ist <Ihr Name> von Müller & Söhne GmbH." in german


def test_builtin_falls_back_to_english_and_refuses_unknown_names() -> None:
    assert builtin("first_reminder", "email", "de_AT") is BUILTIN[("first_reminder", "email", "de")]
    assert builtin("first_reminder", "email", "de-CH") is BUILTIN[("first_reminder", "email", "de")]
    # Italian has no texts (French did until it got its file: see test_reminder_texts.py).
    assert builtin("first_reminder", "email", "it") is BUILTIN[("first_reminder", "email", "en")]
    assert builtin("first_reminder", "email", "") is BUILTIN[("first_reminder", "email", "en")]
    with pytest.raises(KeyError):
        builtin("polite_nudge", "email", "en")
    with pytest.raises(KeyError):
        builtin("first_reminder", "fax", "en")


def test_default_by_channel_names_an_existing_builtin_for_every_channel() -> None:
    assert set(DEFAULT_BY_CHANNEL) == set(CHANNELS)
    for channel, name in DEFAULT_BY_CHANNEL.items():
        assert (name, channel, "en") in BUILTIN
    assert DEFAULT_BY_CHANNEL["email"] == "first_reminder"


def test_context_holds_only_plain_values() -> None:
    def check(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert isinstance(key, str)
                check(item)
        else:
            assert value is None or type(value) in (str, int), (value, type(value))

    check(sample_context(full=True))
    check(sample_context(full=False))


def test_rate_text_names_each_rate_when_it_changed() -> None:
    charges = late_charges(1_000_000, "EUR", date(2025, 6, 15), date(2025, 7, 15))
    assert rt.rate_text(charges, "de_DE") == (
        "11,15 % p. a. 16.06.2025 \u2013 30.06.2025, 10,15 % p. a. 01.07.2025 \u2013 15.07.2025"
    )
    single = late_charges(1_000_000, "EUR", date(2025, 8, 1), date(2025, 8, 31))
    assert rt.rate_text(single, "en_GB") == "10.15% p.a."


def test_reminder_context_from_real_late_charges() -> None:
    charges = late_charges(123_456, "EUR", date(2025, 7, 31), date(2025, 8, 30))
    context = reminder_context(
        locale="de_DE",
        creditor_name="Müller & Söhne GmbH",
        creditor_email="ar@example.com",
        creditor_iban="de89 3704 0044 0532 0130 00",
        debtor_name="Kunde AG",
        debtor_language="de",
        invoice_number="R-1",
        issue_date=date(2025, 7, 1),
        due_date=date(2025, 7, 31),
        currency="eur",
        amount_due=123_456,
        amount_outstanding=123_456,
        days_past_due=30,
        step_number=1,
        channel="email",
        late_charges=charges,
    )
    assert context["creditor"]["iban"] == "DE89 3704 0044 0532 0130 00"
    assert context["invoice"]["currency"] == "EUR"
    assert context["invoice"]["amount_paid"] == 0
    # 1,234.56 x 10.15% x 30/365 = 10.298... -> 10.30
    assert context["late_charges"] == {
        "interest": 1030,
        "compensation": 4000,
        "total": 5030,
        "days": 30,
        "rate_text": "10,15 % p. a.",
    }
    assert context["total_due"] == 128_486
    assert (context["step"]["pay_by"], context["promise"]) == (None, None)


def test_filters_are_locale_aware() -> None:
    template = _tenant(
        "{{ 123456|money('EUR') }}|{{ 123456|money('JPY') }}|{{ -5|money('EUR') }}|"
        "{{ 1015|percent }}|{{ '2025-07-01'|date('long') }}|{{ '2025-07-01'|date }}"
    )
    assert (
        render(template, {}, "de_DE").body == "1.234,56 €|123.456 ¥|-0,05 €|10,15 %|1. Juli 2025|01.07.2025"
    )
    assert render(template, {}, "en_GB").body == "€1,234.56|JP¥123,456|-€0.05|10.15%|1 July 2025|1 Jul 2025"
    assert render(template, {}, "de-AT").body.startswith("€ 1.234,56|")


def test_money_filter_refuses_floats() -> None:
    with pytest.raises(TypeError):
        render(_tenant("{{ 12.5|money('EUR') }}"), {}, "de_DE")


def test_unknown_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown locale"):
        render(_tenant("x"), {}, "xx_YY")


def test_subject_is_one_line_whatever_the_data() -> None:
    context = sample_context()
    context["debtor"]["name"] = "Evil\r\nBcc: everyone@example.com"
    rendered = render(BUILTIN[("second_reminder", "call_task", "en")], context, "en_GB")
    assert rendered.subject == "Second reminder call: Evil Bcc: everyone@example.com, invoice RE-2025-0042"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ invoice.__init__.__globals__ }}",
        "{{ invoice.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ invoice.update({'number': 'x'}) }}",
        "{{ 'x' * 100000 }}",
        "{{ 10 ** 10 ** 10 }}",
        "{{ ''.format.__globals__ }}",
    ],
)
def test_sandbox_escapes_are_refused(source: str) -> None:
    with pytest.raises(SecurityError):
        render(_tenant(source), sample_context(), "en_GB")
    with pytest.raises(TemplateProblem):
        validate(source)


def test_strict_undefined_makes_a_typo_an_error_not_a_blank() -> None:
    with pytest.raises(UndefinedError):
        render(_tenant("Invoice {{ invoice.numbr }}"), sample_context(), "en_GB")
    with pytest.raises(UndefinedError):
        render(_tenant("Hello {{ customer }}"), sample_context(), "en_GB")


def test_validate_reports_syntax_errors_with_their_line() -> None:
    with pytest.raises(TemplateProblem) as problem:
        validate("Dear Sir or Madam,\n\n{% if %}\nlate\n{% endif %}")
    assert problem.value.line == 3
    assert str(problem.value).startswith("line 3:")
    with pytest.raises(TemplateProblem) as unterminated:
        validate("Dear Sir or Madam,\n\n{% if invoice.days_past_due > 0 %}\nlate")
    assert unterminated.value.line == 4  # Jinja notices at the end of the text
    with pytest.raises(TemplateProblem) as unclosed:
        validate("Hello\n{{ invoice.number }")
    assert unclosed.value.line == 2


def test_validate_reports_unknown_names_in_any_branch() -> None:
    source = "Hello\n{% if late_charges %}\nsee {{ lat_charges.total }}\n{% endif %}\n{{ debtor.name }}"
    with pytest.raises(TemplateProblem) as problem:
        validate(source)
    assert problem.value.line == 3
    assert "lat_charges" in str(problem.value)


def test_validate_reports_misspelt_fields_with_their_line() -> None:
    with pytest.raises(TemplateProblem) as problem:
        validate(
            "Hello {{ debtor.name }},\n\nyou owe {{ invoice.amount_outstandin|money(invoice.currency) }}"
        )
    assert problem.value.line == 3
    assert "amount_outstandin" in str(problem.value)


def test_validate_catches_unguarded_optional_parts() -> None:
    with pytest.raises(TemplateProblem) as problem:
        validate("Interest:\n{{ late_charges.interest|money(invoice.currency) }}")
    assert problem.value.line == 2
    assert "no optional parts" in str(problem.value)
    validate("{% if late_charges %}Interest: {{ late_charges.interest|money(invoice.currency) }}{% endif %}")


def test_validate_accepts_loop_and_set_variables() -> None:
    validate(
        "{% set total = invoice.amount_outstanding %}{% for n in range(2) %}{{ n }}{{ total }}{% endfor %}"
    )


def test_runaway_output_is_stopped() -> None:
    with pytest.raises(TemplateProblem, match="longer than"):
        render(_tenant("{% for i in range(20000) %}0123456789{% endfor %}"), {}, "en_GB")


def test_tenant_templates_use_the_same_context_and_filters() -> None:
    template = _tenant(
        "{{ debtor.name }}, please pay {{ total_due|money(invoice.currency) }}.\n"
        "{% if late_charges %}\n"
        "Interest: {{ late_charges.interest|money(invoice.currency) }}\n"
        "{% endif %}\n"
        "Thanks.",
        subject="Invoice {{ invoice.number }}",
    )
    rendered = render(template, sample_context(), "de_DE")
    assert rendered == rt.Rendered(
        subject="Invoice RE-2025-0042",
        body="Beispiel Handels AG, please pay 1.284,71 €.\nInterest: 10,15 €\nThanks.",
    )
    assert render(replace(template, subject=None), sample_context(full=False), "en_GB").body == (
        "Beispiel Handels AG, please pay €1,234.56.\nThanks."
    )
