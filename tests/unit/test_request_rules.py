"""The rules every request model shares (schemas/common.py): plausible dates, ranges in order, no
control characters, unknown fields refused; totals from lines bounded; profiles written only when
they read back."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AfterValidator, Field
from pydantic import ValidationError as PydanticValidationError

import cashline.schemas
from cashline.dal.party_repository import readable
from cashline.domain.counterparties import Counterparty
from cashline.domain.invoices import LineAmountError, LineInput, price_lines
from cashline.domain.money import MAX_MINOR_UNITS
from cashline.errors import ValidationError
from cashline.schemas.common import (
    FREE_TEXT,
    AccountingPeriod,
    BusinessDate,
    CalendarPeriod,
    Moment,
    RequestModel,
    field_of,
    range_pairs,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _request_models() -> list[type[RequestModel]]:
    for module in pkgutil.iter_modules(cashline.schemas.__path__):
        importlib.import_module(f"cashline.schemas.{module.name}")
    found: list[type[RequestModel]] = []
    pending: list[type[RequestModel]] = [RequestModel]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                pending.append(sub)
    return found


def _validators(annotation: Any, metadata: list[Any]) -> list[Any]:
    """Every AfterValidator function on a field, through unions and nested Annotated types."""
    functions = [m.func for m in metadata if isinstance(m, AfterValidator)]
    for arg in get_args(annotation):
        functions += [a.func for a in get_args(arg)[1:] if isinstance(a, AfterValidator)]
        functions += _validators(arg, [])
    return functions


def _mentions(annotation: Any, kinds: tuple[type, ...]) -> bool:
    return annotation in kinds or any(_mentions(arg, kinds) for arg in get_args(annotation))


def test_every_date_field_of_every_request_model_is_checked_for_plausibility() -> None:
    plausible = {
        v.func for t in (BusinessDate, Moment) for v in get_args(t)[1:] if isinstance(v, AfterValidator)
    }
    checked = []
    for model in _request_models():
        for name, field in model.model_fields.items():
            if _mentions(field.annotation, (date, datetime)):
                found = set(_validators(field.annotation, field.metadata))
                assert found & plausible, f"{model.__name__}.{name} is a bare date"
                checked.append(f"{model.__name__}.{name}")
    assert len(checked) >= 20, checked


def test_every_request_model_refuses_unknown_fields() -> None:
    for model in _request_models():
        assert model.model_config.get("extra") == "forbid", model.__name__


class _Window(RequestModel):
    day: BusinessDate | None = None
    period: CalendarPeriod | None = None
    accounting: AccountingPeriod | None = None
    due_from: BusinessDate | None = None
    due_to: BusinessDate | None = None
    from_: BusinessDate | None = Field(default=None, alias="from")
    to: BusinessDate | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    note: Annotated[str, FREE_TEXT] | None = None


def _problem(**values: Any) -> tuple[str | None, str]:
    with pytest.raises(PydanticValidationError) as caught:
        _Window.model_validate(values)
    first = caught.value.errors()[0]
    return field_of(first), str(first["msg"])


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"day": "0001-01-01"}, "day"),
        ({"day": "1969-12-31"}, "day"),
        ({"day": "2101-01-01"}, "day"),
        ({"day": "9999-12-31"}, "day"),
        ({"period": "9999-12"}, "period"),
        ({"period": "9999-W52"}, "period"),
        ({"period": "2027-W53"}, "period"),  # 2027 has 52 ISO weeks
        ({"period": "2026-13"}, "period"),
        ({"period": "9999-12-31"}, "period"),
        ({"accounting": "9999"}, "accounting"),
        ({"accounting": "1969-Q4"}, "accounting"),
        ({"due_from": "2027-01-01", "due_to": "2026-01-01"}, "due_to"),
        ({"from": "2027-01-01", "to": "2026-01-01"}, "to"),
        ({"amount_min": 5, "amount_max": 3}, "amount_max"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": "a\x85b"}, "name"),  # C1 NEL
        ({"name": "a\x7fb"}, "name"),
        ({"name": "a\ud800b"}, "name"),  # a lone surrogate: no UTF-8 encoder can write it
        ({"tags": ["ok", "a\x1bb"]}, "tags.1"),
        ({"labels": {"k": "a\x00"}}, "labels.k"),
        ({"labels": {"k\x00": "v"}}, "labels"),
        ({"note": "a\x00b"}, "note"),
        ({"note": "a\x0bb"}, "note"),
    ],
)
def test_the_shared_rules_name_the_field(values: dict[str, Any], field: str) -> None:
    assert _problem(**values)[0] == field


def test_plausible_values_pass_and_free_text_keeps_its_lines() -> None:
    accepted = _Window.model_validate(
        {
            "day": "1970-01-01",
            "period": "2026-W53",
            "accounting": "2100-Q4",
            "due_from": "2026-01-01",
            "due_to": "2026-01-01",
            "to": "2100-12-31",
            "amount_min": 3,
            "amount_max": 3,
            "name": "Müller & Söhne, Zürich",
            "note": "line one\r\n\tline two",
        }
    )
    assert accepted.note == "line one\r\n\tline two"


def test_range_pairs_are_found_by_name() -> None:
    names = ["value_date_from", "value_date_to", "from_", "to", "amount_min", "amount_max", "due_to"]
    assert range_pairs(names) == [
        ("value_date_from", "value_date_to"),
        ("from_", "to"),
        ("amount_min", "amount_max"),
    ]


def _line(quantity: str, unit_amount: int, tax_rate: str = "0") -> LineInput:
    return LineInput("x", Decimal(quantity), unit_amount, Decimal(tax_rate))


@pytest.mark.parametrize(
    ("lines", "index"),
    [
        ([_line("1", 1), _line("99999999999.999999", MAX_MINOR_UNITS)], 1),  # the line
        ([_line("1", MAX_MINOR_UNITS), _line("1", 1)], 1),  # the subtotal
        ([_line("1", MAX_MINOR_UNITS, "0.0001")], 0),  # the tax, then the total
        ([_line("1", 900_000_000_000_000, "19")], 0),  # net within, total beyond
        ([_line("-1", MAX_MINOR_UNITS), _line("-1", 1)], 1),  # credits are bounded too
    ],
)
def test_a_total_beyond_the_limit_names_the_line(lines: list[LineInput], index: int) -> None:
    with pytest.raises(LineAmountError) as caught:
        price_lines(lines)
    assert caught.value.index == index


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False),
            st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS),
            st.sampled_from(["0", "7", "19", "7.7"]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_priced_lines_never_exceed_the_limit(lines: list[tuple[Decimal, int, str]]) -> None:
    try:
        pricing = price_lines([LineInput("x", q, u, Decimal(r)) for q, u, r in lines])
    except LineAmountError:
        return
    for amount in (
        pricing.subtotal,
        pricing.tax,
        pricing.total,
        *(line.net_amount for line in pricing.lines),
    ):
        assert abs(amount) <= MAX_MINOR_UNITS


def _counterparty(**changes: Any) -> Counterparty:
    base = Counterparty(
        tenant_id="ten_1",
        counterparty_id="cp_1",
        name="Kunde AG",
        email=None,
        phone=None,
        address={"line1": "Hauptstr. 1"},
        country=None,
        preferred_language=None,
        segment=None,
        tax_id=None,
        iban=None,
        external_reference=None,
        metadata={},
        created_at=NOW,
        updated_at=NOW,
        version=1,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"address": {"line1": "Hauptstr. 1", "line2": None}}, "address.line2"),
        ({"metadata": None}, "metadata"),
        ({"metadata": {"k": None}}, "metadata.k"),
    ],
)
def test_a_profile_the_read_path_cannot_load_is_not_written(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        readable(_counterparty(**changes))
    assert caught.value.field == field


def test_falsy_values_are_values_for_the_read_path() -> None:
    profile = _counterparty(metadata={}, segment="", address=None)
    assert readable(profile) is profile
