from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.money import CurrencyError, Money, currency_exponent, normalize_currency


def test_exponents_come_from_iso_data_not_a_hard_coded_two() -> None:
    assert currency_exponent("EUR") == 2
    assert currency_exponent("JPY") == 0
    assert currency_exponent("BHD") == 3
    assert currency_exponent("chf") == 2


@pytest.mark.parametrize("code", ["EURO", "E1R", "", "XYZ", "eu"])
def test_unknown_currencies_are_refused(code: str) -> None:
    with pytest.raises(CurrencyError):
        normalize_currency(code)


def test_money_refuses_floats_and_bools() -> None:
    with pytest.raises(TypeError):
        Money(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "EUR")


def test_money_does_not_mix_currencies() -> None:
    with pytest.raises(CurrencyError):
        Money(100, "EUR") + Money(100, "USD")
    assert Money(100, "eur") + Money(5, "EUR") == Money(105, "EUR")


def test_split_differs_by_at_most_one_minor_unit_larger_parts_first() -> None:
    parts = Money(1000, "EUR").split(3)
    assert [p.amount for p in parts] == [334, 333, 333]


def test_allocate_by_weights_keeps_every_cent() -> None:
    parts = Money(100, "EUR").allocate([1, 1, 1])
    assert sum(p.amount for p in parts) == 100
    assert [p.amount for p in Money(-100, "EUR").allocate([1, 1, 1])] == [-34, -33, -33]


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=24).filter(
        lambda w: sum(w) > 0
    ),
)
def test_parts_always_sum_exactly_to_the_whole(amount: int, weights: list[int]) -> None:
    parts = Money(amount, "EUR").allocate(weights)
    assert sum(p.amount for p in parts) == amount
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = amount * weight / sum(weights)
        assert abs(part.amount - exact) < 1


@given(amount=st.integers(min_value=0, max_value=10**12), count=st.integers(min_value=1, max_value=120))
def test_split_parts_differ_by_at_most_one(amount: int, count: int) -> None:
    parts = [p.amount for p in Money(amount, "JPY").split(count)]
    assert sum(parts) == amount
    assert max(parts) - min(parts) <= 1
