"""The built-in reminder texts: one TOML file per language beside this module, loaded on first use.

A file holds Jinja2 sources only; this module reads it (stdlib ``tomllib``, no new dependency),
checks that it defines every stage on every channel and nothing else, and inserts the ``${name}``
passages (see the head of ``en.toml`` for the format). Rendering is ``reminder_templates``' job:
nothing here imports Jinja2 or Babel, so listing or choosing a built-in costs no template engine.

Adding a language is adding ``<code>.toml``: the languages are the files that are there.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

STAGES = ("friendly_reminder", "first_reminder", "second_reminder", "final_notice")
CHANNELS = ("email", "sms", "letter", "call_task")
FALLBACK_LANGUAGE = "en"

_FOLDER = Path(__file__).parent
# English first (the fallback), then the others by code. Listing a folder is cheap; each file is
# parsed only when a text in its language is first asked for, once per process.
LANGUAGES: tuple[str, ...] = (
    FALLBACK_LANGUAGE,
    *sorted(path.stem for path in _FOLDER.glob("*.toml") if path.stem != FALLBACK_LANGUAGE),
)

_PASSAGE = re.compile(r"\$\{(\w+)\}")
_MAX_NESTING = 8  # passages inserting passages; deeper means one inserts itself
_RATE_FIELDS = {"per_annum": {"percent"}, "period": {"rate", "start", "end"}}
_TOP_LEVEL = {"rate", "channels", "passages", "templates"}
_TEMPLATE_KEYS = {"subject", "body"}


class ReminderTextsError(ValueError):
    """A language file that is malformed: a packaging error, found by the tests before a release."""


@dataclass(frozen=True)
class ReminderTemplate:
    name: str
    channel: str
    language: str
    subject: str | None
    body: str
    builtin: bool = True


# NamedTuples rather than frozen dataclasses: defining one costs a tenth (this module is imported on
# the first reminder of a process, and the figures add up).
class RateWords(NamedTuple):
    """How a language writes an interest rate: ``per_annum`` of ``{percent}``, and a ``period`` of
    ``{rate}`` from ``{start}`` to ``{end}`` (the figures formatted by the caller for the locale)."""

    per_annum: str
    period: str


class _Language(NamedTuple):
    templates: dict[tuple[str, str], ReminderTemplate]
    rate: RateWords


def builtin(name: str, channel: str, language: str) -> ReminderTemplate:
    """The built-in template; English when there is none in ``language`` ('de', 'de_AT', 'de-CH').

    KeyError for an unknown name or channel (a lookup miss, like the dict behind it).
    """
    lang = re.split(r"[_-]", language.strip(), maxsplit=1)[0].lower()
    template = BUILTIN.get((name, channel, lang)) or BUILTIN.get((name, channel, FALLBACK_LANGUAGE))
    if template is None:
        raise KeyError(f"no built-in template {name!r} for channel {channel!r}")
    return template


def rate_words(language: str) -> RateWords:
    """The rate wording of ``language`` (a code like 'de'); English's for a language without a file."""
    return _load(language if language in LANGUAGES else FALLBACK_LANGUAGE).rate


class _Builtins(Mapping[tuple[str, str, str], ReminderTemplate]):
    """(stage, channel, language) -> template; a language's file is read when first looked into."""

    def __getitem__(self, key: tuple[str, str, str]) -> ReminderTemplate:
        if not (isinstance(key, tuple) and len(key) == 3 and key[2] in LANGUAGES):
            raise KeyError(key)
        stage, channel, language = key
        return _load(language).templates[(stage, channel)]

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        for language in LANGUAGES:
            for stage, channel in _load(language).templates:
                yield stage, channel, language

    def __len__(self) -> int:
        return len(STAGES) * len(CHANNELS) * len(LANGUAGES)


BUILTIN: Mapping[tuple[str, str, str], ReminderTemplate] = _Builtins()


@cache
def _load(language: str) -> _Language:
    path = _FOLDER / f"{language}.toml"
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
        return _parse(language, data)
    except (tomllib.TOMLDecodeError, ReminderTextsError, TypeError, KeyError) as exc:
        raise ReminderTextsError(f"{path.name}: {exc}") from exc


def _parse(language: str, data: dict[str, Any]) -> _Language:
    _only(data, _TOP_LEVEL, "the file")
    _only(data["channels"], set(CHANNELS), "[channels]")
    _only(data["templates"], set(STAGES), "[templates]")
    missing = set(STAGES) - set(data["templates"])
    if missing:
        raise ReminderTextsError(f"no template for {sorted(missing)}")
    passages = _strings(data["passages"], "[passages]")
    templates = {}
    for stage in STAGES:
        table = data["templates"][stage]
        _only(table, set(CHANNELS) | {key for key, value in table.items() if isinstance(value, str)}, stage)
        for channel in CHANNELS:
            where = f"templates.{stage}.{channel}"
            if channel not in table:
                raise ReminderTextsError(f"no {where}")
            source = table[channel]
            _only(source, _TEMPLATE_KEYS, where)
            scopes = (
                _strings(data["channels"].get(channel, {}), f"[channels.{channel}]"),
                {key: value for key, value in table.items() if isinstance(value, str)},
                passages,
            )
            subject = source.get("subject")
            templates[(stage, channel)] = ReminderTemplate(
                name=stage,
                channel=channel,
                language=language,
                subject=None if subject is None else _insert(subject, scopes, f"{where}.subject"),
                body=_insert(source["body"], scopes, f"{where}.body"),
            )
    return _Language(templates=templates, rate=_rate(_strings(data["rate"], "[rate]")))


def _insert(text: str, scopes: tuple[Mapping[str, str], ...], where: str, depth: int = 0) -> str:
    if not isinstance(text, str):
        raise ReminderTextsError(f"{where} is not a string")
    if depth > _MAX_NESTING:
        raise ReminderTextsError(f"{where}: passages nested more than {_MAX_NESTING} deep")

    def passage(match: re.Match[str]) -> str:
        name = match.group(1)
        for scope in scopes:
            if name in scope:
                return _insert(scope[name], scopes, f"{where} > {name}", depth + 1)
        raise ReminderTextsError(f"{where}: no passage named {name!r}")

    return _PASSAGE.sub(passage, text)


def _rate(table: Mapping[str, str]) -> RateWords:
    _only(table, set(_RATE_FIELDS), "[rate]")
    for key, fields in _RATE_FIELDS.items():
        used = {field for _, field, _, _ in string.Formatter().parse(table[key]) if field is not None}
        if used != fields:
            raise ReminderTextsError(f"rate.{key} must use exactly {sorted(fields)}, uses {sorted(used)}")
    return RateWords(per_annum=table["per_annum"], period=table["period"])


def _strings(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, dict) or not all(isinstance(value, str) for value in table.values()):
        raise ReminderTextsError(f"{where} must hold text only")
    return table


def _only(table: Any, allowed: set[str], where: str) -> None:
    if not isinstance(table, dict):
        raise ReminderTextsError(f"{where} must be a table")
    unknown = set(table) - allowed
    if unknown:
        raise ReminderTextsError(f"{where}: unknown {sorted(unknown)}")
