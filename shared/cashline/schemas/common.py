"""Shapes every route shares: errors, pagination, money, and the rules every request obeys (dates in
a plausible window, ranges in order, no control characters, no unknown fields)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, Protocol, Self, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from cashline.domain.date_window import EARLIEST_DATE, LATEST_DATE, WINDOW_TEXT
from cashline.domain.money import MAX_MINOR_UNITS as MAX_MINOR_UNITS  # re-exported: adapters import it here
from cashline.domain.money import normalize_currency
from cashline.errors import ValidationError

T = TypeVar("T")
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)
ModelT = TypeVar("ModelT", bound=BaseModel)

# --------------------------------------------------------------------------------------------------
# Naming the field at fault


class FieldProblem(ValueError):
    """Raised by a model validator to name the field at fault, relative to the model that raised it
    (pydantic puts a model validator's error on the model itself, which names no field)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def invalid_input(exc: PydanticValidationError) -> ValidationError:
    """The API's 400 for a pydantic error: the first problem, naming its field."""
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return ValidationError("the body is not valid JSON", field="body")
    field = field_of(first)
    return ValidationError(f"{field or 'request'}: {first.get('msg')}", field=field)


def parse_json(model: type[ModelT], raw: bytes) -> ModelT:
    """A JSON body as `model`, or the API's 400. Strict: a JSON string is not silently turned into a
    number or a boolean."""
    if not raw:
        raise ValidationError("a JSON request body is required", field="body")
    try:
        return model.model_validate_json(raw, strict=True)
    except PydanticValidationError as exc:
        raise invalid_input(exc) from exc


def field_of(error: ErrorDetails | Mapping[str, Any]) -> str | None:
    """The dotted path of the field a pydantic error is about, as the client spelled it
    (`lines.3.quantity`, `from`), or None when the error is about the whole body."""
    # Union members and validators appear in pydantic's path as class names or "function-after[...]";
    # fields are snake_case, so those segments are dropped to name the field the client sent.
    parts = [str(part) for part in error.get("loc", ()) if not (str(part)[:1].isupper() or "[" in str(part))]
    problem = (error.get("ctx") or {}).get("error")
    if isinstance(problem, FieldProblem):
        parts.append(problem.field)
    return ".".join(parts) or None


# --------------------------------------------------------------------------------------------------
# Dates: one plausible window for every date the API takes

_WINDOW = WINDOW_TEXT


def _plausible_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"the date must be {_WINDOW}")
    return value


def _plausible_moment(value: datetime) -> datetime:
    day = (value.astimezone(UTC) if value.tzinfo else value).date()
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"the time must be {_WINDOW}")
    return value


def _plausible_year(text: str) -> str:
    # The patterns below have already checked the shape; the first four characters are the year.
    if not EARLIEST_DATE.year <= int(text[:4]) <= LATEST_DATE.year:
        raise ValueError(f"the year must be between {EARLIEST_DATE.year} and {LATEST_DATE.year}")
    if "-W" in text:
        date.fromisocalendar(int(text[:4]), int(text[-2:]), 1)  # ValueError for week 53 of a short year
    elif len(text) == 10:
        _plausible_date(date.fromisoformat(text))
    return text


_MONTH = r"\d{4}-(0[1-9]|1[0-2])"
_WEEK = r"\d{4}-W(0[1-9]|[1-4][0-9]|5[0-3])"
_DAY = r"\d{4}-\d{2}-\d{2}"


def _calendar_date_text(value: Any) -> Any:
    # Pydantic's lax mode (query strings, CSV cells) reads "0.0" or "86400" as a Unix timestamp and
    # "2026-12-07T10:00" as a day: a business date is written YYYY-MM-DD and nothing else.
    if isinstance(value, str):
        if not re.fullmatch(_DAY, value):
            raise ValueError("a date is written YYYY-MM-DD")
        # Parsed here, so strict mode (JSON bodies) and lax mode (query strings) read it alike.
        return date.fromisoformat(value)
    if isinstance(value, int | float):
        raise ValueError("a date is written YYYY-MM-DD, not as a number")
    return value


BusinessDate = Annotated[
    date,
    BeforeValidator(_calendar_date_text),
    AfterValidator(_plausible_date),
    Field(description=f"YYYY-MM-DD, {_WINDOW}", examples=["2026-12-07"]),
]
# For an instant a client sends (none does today; a new one uses this type, a unit test checks it).
Moment = Annotated[
    datetime,
    AfterValidator(_plausible_moment),
    Field(description=f"ISO 8601 date and time with its offset, {_WINDOW}"),
]
# A period to list: a week, a month or a day.
CalendarPeriod = Annotated[
    str,
    Field(pattern=f"^({_WEEK}|{_MONTH}|{_DAY})$", examples=["2026-W49", "2026-12", "2026-12-07"]),
    AfterValidator(_plausible_year),
]
# An accounting period: a month, a quarter or a year.
AccountingPeriod = Annotated[
    str,
    Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$", examples=["2026-11", "2026-Q4", "2026"]),
    AfterValidator(_plausible_year),
]

# Range bounds that must be in order, by the names the API uses: `<x>_from`/`<x>_to`, `from`/`to`,
# `<x>_start`/`<x>_end`, `<x>_min`/`<x>_max`. The pair is found from the upper bound's name.
_RANGE_ENDS = {"_to": "_from", "_end": "_start", "_max": "_min"}


def range_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(lower, upper) field names of the ranges among a model's fields."""
    pairs: list[tuple[str, str]] = []
    for name in names:
        lower: str | None
        if name in {"to", "end"}:
            lower = next((n for n in ("from_", "from", "start") if n in names), None)
        else:
            lower = next(
                (name[: -len(end)] + start for end, start in _RANGE_ENDS.items() if name.endswith(end)), None
            )
        if lower is not None and lower in names:
            pairs.append((lower, name))
    return pairs


# --------------------------------------------------------------------------------------------------
# Text: no control characters


class _FreeTextMarker:
    """Marks a string type whose values may hold tab and line breaks (notes, descriptions, bodies)."""

    def __repr__(self) -> str:
        return "FreeText"


FREE_TEXT = _FreeTextMarker()
# Tab, line feed and carriage return are allowed in free text; nothing else below 0x20, DEL, the C1
# range (0x80-0x9f) or a lone surrogate (which no UTF-8 encoder can write: a CSV or a DynamoDB
# string would fail later, far from the request).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_IN_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _marked_free_text(info: FieldInfo) -> bool:
    def walk(annotation: Any) -> bool:
        return any(arg is FREE_TEXT or walk(arg) for arg in get_args(annotation))

    return any(item is FREE_TEXT for item in info.metadata) or walk(info.annotation)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a field's value; nested request models check their own."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, path)
            yield from _strings(item, f"{path}.{key}")


class RequestModel(BaseModel):
    """Base of request bodies and query strings, and the one place their shared rules live:

    - unknown fields are an error, not silently dropped;
    - no string holds a control character (tab and line breaks only in fields marked `FREE_TEXT`);
    - ranges are in order (`due_from` <= `due_to`, `from` <= `to`, `amount_min` <= `amount_max`).

    Dates are checked by their type (`BusinessDate`, `CalendarPeriod`, `AccountingPeriod`, `Moment`),
    which every date field uses (tests/unit/test_request_rules.py checks that none is a bare `date`).
    """

    # defer_build: the validator is built on a model's first use, not when its module is imported, so
    # a cold start pays only for the models its first request touches (same schema, same errors).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    __free_text_fields__: ClassVar[frozenset[str]] = frozenset()
    __range_pairs__: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields
        cls.__free_text_fields__ = frozenset(n for n, f in fields.items() if _marked_free_text(f))
        cls.__range_pairs__ = tuple(range_pairs(list(fields)))

    def _client_name(self, name: str) -> str:
        return type(self).model_fields[name].alias or name

    @model_validator(mode="after")
    def _no_control_characters(self) -> Self:
        for name in type(self).model_fields:
            pattern = _CONTROL_IN_FREE_TEXT if name in self.__free_text_fields__ else _CONTROL
            for path, text in _strings(getattr(self, name), self._client_name(name)):
                found = pattern.search(text)
                if found:
                    code = f"U+{ord(found.group()):04X}"
                    raise FieldProblem(f"control character {code} is not allowed here", path)
        return self

    @model_validator(mode="after")
    def _ranges_in_order(self) -> Self:
        for lower, upper in self.__range_pairs__:
            low, high = getattr(self, lower), getattr(self, upper)
            if low is not None and high is not None and high < low:
                upper_name = self._client_name(upper)
                order = "before" if isinstance(low, date) else "less than"
                raise FieldProblem(f"{upper_name} is {order} {self._client_name(lower)}", upper_name)
        return self


class OutputModel(BaseModel):
    # defer_build: as RequestModel's, built on first use rather than at import.
    model_config = ConfigDict(extra="forbid", defer_build=True)


CurrencyCode = Annotated[
    str,
    Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR", examples=["EUR"]),
    AfterValidator(normalize_currency),
]
MinorUnits = Annotated[
    int,
    Field(
        ge=-MAX_MINOR_UNITS,
        le=MAX_MINOR_UNITS,
        description="Amount in the currency's minor units (cents for EUR, yen for JPY)",
    ),
]


class ErrorDetail(OutputModel):
    type: str = Field(description="Stable machine-readable error type, e.g. invalid_request, not_found")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, when there is one")
    request_id: str | None = None
    rule: str | None = Field(default=None, description="The business rule broken, e.g. EN 16931 BR-CO-15")
    existing_id: str | None = Field(default=None, description="On a duplicate (409): the record that exists")


class ErrorOutput(OutputModel):
    error: ErrorDetail


class ListQuery(RequestModel):
    limit: int = Field(default=20, ge=1, le=100)
    starting_after: str | None = Field(
        default=None, max_length=2048, description="The `next_cursor` of the previous page"
    )


class PageOutput(OutputModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


class _Page(Protocol[S_co]):
    """What a repository's page offers (dal.pagination.Page), without importing the data layer."""

    @property
    def items(self) -> Sequence[S_co]: ...
    @property
    def next_cursor(self) -> str | None: ...


def page_output(page: _Page[S], item: Callable[[S], T]) -> PageOutput[T]:
    """The one way a list route answers: each item of the page mapped to its wire shape."""
    return PageOutput[T](
        data=[item(i) for i in page.items],
        has_more=page.next_cursor is not None,
        next_cursor=page.next_cursor,
    )
