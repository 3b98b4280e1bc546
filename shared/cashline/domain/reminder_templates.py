"""Collection (dunning) templates: the built-in texts and sandboxed rendering of any template.

Templates are Jinja2 source, rendered as plain text (no autoescaping: e-mails go out as text/plain,
SMS and letters are not HTML). A tenant may write its own, so rendering is locked down:

- ``ImmutableSandboxedEnvironment``: no attribute starting with ``_``, no ``str.format`` tricks, no
  mutating the context (``invoice.update(...)``); a template cannot reach a Python object beyond
  the plain dicts, strings and ints of ``reminder_context`` (which is why the context never holds
  domain objects, dates or Decimals: dates travel as ISO strings and money as int minor units).
- ``StrictUndefined``: a misspelt name is an error at validation and at render time, never a blank
  gap in a letter to a customer.
- ``**`` is refused and ``*`` may not build huge strings or lists; the output is capped. The
  sandbox does not bound CPU time in general (a deep loop is still slow); the caller's timeout
  does.

Rendering uses ``trim_blocks`` and ``lstrip_blocks`` so a ``{% if %}`` on a line of its own leaves
no empty line; a tag that closes an inline condition at the end of a line is written ``{% endif +%}``
to keep that line's newline. Runs of blank lines left by empty sections are collapsed to one.

The context (see ``reminder_context``)::

    creditor      name, email, phone (or None), iban (or None, grouped in fours)
    debtor        name, language
    invoice       number, issue_date, due_date (ISO), currency, amount_due, amount_paid,
                  amount_outstanding (minor units), days_past_due (negative before the due date)
    late_charges  None, or interest, compensation, total (minor units), days, rate_text
    total_due     amount_outstanding plus the late charges, minor units
    step          number, channel, pay_by (ISO date or None)
    promise       None, or date (ISO) and amount (minor units or None): a promise to pay not kept

Filters (formatted for the locale passed to ``render``):
``money(currency)`` minor units -> "1.234,56 €"; ``date(format)`` ISO date -> "01.07.2025"
(format short, medium (default), long, full or a CLDR pattern); ``percent`` basis points -> "10,15 %".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_percent
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cashline.domain.late_charges import LateCharges
from cashline.domain.money import normalize_currency
from cashline.domain.money_text import format_minor_units, parse_locale, plain_spaces

STAGES = ("friendly_reminder", "first_reminder", "second_reminder", "final_notice")
CHANNELS = ("email", "sms", "letter", "call_task")
LANGUAGES = ("en", "de")
FALLBACK_LANGUAGE = "en"
SMS_MAX_CHARS = 320  # two concatenated GSM-7 messages: what the built-ins must fit for a typical invoice
MAX_OUTPUT_CHARS = 100_000  # far beyond any letter; stops a runaway loop from filling memory
_MAX_REPEAT = 10_000  # longest string or list that ``*`` may build

# A step that names no template gets the first overdue reminder on every channel: it neither assumes
# the invoice is not yet due (friendly) nor escalates towards collection (second, final) on its own.
DEFAULT_BY_CHANNEL: dict[str, str] = {channel: "first_reminder" for channel in CHANNELS}


class TemplateProblem(ValueError):
    """A template that does not compile or render; ``line`` is the template line when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True)
class ReminderTemplate:
    name: str
    channel: str
    language: str
    subject: str | None
    body: str
    builtin: bool = True


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


# --------------------------------------------------------------------------------------------------
# Context


def reminder_context(
    *,
    locale: str,
    creditor_name: str,
    creditor_email: str,
    debtor_name: str,
    debtor_language: str,
    invoice_number: str,
    issue_date: date,
    due_date: date,
    currency: str,
    amount_due: int,
    amount_outstanding: int,
    days_past_due: int,
    step_number: int,
    channel: str,
    creditor_phone: str | None = None,
    creditor_iban: str | None = None,
    late_charges: LateCharges | None = None,
    pay_by: date | None = None,
    promise_date: date | None = None,
    promise_amount: int | None = None,
) -> dict[str, Any]:
    """The documented context, as plain dicts, str, int and None only.

    ``locale`` is only used for the interest rate text (the one value that is prose, not a number).
    """
    currency = normalize_currency(currency)
    charges: dict[str, Any] | None = None
    if late_charges is not None:
        charges = {
            "interest": late_charges.interest,
            "compensation": late_charges.compensation,
            "total": late_charges.total,
            "days": late_charges.days_late,
            "rate_text": rate_text(late_charges, locale),
        }
    promise = None
    if promise_date is not None:
        promise = {"date": promise_date.isoformat(), "amount": promise_amount}
    return {
        "creditor": {
            "name": creditor_name,
            "email": creditor_email,
            "phone": creditor_phone or None,
            "iban": format_iban(creditor_iban) if creditor_iban else None,
        },
        "debtor": {"name": debtor_name, "language": debtor_language},
        "invoice": {
            "number": invoice_number,
            "issue_date": issue_date.isoformat(),
            "due_date": due_date.isoformat(),
            "currency": currency,
            "amount_due": amount_due,
            "amount_paid": max(amount_due - amount_outstanding, 0),
            "amount_outstanding": amount_outstanding,
            "days_past_due": days_past_due,
        },
        "late_charges": charges,
        "total_due": amount_outstanding + (late_charges.total if late_charges else 0),
        "step": {
            "number": step_number,
            "channel": channel,
            "pay_by": pay_by.isoformat() if pay_by else None,
        },
        "promise": promise,
    }


def sample_context(*, full: bool = True, locale: str = "en_GB") -> dict[str, Any]:
    """A typical invoice: with every optional part (``full``) or with none of them."""
    charges = LateCharges(
        days_late=30,
        interest=1015,
        compensation=4000,
        rate_periods=[(date(2025, 8, 1), date(2025, 8, 30), 1015)],
    )
    return reminder_context(
        locale=locale,
        creditor_name="Müller & Söhne GmbH",
        creditor_email="buchhaltung@mueller-soehne.example",
        creditor_phone="+49 30 1234567" if full else None,
        creditor_iban="DE89370400440532013000" if full else None,
        debtor_name="Beispiel Handels AG",
        debtor_language="de",
        invoice_number="RE-2025-0042",
        issue_date=date(2025, 7, 1),
        due_date=date(2025, 7, 31),
        currency="EUR",
        amount_due=150_000 if full else 123_456,
        amount_outstanding=123_456,
        days_past_due=30,
        late_charges=charges if full else None,
        step_number=2,
        channel="email",
        pay_by=date(2025, 9, 10) if full else None,
        promise_date=date(2025, 8, 20) if full else None,
        promise_amount=123_456 if full else None,
    )


def rate_text(charges: LateCharges, locale: str) -> str:
    """'10.15% p.a.', or each period with its dates when the rate changed while the invoice was late."""
    loc = parse_locale(locale)
    per_annum = "p. a." if loc.language == "de" else "p.a."  # DIN 5008 spaces the German abbreviation
    parts = [f"{_percent(rate, loc)} {per_annum}" for _, _, rate in charges.rate_periods]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(
        f"{part} {_date(start, 'medium', loc)} \u2013 {_date(end, 'medium', loc)}"
        for part, (start, end, _) in zip(parts, charges.rate_periods, strict=True)
    )


def format_iban(iban: str) -> str:
    """Groups of four, the way an IBAN is printed on paper."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


# --------------------------------------------------------------------------------------------------
# Rendering


def render(template: ReminderTemplate, context: dict[str, Any], locale: str) -> Rendered:
    """Render subject and body; Jinja's UndefinedError and SecurityError propagate unchanged."""
    subject = None
    if template.subject is not None:
        # One line: a newline in a subject (e.g. from a debtor's name) would break the e-mail header.
        subject = " ".join(_render_text(template.subject, context, locale).split())
    return Rendered(subject=subject, body=_tidy(_render_text(template.body, context, locale)))


def validate(source: str) -> None:
    """Raise TemplateProblem unless ``source`` compiles and renders against the documented context.

    It is rendered twice, with every optional part present and with none, so that a misspelt field
    is caught and so is an unguarded use of an optional part (``late_charges.interest`` outside
    ``{% if late_charges %}``). Names outside the context are looked for in every branch.
    """
    environment = _environment("en_GB")
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    known = set(sample_context()) | set(environment.globals)
    unknown = meta.find_undeclared_variables(tree) - known
    if unknown:
        name = min(unknown, key=lambda n: _first_use(tree, n))
        raise TemplateProblem(f"'{name}' is not part of the reminder context", _first_use(tree, name))
    for full, situation in ((True, "every optional part present"), (False, "no optional parts")):
        try:
            _render_text(source, sample_context(full=full), "en_GB")
        # A tenant's template can fail in any way (1/0, a filter on the wrong type): report them all.
        except Exception as exc:
            raise TemplateProblem(f"{exc} (rendered with {situation})", _template_line(exc)) from None


def builtin(name: str, channel: str, language: str) -> ReminderTemplate:
    """The built-in template; English when there is none in ``language`` ('de', 'de_AT', 'de-CH').

    KeyError for an unknown name or channel (a lookup miss, like the dict behind it).
    """
    lang = re.split(r"[_-]", language.strip(), maxsplit=1)[0].lower()
    template = BUILTIN.get((name, channel, lang)) or BUILTIN.get((name, channel, FALLBACK_LANGUAGE))
    if template is None:
        raise KeyError(f"no built-in template {name!r} for channel {channel!r}")
    return template


def _render_text(source: str, context: dict[str, Any], locale: str) -> str:
    chunks: list[str] = []
    size = 0
    for chunk in _compiled(_locale_key(locale), source).generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateProblem(f"the rendered text is longer than {MAX_OUTPUT_CHARS} characters")
        chunks.append(chunk)
    return "".join(chunks)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _first_use(tree: nodes.Template, name: str) -> int:
    lines = [node.lineno for node in tree.find_all(nodes.Name) if node.name == name]
    return min(lines, default=1)


def _template_line(exc: BaseException) -> int | None:
    # Jinja rewrites tracebacks so that template frames carry the template's own line numbers.
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the power operator is not available in templates")
        for sequence, count in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(count, int)
                and len(sequence) * count > _MAX_REPEAT
            ):
                raise SecurityError(f"'*' may not build more than {_MAX_REPEAT} items")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=32)
def _environment(locale: str) -> _Sandbox:
    loc = parse_locale(locale)
    environment = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,  # plain text; nothing here is HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    filters: dict[str, Callable[..., str]] = {
        "money": lambda value, currency: _money(value, currency, loc),
        "date": lambda value, format="medium": _date(value, format, loc),
        "percent": lambda value: _percent(value, loc),
    }
    environment.filters.update(filters)
    return environment


@lru_cache(maxsize=512)
def _compiled(locale: str, source: str) -> Template:
    return _environment(locale).from_string(source)


def _locale_key(locale: str) -> str:
    return str(parse_locale(locale))


def _defined(value: object) -> None:
    # A misspelt field reaches a filter as Undefined: report the name, not "got StrictUndefined".
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _money(value: object, currency: object, loc: Locale) -> str:
    _defined(value)
    return format_minor_units(value, str(currency), loc)  # type: ignore[arg-type]  # checked there


def _date(value: object, format: str, loc: Locale) -> str:
    _defined(value)
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return str(format_date(day, format=format, locale=loc))


def _percent(basis_points: object, loc: Locale) -> str:
    _defined(basis_points)
    if isinstance(basis_points, bool) or not isinstance(basis_points, int):
        raise TypeError(f"percent expects basis points as an int, got {type(basis_points).__name__}")
    fraction = Decimal(basis_points) / Decimal(10_000)
    return plain_spaces(format_percent(fraction, locale=loc, decimal_quantization=False))


# --------------------------------------------------------------------------------------------------
# Built-in templates. Shared passages are composed in Python so that each stage reads as one letter
# and the four stages cannot drift apart in how they state the facts. A tenant who copies one gets
# the composed source.

_EN_DEADLINE = '{% if step.pay_by %}by {{ step.pay_by|date("long") }}{% else %}within seven days{% endif %}'
_DE_DEADLINE = (
    '{% if step.pay_by %}bis zum {{ step.pay_by|date("long") }}'
    "{% else %}innerhalb von sieben Tagen{% endif %}"
)
_EN_SMS_DEADLINE = "{% if step.pay_by %}by {{ step.pay_by|date }}{% else %}promptly{% endif %}"
_DE_SMS_DEADLINE = "{% if step.pay_by %}bis {{ step.pay_by|date }}{% else %}umgehend{% endif %}"

_EN_FACTS = """\
Invoice number: {{ invoice.number }}
Invoice date: {{ invoice.issue_date|date }}
Due date: {{ invoice.due_date|date }}
{% if invoice.amount_paid %}
Invoice amount: {{ invoice.amount_due|money(invoice.currency) }}
Already paid: {{ invoice.amount_paid|money(invoice.currency) }}
{% endif %}
Amount outstanding: {{ invoice.amount_outstanding|money(invoice.currency) }}
{% if late_charges %}
Late payment interest ({{ late_charges.rate_text }} for {{ late_charges.days }} \
day{{ "s" if late_charges.days != 1 else "" }}): {{ late_charges.interest|money(invoice.currency) }}
{% if late_charges.compensation %}
Fixed compensation for recovery costs: {{ late_charges.compensation|money(invoice.currency) }}
{% endif %}
Total now due: {{ total_due|money(invoice.currency) }}
{% endif %}
"""

_DE_FACTS = """\
Rechnungsnummer: {{ invoice.number }}
Rechnungsdatum: {{ invoice.issue_date|date }}
Fällig am: {{ invoice.due_date|date }}
{% if invoice.amount_paid %}
Rechnungsbetrag: {{ invoice.amount_due|money(invoice.currency) }}
Bereits gezahlt: {{ invoice.amount_paid|money(invoice.currency) }}
{% endif %}
Offener Betrag: {{ invoice.amount_outstanding|money(invoice.currency) }}
{% if late_charges %}
Verzugszinsen ({{ late_charges.rate_text }} für {{ late_charges.days }} \
Tag{{ "e" if late_charges.days != 1 else "" }}): {{ late_charges.interest|money(invoice.currency) }}
{% if late_charges.compensation %}
Verzugspauschale: {{ late_charges.compensation|money(invoice.currency) }}
{% endif %}
Zu zahlender Gesamtbetrag: {{ total_due|money(invoice.currency) }}
{% endif %}
"""

_EN_PROMISE = """\
{% if promise %}
When we last spoke, you told us that you would pay{% if promise.amount %} \
{{ promise.amount|money(invoice.currency) }}{% endif %} by {{ promise.date|date("long") }}. \
Unfortunately, we have not received this payment.

{% endif %}
"""

_DE_PROMISE = """\
{% if promise %}
Bei unserem letzten Kontakt haben Sie uns die Zahlung{% if promise.amount %} von \
{{ promise.amount|money(invoice.currency) }}{% endif %} bis zum {{ promise.date|date("long") }} zugesagt. \
Leider ist diese Zahlung bisher nicht bei uns eingegangen.

{% endif %}
"""

_EN_PAYMENT = (
    "Please transfer {{ total_due|money(invoice.currency) }} " + _EN_DEADLINE + "{% if creditor.iban %} "
    "to our account IBAN {{ creditor.iban }}{% else %} to the account shown on the invoice{% endif %}, "
    "quoting the invoice number {{ invoice.number }} as the payment reference."
)
_DE_PAYMENT = (
    "Bitte überweisen Sie den Betrag von {{ total_due|money(invoice.currency) }} " + _DE_DEADLINE + " "
    "{% if creditor.iban %}auf unser Konto IBAN {{ creditor.iban }} "
    "{% else %}auf das in der Rechnung angegebene Konto {% endif %}"
    "unter Angabe der Rechnungsnummer {{ invoice.number }} als Verwendungszweck."
)
# Without an e-mail address or phone number in the collection settings, a reply to the reminder
# is the way to reach the creditor.
_EN_CONTACT = (
    "{% if creditor.email or creditor.phone %}If you have any questions about this invoice, please contact "
    "us{% if creditor.email %} at {{ creditor.email }}{% endif %}"
    "{% if creditor.phone %}{% if creditor.email %} or{% endif %} on {{ creditor.phone }}{% endif %}."
    "{% else %}If you have any questions about this invoice, please reply to this message.{% endif %}"
)
_DE_CONTACT = (
    "{% if creditor.email or creditor.phone %}Bei Fragen zu dieser Rechnung erreichen Sie uns"
    "{% if creditor.email %} unter {{ creditor.email }}{% endif %}"
    "{% if creditor.phone %}{% if creditor.email %} oder{% endif %} "
    "telefonisch unter {{ creditor.phone }}{% endif %}."
    "{% else %}Bei Fragen zu dieser Rechnung antworten Sie bitte einfach auf diese Nachricht.{% endif %}"
)
_EN_DUE_PHRASE = (
    '{% if invoice.days_past_due < 0 %}falls due on {{ invoice.due_date|date("long") }}'
    "{% elif invoice.days_past_due == 0 %}is due today"
    '{% else %}was due on {{ invoice.due_date|date("long") }}{% endif %}'
)
_DE_DUE_PHRASE = (
    '{% if invoice.days_past_due < 0 %}am {{ invoice.due_date|date("long") }} fällig wird'
    "{% elif invoice.days_past_due == 0 %}heute fällig ist"
    '{% else %}seit dem {{ invoice.due_date|date("long") }} fällig ist{% endif %}'
)
_DE_SMS_DUE_PHRASE = (  # a main clause: the verb comes second, not last as after "dass"
    "{% if invoice.days_past_due < 0 %}wird am {{ invoice.due_date|date }} fällig"
    "{% elif invoice.days_past_due == 0 %}ist heute fällig"
    "{% else %}war am {{ invoice.due_date|date }} fällig{% endif %}"
)

# What a reminder calls itself ("please disregard this e-mail") and how it is signed, per channel.
_EN_THIS = {"email": "this e-mail", "letter": "this letter"}
_DE_THIS = {"email": "diese E-Mail", "letter": "dieses Schreiben"}
_EN_SIGN_OFF = {"email": "Kind regards", "letter": "Yours faithfully"}
_DE_SIGN_OFF = {"email": "Mit freundlichen Grüßen", "letter": "Mit freundlichen Grüßen"}


def _en_friendly(this: str) -> str:
    return (
        "Dear Sir or Madam,\n\n"
        "This is a friendly reminder that our invoice {{ invoice.number }} dated "
        '{{ invoice.issue_date|date("long") }} for {{ invoice.amount_outstanding|money(invoice.currency) }} '
        + _EN_DUE_PHRASE
        + ".\n\n"
        "{% if creditor.iban %}\n"
        "If you have not yet arranged payment, please transfer the amount to our account "
        "IBAN {{ creditor.iban }}, quoting the invoice number {{ invoice.number }} "
        "as the payment reference.\n"
        "{% else %}\n"
        "If you have not yet arranged payment, please use the payment details on the invoice and quote "
        "the invoice number {{ invoice.number }} as the payment reference.\n"
        "{% endif %}\n\n"
        f"If payment is already on its way, thank you, and please disregard {this}.\n\n"
        + _EN_CONTACT
        + "\n\n"
    )


def _de_friendly(this: str) -> str:
    return (
        "Sehr geehrte Damen und Herren,\n\n"
        "wir möchten Sie freundlich daran erinnern, dass unsere Rechnung Nr. {{ invoice.number }} vom "
        '{{ invoice.issue_date|date("long") }} über {{ invoice.amount_outstanding|money(invoice.currency) }} '
        + _DE_DUE_PHRASE
        + ".\n\n"
        "{% if creditor.iban %}\n"
        "Falls Sie die Zahlung noch nicht veranlasst haben, überweisen Sie den Betrag bitte auf unser Konto "
        "IBAN {{ creditor.iban }} unter Angabe der Rechnungsnummer {{ invoice.number }} "
        "als Verwendungszweck.\n"
        "{% else %}\n"
        "Falls Sie die Zahlung noch nicht veranlasst haben, nutzen Sie bitte die Bankverbindung auf der "
        "Rechnung und geben Sie die Rechnungsnummer {{ invoice.number }} als Verwendungszweck an.\n"
        "{% endif %}\n\n"
        f"Sollte die Zahlung bereits unterwegs sein, danken wir Ihnen und bitten Sie, {this} als "
        "gegenstandslos zu betrachten.\n\n" + _DE_CONTACT + "\n\n"
    )


def _en_first(this: str) -> str:
    return (
        "Dear Sir or Madam,\n\n"
        "According to our records, the following invoice has not yet been paid:\n\n"
        + _EN_FACTS
        + "\n"
        + _EN_PROMISE
        + "Perhaps this has simply been overlooked. "
        + _EN_PAYMENT
        + "\n\n"
        f"If you have already paid, please disregard {this}. " + _EN_CONTACT + "\n\n"
    )


def _de_first(this: str) -> str:
    return (
        "Sehr geehrte Damen und Herren,\n\n"
        "nach unseren Unterlagen ist die folgende Rechnung noch nicht beglichen:\n\n"
        + _DE_FACTS
        + "\n"
        + _DE_PROMISE
        + "Möglicherweise ist Ihnen die Zahlung entgangen. "
        + _DE_PAYMENT
        + "\n\n"
        f"Sollten Sie die Zahlung bereits veranlasst haben, betrachten Sie {this} bitte als gegenstandslos. "
        + _DE_CONTACT
        + "\n\n"
    )


def _en_second(this: str) -> str:
    return (
        "Dear Sir or Madam,\n\n"
        "Despite our payment reminder, we have not yet received payment of the following invoice, which is "
        "now {{ invoice.days_past_due }} days overdue:\n\n"
        + _EN_FACTS
        + "\n"
        + _EN_PROMISE
        + "We must ask you to settle this amount without further delay. "
        + _EN_PAYMENT
        + "\n\n"
        "If there is a reason why you cannot pay, for example a problem with the invoice, please let us know "
        "straight away so that we can resolve it. " + _EN_CONTACT + "\n\n"
        f"If you have paid in the meantime, please disregard {this}.\n\n"
    )


def _de_second(this: str) -> str:
    return (
        "Sehr geehrte Damen und Herren,\n\n"
        "trotz unserer Zahlungserinnerung konnten wir bis heute keinen Zahlungseingang für die folgende "
        "Rechnung feststellen, die seit {{ invoice.days_past_due }} Tagen überfällig ist:\n\n"
        + _DE_FACTS
        + "\n"
        + _DE_PROMISE
        + "Wir bitten Sie, den offenen Betrag nun unverzüglich zu begleichen. "
        + _DE_PAYMENT
        + "\n\n"
        "Sollte es einen Grund geben, weshalb Sie nicht zahlen können, etwa eine Unstimmigkeit in der "
        "Rechnung, setzen Sie sich bitte umgehend mit uns in Verbindung, damit wir die Angelegenheit klären "
        "können. " + _DE_CONTACT + "\n\n"
        f"Sollten Sie die Zahlung inzwischen geleistet haben, betrachten Sie {this} bitte als "
        "gegenstandslos.\n\n"
    )


def _en_final(this: str) -> str:
    return (
        "Dear Sir or Madam,\n\n"
        "Despite our previous reminders, the following invoice remains unpaid "
        "{{ invoice.days_past_due }} days after its due date:\n\n"
        + _EN_FACTS
        + "\n"
        + _EN_PROMISE
        + "This is our final notice. "
        + _EN_PAYMENT
        + "\n\n"
        "If we have not received the full amount " + _EN_DEADLINE + ", we will pass the claim to a debt "
        "collection agency or take legal action without further notice. Any costs arising from this will be "
        "charged to you.\n\n"
        f"If you have paid in the meantime, please disregard {this}. " + _EN_CONTACT + "\n\n"
    )


def _de_final(this: str) -> str:
    return (
        "Sehr geehrte Damen und Herren,\n\n"
        "trotz unserer bisherigen Mahnungen ist die folgende Rechnung {{ invoice.days_past_due }} Tage nach "
        "Fälligkeit weiterhin unbezahlt:\n\n"
        + _DE_FACTS
        + "\n"
        + _DE_PROMISE
        + "Dies ist unsere letzte Mahnung. "
        + _DE_PAYMENT
        + "\n\n"
        "Sollte der vollständige Betrag nicht " + _DE_DEADLINE + " auf unserem Konto eingegangen sein, "
        "werden wir die Forderung ohne weitere Ankündigung an ein Inkassounternehmen übergeben oder "
        "gerichtliche Schritte einleiten. Die dadurch entstehenden Kosten gehen zu Ihren Lasten.\n\n"
        f"Sollten Sie die Zahlung inzwischen geleistet haben, betrachten Sie {this} bitte als "
        "gegenstandslos. " + _DE_CONTACT + "\n\n"
    )


_WRITTEN: dict[tuple[str, str], Callable[[str], str]] = {
    ("friendly_reminder", "en"): _en_friendly,
    ("friendly_reminder", "de"): _de_friendly,
    ("first_reminder", "en"): _en_first,
    ("first_reminder", "de"): _de_first,
    ("second_reminder", "en"): _en_second,
    ("second_reminder", "de"): _de_second,
    ("final_notice", "en"): _en_final,
    ("final_notice", "de"): _de_final,
}

_EMAIL_SUBJECTS = {
    (
        "friendly_reminder",
        "en",
    ): "Friendly reminder: invoice {{ invoice.number }} due on {{ invoice.due_date|date }}",
    ("first_reminder", "en"): "Payment reminder: invoice {{ invoice.number }}",
    ("second_reminder", "en"): "Second reminder: invoice {{ invoice.number }} is overdue",
    ("final_notice", "en"): "Final notice: invoice {{ invoice.number }}",
    ("friendly_reminder", "de"): (
        "Freundliche Erinnerung: Rechnung {{ invoice.number }} fällig am {{ invoice.due_date|date }}"
    ),
    ("first_reminder", "de"): "Zahlungserinnerung: Rechnung {{ invoice.number }}",
    ("second_reminder", "de"): "Mahnung: Rechnung {{ invoice.number }}",
    ("final_notice", "de"): "Letzte Mahnung: Rechnung {{ invoice.number }}",
}

# DIN 5008 letters carry no "Subject:" label; the subject names the document and the invoice.
_LETTER_TITLES = {
    ("friendly_reminder", "en"): "Friendly payment reminder",
    ("first_reminder", "en"): "Payment reminder",
    ("second_reminder", "en"): "Second payment reminder",
    ("final_notice", "en"): "Final notice",
    ("friendly_reminder", "de"): "Freundliche Zahlungserinnerung",
    ("first_reminder", "de"): "Zahlungserinnerung",
    ("second_reminder", "de"): "Mahnung",
    ("final_notice", "de"): "Letzte Mahnung",
}
_LETTER_SUBJECT = {
    "en": " \u2013 invoice {{ invoice.number }} of {{ invoice.issue_date|date }}",
    "de": " \u2013 Rechnung Nr. {{ invoice.number }} vom {{ invoice.issue_date|date }}",
}

_EN_SMS_OUTSTANDING = (
    "Outstanding: {{ invoice.amount_outstanding|money(invoice.currency) }}{% if late_charges %}"
    " + interest {{ late_charges.interest|money(invoice.currency) }}{% if late_charges.compensation %}"
    " + compensation {{ late_charges.compensation|money(invoice.currency) }}{% endif %}"
    " = {{ total_due|money(invoice.currency) }}{% endif %}."
)
_DE_SMS_OUTSTANDING = (
    "Offen: {{ invoice.amount_outstanding|money(invoice.currency) }}{% if late_charges %}"
    " + Zinsen {{ late_charges.interest|money(invoice.currency) }}{% if late_charges.compensation %}"
    " + Pauschale {{ late_charges.compensation|money(invoice.currency) }}{% endif %}"
    " = {{ total_due|money(invoice.currency) }}{% endif %}."
)
_EN_SMS_PAY = (
    " Please pay " + _EN_SMS_DEADLINE + "{% if creditor.iban %} to IBAN {{ creditor.iban }}, "
    "ref. {{ invoice.number }}{% endif %}."
)
_DE_SMS_PAY = (
    " Bitte zahlen Sie " + _DE_SMS_DEADLINE + "{% if creditor.iban %} auf IBAN {{ creditor.iban }}, "
    "Zweck {{ invoice.number }}{% endif %}."
)
_SMS_CONTACT = "{{ creditor.phone or creditor.email }}"

# SMS: one line, plain ASCII punctuation (GSM-7 has no typographic quotes or dashes), no salutation.
_SMS = {
    ("friendly_reminder", "en"): (
        "{{ creditor.name }}: Friendly reminder: invoice {{ invoice.number }} for "
        "{{ invoice.amount_outstanding|money(invoice.currency) }} "
        + _EN_DUE_PHRASE.replace('date("long")', "date")
        + ".{% if creditor.iban %} IBAN {{ creditor.iban }}, ref. {{ invoice.number }}.{% endif %}"
        " Already paid? Then please ignore this message."
    ),
    ("first_reminder", "en"): (
        "{{ creditor.name }}: Payment reminder: invoice {{ invoice.number }} was due on "
        "{{ invoice.due_date|date }}. " + _EN_SMS_OUTSTANDING + _EN_SMS_PAY + " Questions: " + _SMS_CONTACT
    ),
    ("second_reminder", "en"): (
        "{{ creditor.name }}: Second reminder: invoice {{ invoice.number }} is {{ invoice.days_past_due }} "
        "days overdue. " + _EN_SMS_OUTSTANDING + _EN_SMS_PAY + " Problem? Call us: " + _SMS_CONTACT
    ),
    ("final_notice", "en"): (
        "{{ creditor.name }}: FINAL NOTICE: invoice {{ invoice.number }} is {{ invoice.days_past_due }} "
        "days overdue. " + _EN_SMS_OUTSTANDING + _EN_SMS_PAY + " Otherwise the claim goes to a collection "
        "agency without further notice."
    ),
    ("friendly_reminder", "de"): (
        "{{ creditor.name }}: Freundliche Erinnerung: Rechnung {{ invoice.number }} über "
        "{{ invoice.amount_outstanding|money(invoice.currency) }} "
        + _DE_SMS_DUE_PHRASE
        + ".{% if creditor.iban %} IBAN {{ creditor.iban }}, Zweck {{ invoice.number }}.{% endif %}"
        " Bereits bezahlt? Dann betrachten Sie diese Nachricht bitte als gegenstandslos."
    ),
    ("first_reminder", "de"): (
        "{{ creditor.name }}: Zahlungserinnerung: Rechnung {{ invoice.number }} war am "
        "{{ invoice.due_date|date }} fällig. "
        + _DE_SMS_OUTSTANDING
        + _DE_SMS_PAY
        + " Fragen: "
        + _SMS_CONTACT
    ),
    ("second_reminder", "de"): (
        "{{ creditor.name }}: Mahnung: Rechnung {{ invoice.number }} ist seit {{ invoice.days_past_due }} "
        "Tagen überfällig. "
        + _DE_SMS_OUTSTANDING
        + _DE_SMS_PAY
        + " Probleme? Rufen Sie uns an: "
        + _SMS_CONTACT
    ),
    ("final_notice", "de"): (
        "{{ creditor.name }}: LETZTE MAHNUNG: Rechnung {{ invoice.number }} ist seit "
        "{{ invoice.days_past_due }} Tagen überfällig. "
        + _DE_SMS_OUTSTANDING
        + _DE_SMS_PAY
        + " Andernfalls Übergabe an ein Inkassobüro ohne weitere Ankündigung."
    ),
}

_EN_CALL_HEAD = """\
{{ debtor.name }}: invoice {{ invoice.number }} of {{ invoice.issue_date|date }}, \
due {{ invoice.due_date|date }}{% if invoice.days_past_due > 0 %} \
({{ invoice.days_past_due }} days overdue){% endif +%}
Amount outstanding: {{ invoice.amount_outstanding|money(invoice.currency) }}\
{% if invoice.amount_paid %} of {{ invoice.amount_due|money(invoice.currency) }}{% endif +%}
"""

# Never in the friendly stage: it goes out before the invoice is overdue.
_EN_CALL_CHARGES = """\
{% if late_charges %}
Late payment interest so far: {{ late_charges.interest|money(invoice.currency) }} \
({{ late_charges.rate_text }}){% if late_charges.compensation %}, fixed compensation: \
{{ late_charges.compensation|money(invoice.currency) }}{% endif +%}
Total now due: {{ total_due|money(invoice.currency) }}
{% endif %}
"""

_EN_CALL_TAIL = """\
{% if promise %}
Promise not kept: they said they would pay{% if promise.amount %} \
{{ promise.amount|money(invoice.currency) }}{% endif %} by {{ promise.date|date }}.
{% endif %}
Customer's language: {{ debtor.language }}. Reminder step {{ step.number }}.

Suggested script:
1. Introduce yourself: "Hello, this is <your name> from {{ creditor.name }}. I'm calling about our \
invoice {{ invoice.number }}."
"""

_DE_CALL_HEAD = """\
{{ debtor.name }}: Rechnung {{ invoice.number }} vom {{ invoice.issue_date|date }}, fällig am \
{{ invoice.due_date|date }}{% if invoice.days_past_due > 0 %} ({{ invoice.days_past_due }} Tage überfällig)\
{% endif +%}
Offener Betrag: {{ invoice.amount_outstanding|money(invoice.currency) }}\
{% if invoice.amount_paid %} von {{ invoice.amount_due|money(invoice.currency) }}{% endif +%}
"""

# Never in the friendly stage: it goes out before the invoice is overdue.
_DE_CALL_CHARGES = """\
{% if late_charges %}
Bisherige Verzugszinsen: {{ late_charges.interest|money(invoice.currency) }} ({{ late_charges.rate_text }})\
{% if late_charges.compensation %}, Verzugspauschale: {{ late_charges.compensation|money(invoice.currency) }}\
{% endif +%}
Zu zahlender Gesamtbetrag: {{ total_due|money(invoice.currency) }}
{% endif %}
"""

_DE_CALL_TAIL = """\
{% if promise %}
Nicht eingehaltene Zusage: Zahlung{% if promise.amount %} von {{ promise.amount|money(invoice.currency) }}\
{% endif %} bis zum {{ promise.date|date }}.
{% endif %}
Sprache des Kunden: {{ debtor.language }}. Schritt {{ step.number }} des Mahnlaufs.

Gesprächsleitfaden:
1. Stellen Sie sich vor: „Guten Tag, mein Name ist <Ihr Name> von {{ creditor.name }}. Ich rufe wegen \
unserer Rechnung Nr. {{ invoice.number }} an.“
"""

_EN_CALL_RECORD = (
    "\nAfterwards, record the outcome on this task: reached or not, promise to pay (date and amount), "
    "dispute and its reason."
)
_DE_CALL_RECORD = (
    "\nHalten Sie das Ergebnis anschließend in dieser Aufgabe fest: erreicht oder nicht, Zahlungszusage "
    "(Datum und Betrag), Einwände und deren Grund."
)
_EN_CALL_PAYMENT = (
    "Confirm the payment details: {% if creditor.iban %}IBAN {{ creditor.iban }}, {% endif %}"
    "reference {{ invoice.number }}."
)
_DE_CALL_PAYMENT = (
    "Bestätigen Sie die Zahlungsdaten: {% if creditor.iban %}IBAN {{ creditor.iban }}, {% endif %}"
    "Verwendungszweck {{ invoice.number }}."
)

_CALL_STEPS = {
    ("friendly_reminder", "en"): [
        "Check that the invoice has arrived and has been approved for payment.",
        "Ask on which date payment is planned and note it.",
        "If something is wrong with the invoice, note the details and arrange a call back.",
        "Thank them for their time.",
    ],
    ("first_reminder", "en"): [
        "Say that the invoice was due on {{ invoice.due_date|date }} and ask whether it has arrived and "
        "whether there is any problem with it.",
        "If there is a problem, note the reason and record a dispute; do not argue.",
        "Otherwise ask for a payment date and amount and record them as a promise to pay.",
        _EN_CALL_PAYMENT,
        "Thank them and repeat what was agreed.",
    ],
    ("second_reminder", "en"): [
        "Explain that this is the second reminder and that the invoice is {{ invoice.days_past_due }} days "
        "overdue.",
        "Ask why it has not been paid. If there is a problem with the invoice, note it and record a dispute.",
        "Ask for payment of {{ total_due|money(invoice.currency) }} " + _EN_DEADLINE + ". If they cannot pay "
        "in full, ask for a realistic instalment proposal and note it for approval.",
        _EN_CALL_PAYMENT,
        "Record any promise to pay with its date and amount, and repeat it back to them.",
    ],
    ("final_notice", "en"): [
        "Explain calmly that this is the final notice: unless {{ total_due|money(invoice.currency) }} is "
        "received "
        + _EN_DEADLINE
        + ", the claim will be passed to a collection agency or legal action will be "
        "taken. Do not threaten anything beyond that.",
        "Ask whether there is any reason the invoice has not been paid; if there is a dispute, note it.",
        "Ask for a firm payment date and amount and record them as a promise to pay.",
        _EN_CALL_PAYMENT,
        "Repeat what was agreed and the deadline.",
    ],
    ("friendly_reminder", "de"): [
        "Fragen Sie, ob die Rechnung angekommen und zur Zahlung freigegeben ist.",
        "Fragen Sie, wann die Zahlung geplant ist, und notieren Sie das Datum.",
        "Falls mit der Rechnung etwas nicht stimmt, notieren Sie die Einzelheiten und vereinbaren Sie einen "
        "Rückruf.",
        "Bedanken Sie sich für das Gespräch.",
    ],
    ("first_reminder", "de"): [
        "Weisen Sie darauf hin, dass die Rechnung am {{ invoice.due_date|date }} fällig war, und fragen Sie, "
        "ob sie angekommen ist und ob es Unstimmigkeiten gibt.",
        "Gibt es Einwände, notieren Sie den Grund und erfassen Sie einen Widerspruch; diskutieren Sie nicht.",
        "Andernfalls fragen Sie nach Zahlungstermin und Betrag und erfassen Sie beides als Zahlungszusage.",
        _DE_CALL_PAYMENT,
        "Bedanken Sie sich und fassen Sie die Vereinbarung zusammen.",
    ],
    ("second_reminder", "de"): [
        "Erklären Sie, dass dies die zweite Mahnung ist und die Rechnung seit {{ invoice.days_past_due }} "
        "Tagen überfällig ist.",
        "Fragen Sie nach dem Grund der Nichtzahlung. Gibt es Einwände gegen die Rechnung, notieren Sie sie "
        "und erfassen Sie einen Widerspruch.",
        "Bitten Sie um Zahlung von {{ total_due|money(invoice.currency) }} " + _DE_DEADLINE + ". Ist eine "
        "vollständige Zahlung nicht möglich, bitten Sie um einen realistischen Ratenvorschlag und "
        "notieren Sie ihn zur Freigabe.",
        _DE_CALL_PAYMENT,
        "Erfassen Sie jede Zahlungszusage mit Datum und Betrag und wiederholen Sie sie gegenüber dem Kunden.",
    ],
    ("final_notice", "de"): [
        "Erklären Sie sachlich, dass dies die letzte Mahnung ist: Geht der Betrag von "
        "{{ total_due|money(invoice.currency) }} nicht " + _DE_DEADLINE + " ein, wird die Forderung an ein "
        "Inkassounternehmen übergeben oder gerichtlich geltend gemacht. Drohen Sie nichts darüber hinaus an.",
        "Fragen Sie, ob es einen Grund für die Nichtzahlung gibt; bei Einwänden notieren Sie diese.",
        "Bitten Sie um einen verbindlichen Zahlungstermin mit Betrag und erfassen Sie ihn als "
        "Zahlungszusage.",
        _DE_CALL_PAYMENT,
        "Fassen Sie die Vereinbarung und die Frist zusammen.",
    ],
}

_CALL_SUBJECTS = {
    ("friendly_reminder", "en"): "Courtesy call: {{ debtor.name }}, invoice {{ invoice.number }}",
    ("first_reminder", "en"): "Reminder call: {{ debtor.name }}, invoice {{ invoice.number }}",
    ("second_reminder", "en"): "Second reminder call: {{ debtor.name }}, invoice {{ invoice.number }}",
    ("final_notice", "en"): "Final notice call: {{ debtor.name }}, invoice {{ invoice.number }}",
    ("friendly_reminder", "de"): "Serviceanruf: {{ debtor.name }}, Rechnung {{ invoice.number }}",
    ("first_reminder", "de"): "Erinnerungsanruf: {{ debtor.name }}, Rechnung {{ invoice.number }}",
    ("second_reminder", "de"): "Mahnanruf: {{ debtor.name }}, Rechnung {{ invoice.number }}",
    ("final_notice", "de"): "Letzter Mahnanruf: {{ debtor.name }}, Rechnung {{ invoice.number }}",
}


def _call_script(stage: str, language: str) -> str:
    if language == "de":
        head, charges, tail, record = _DE_CALL_HEAD, _DE_CALL_CHARGES, _DE_CALL_TAIL, _DE_CALL_RECORD
    else:
        head, charges, tail, record = _EN_CALL_HEAD, _EN_CALL_CHARGES, _EN_CALL_TAIL, _EN_CALL_RECORD
    if stage == "friendly_reminder":
        charges = ""
    steps = "".join(f"{n}. {text}\n" for n, text in enumerate(_CALL_STEPS[(stage, language)], start=2))
    return head + charges + tail + steps + record


def _build() -> dict[tuple[str, str, str], ReminderTemplate]:
    built: dict[tuple[str, str, str], ReminderTemplate] = {}
    for stage in STAGES:
        for language in LANGUAGES:
            this, sign_off = (_DE_THIS, _DE_SIGN_OFF) if language == "de" else (_EN_THIS, _EN_SIGN_OFF)
            write = _WRITTEN[(stage, language)]
            letter_subject = _LETTER_TITLES[(stage, language)] + _LETTER_SUBJECT[language]
            variants = {
                "email": (_EMAIL_SUBJECTS[(stage, language)], write(this["email"]) + sign_off["email"]),
                "letter": (letter_subject, write(this["letter"]) + sign_off["letter"]),
                "sms": (None, _SMS[(stage, language)]),
                "call_task": (_CALL_SUBJECTS[(stage, language)], _call_script(stage, language)),
            }
            for channel, (subject, body) in variants.items():
                if channel in ("email", "letter"):
                    body += "\n{{ creditor.name }}\n"
                built[(stage, channel, language)] = ReminderTemplate(
                    name=stage, channel=channel, language=language, subject=subject, body=body
                )
    return built


BUILTIN: dict[tuple[str, str, str], ReminderTemplate] = _build()
