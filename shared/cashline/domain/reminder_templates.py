"""Collection (dunning) templates: sandboxed rendering of the built-in texts and of a tenant's own.

The built-in texts are data, one file per language (``reminder_texts/<language>.toml``, loaded by
``cashline.domain.reminder_texts``); this module is the engine that renders them and checks a
tenant's. Money, dates and percentages are formatted by Babel for the locale the caller passes.

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

The context is ``reminder_context``'s (documented in ``cashline.domain.reminder_context``).

Filters (formatted for the locale passed to ``render``):
``money(currency)`` minor units -> "1.234,56 €"; ``date(format)`` ISO date -> "01.07.2025"
(format short, medium (default), long, full or a CLDR pattern); ``percent`` basis points -> "10,15 %".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel import Locale
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cashline.domain.money_text import format_minor_units, parse_locale
from cashline.domain.reminder_context import (
    format_basis_points,
    format_day,
    format_iban,
    rate_text,
    reminder_context,
    sample_context,
)
from cashline.domain.reminder_texts import (
    BUILTIN,
    CHANNELS,
    FALLBACK_LANGUAGE,
    LANGUAGES,
    STAGES,
    ReminderTemplate,
    builtin,
)

# Callers import the texts, the context and the engine from here, as they did when this was one module.
__all__ = [
    "BUILTIN",
    "CHANNELS",
    "DEFAULT_BY_CHANNEL",
    "FALLBACK_LANGUAGE",
    "LANGUAGES",
    "MAX_OUTPUT_CHARS",
    "SMS_MAX_CHARS",
    "STAGES",
    "ReminderTemplate",
    "Rendered",
    "TemplateProblem",
    "builtin",
    "format_iban",
    "rate_text",
    "reminder_context",
    "render",
    "sample_context",
    "validate",
]

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
class Rendered:
    subject: str | None
    body: str


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
    return format_day(value, format, loc)


def _percent(basis_points: object, loc: Locale) -> str:
    _defined(basis_points)
    return format_basis_points(basis_points, loc)
