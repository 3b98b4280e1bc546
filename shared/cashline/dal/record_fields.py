"""Records that store a domain dataclass field by field, under the same names: the mapping both ways
is found from the dataclass's types, so a new field needs only its attribute on the record.

How a field is stored: an enum by its value, a date as ISO text, an empty `dict[str, str]` as
nothing (read back as `{}`; an optional one as it is), a whole number read back as `int` (DynamoDB
numbers may come back as another type); anything else (text, instants) as it is. `X | None` stores
None as None. `version` is left to PynamoDB (its VersionAttribute conditions each write and counts
it up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date
from enum import StrEnum
from functools import cache
from types import NoneType
from typing import Any, get_args, get_type_hints

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (to the record, back to the domain)


def _same(value: Any) -> Any:
    return value


def _codec_of(hint: Any) -> Codec:
    if hint == dict[str, str]:
        return (lambda value: value or None), (lambda value: value or {})
    members = get_args(hint)
    if NoneType in members and len(members) == 2:
        inner = next(m for m in members if m is not NoneType)
        if inner == dict[str, str]:
            return _same, _same  # None is its "none": an empty mapping is kept as it is
        inner_store, inner_load = _codec_of(inner)
        return (
            lambda value: None if value is None else inner_store(value),
            lambda value: None if value is None else inner_load(value),
        )
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return (lambda value: value.value), hint
    if hint is date:
        return date.isoformat, date.fromisoformat
    if hint is int:
        return _same, int
    return _same, _same


@cache
def _codecs(domain_type: Any) -> dict[str, Codec]:
    hints = get_type_hints(domain_type)
    return {f.name: _codec_of(hints[f.name]) for f in fields(domain_type) if f.name != "version"}


def stored_fields(value: Any) -> dict[str, Any]:
    """The record's attributes for a domain dataclass (all but `version`)."""
    domain_type: Any = type(value)
    return {name: store(getattr(value, name)) for name, (store, _) in _codecs(domain_type).items()}


def loaded_fields(domain_type: Any, record: Any) -> dict[str, Any]:
    """The domain dataclass's fields (all but `version`) from its record."""
    return {name: load(getattr(record, name)) for name, (_, load) in _codecs(domain_type).items()}
