from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.late_charges import (
    ECB_REFERENCE_RATES_BP,
    LateCharges,
    late_charges,
    reference_rate_bp,
)
from cashline.domain.money import CurrencyError


def test_table_has_the_published_half_years() -> None:
    assert ECB_REFERENCE_RATES_BP[(2023, 1)] == 250
    assert ECB_REFERENCE_RATES_BP[(2023, 2)] == 400
    assert ECB_REFERENCE_RATES_BP[(2024, 1)] == 450
    assert ECB_REFERENCE_RATES_BP[(2024, 2)] == 425
    assert ECB_REFERENCE_RATES_BP[(2025, 1)] == 315
    assert ECB_REFERENCE_RATES_BP[(2025, 2)] == 215
    assert ECB_REFERENCE_RATES_BP[(2026, 1)] == 215
    assert reference_rate_bp(date(2025, 6, 30)) == 315
    assert reference_rate_bp(date(2025, 7, 1)) == 215


def test_thirty_days_in_2025_h2() -> None:
    # 10,000.00 EUR x (2.15% + 8%) x 30/365 = 83.4246... -> 83.42
    charges = late_charges(1_000_000, "EUR", date(2025, 8, 1), date(2025, 8, 31))
    assert charges == LateCharges(
        days_late=30,
        interest=8342,
        compensation=4000,
        rate_periods=[(date(2025, 8, 2), date(2025, 8, 31), 1015)],
    )
    assert charges.total == 12342


def test_one_day_late_counts_the_day_after_the_due_date() -> None:
    charges = late_charges(3_650_000, "EUR", date(2025, 9, 30), date(2025, 10, 1))
    # 36,500.00 x 10.15% / 365 = 10.15 exactly
    assert (charges.days_late, charges.interest) == (1, 1015)
    assert charges.rate_periods == [(date(2025, 10, 1), date(2025, 10, 1), 1015)]


def test_a_period_crossing_1_july_uses_each_half_years_rate() -> None:
    # 16-30 June 2025: 15 days at 3.15% + 8%; 1-15 July: 15 days at 2.15% + 8%.
    # 10,000.00 x (11.15% x 15 + 10.15% x 15) / 365 = 87.5342... -> 87.53
    charges = late_charges(1_000_000, "EUR", date(2025, 6, 15), date(2025, 7, 15))
    assert charges.days_late == 30
    assert charges.interest == 8753
    assert charges.rate_periods == [
        (date(2025, 6, 16), date(2025, 6, 30), 1115),
        (date(2025, 7, 1), date(2025, 7, 15), 1015),
    ]


def test_half_years_with_the_same_rate_form_one_period() -> None:
    charges = late_charges(1_000_000, "EUR", date(2025, 12, 20), date(2026, 1, 10))
    assert charges.rate_periods == [(date(2025, 12, 21), date(2026, 1, 10), 1015)]
    # 10,000.00 x 10.15% x 21/365 = 58.397... -> 58.40
    assert charges.interest == 5840


def test_rounding_happens_once_at_the_end_not_per_day() -> None:
    # 1.00 EUR earns 0.0278 cents a day: per-day rounding would give 0, exact gives 0.834 -> 1.
    assert late_charges(100, "EUR", date(2025, 8, 1), date(2025, 8, 31)).interest == 1


@pytest.mark.parametrize(("outstanding", "expected"), [(1825, 1), (5475, 2), (9125, 3)])
def test_rounding_is_half_up(outstanding: int, expected: int) -> None:
    # At 10% (override 2% + 8%) one day is amount / 3650: 0.5, 1.5 and 2.5 minor units exactly.
    charges = late_charges(
        outstanding, "EUR", date(2025, 8, 1), date(2025, 8, 2), reference_rate_bp=200, compensation=False
    )
    assert charges.interest == expected


@pytest.mark.parametrize("as_of", [date(2025, 8, 1), date(2025, 7, 1)])
def test_not_late_means_nothing_owed(as_of: date) -> None:
    charges = late_charges(1_000_000, "EUR", date(2025, 8, 1), as_of)
    assert charges == LateCharges(days_late=0, interest=0, compensation=0, rate_periods=[])
    assert charges.total == 0


def test_nothing_outstanding_means_nothing_owed() -> None:
    charges = late_charges(0, "EUR", date(2025, 8, 1), date(2025, 9, 1))
    assert (charges.days_late, charges.interest, charges.compensation) == (31, 0, 0)


def test_jpy_has_no_minor_unit_and_no_statutory_compensation() -> None:
    # 1,000,000 JPY x 10.15% x 30/365 = 8342.47 -> 8342 JPY
    charges = late_charges(1_000_000, "jpy", date(2025, 8, 1), date(2025, 8, 31))
    assert (charges.interest, charges.compensation) == (8342, 0)
    with_fixed = late_charges(
        1_000_000, "JPY", date(2025, 8, 1), date(2025, 8, 31), fixed_compensation_minor=6000
    )
    assert (with_fixed.compensation, with_fixed.total) == (6000, 14342)


def test_override_replaces_the_table_for_every_day() -> None:
    # A national base rate of 1.27% + 8% = 9.27%: 10,000.00 x 9.27% x 30/365 = 76.19
    charges = late_charges(1_000_000, "EUR", date(2025, 6, 15), date(2025, 7, 15), reference_rate_bp=127)
    assert charges.rate_periods == [(date(2025, 6, 16), date(2025, 7, 15), 927)]
    assert charges.interest == 7619
    # The override also reaches half-years that the table does not know.
    old = late_charges(1_000_000, "EUR", date(2019, 1, 1), date(2019, 1, 31), reference_rate_bp=0)
    assert old.interest == 6575  # 10,000.00 x 8% x 30/365 = 65.753...


def test_margin_can_be_raised_for_a_national_variant() -> None:
    charges = late_charges(1_000_000, "EUR", date(2025, 8, 1), date(2025, 8, 31), margin_bp=900)
    assert charges.rate_periods[0][2] == 1115


def test_compensation_can_be_left_out_or_replaced() -> None:
    due, as_of = date(2025, 8, 1), date(2025, 8, 31)
    assert late_charges(1_000_000, "EUR", due, as_of, compensation=False).compensation == 0
    assert late_charges(1_000_000, "USD", due, as_of).compensation == 0
    assert late_charges(1_000_000, "EUR", due, as_of, fixed_compensation_minor=5000).compensation == 5000


def test_unknown_half_year_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="2022-H2"):
        late_charges(1_000_000, "EUR", date(2022, 12, 1), date(2023, 1, 15))
    with pytest.raises(ValueError, match="2027-H1"):
        late_charges(1_000_000, "EUR", date(2026, 12, 1), date(2027, 1, 15))


def test_bad_inputs_are_refused() -> None:
    due, as_of = date(2025, 8, 1), date(2025, 8, 31)
    with pytest.raises(TypeError):
        late_charges(10.5, "EUR", due, as_of)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        late_charges(True, "EUR", due, as_of)
    with pytest.raises(ValueError):
        late_charges(-1, "EUR", due, as_of)
    with pytest.raises(ValueError):
        late_charges(100, "EUR", due, as_of, fixed_compensation_minor=-1)
    with pytest.raises(ValueError):
        late_charges(100, "EUR", due, as_of, reference_rate_bp=-900)
    with pytest.raises(CurrencyError):
        late_charges(100, "EURO", due, as_of)


_FIRST_KNOWN = date(2023, 1, 1)
_LAST_KNOWN = date(2026, 12, 31)


@given(
    amount=st.integers(min_value=0, max_value=10**13),
    extra=st.integers(min_value=0, max_value=10**6),
    due=st.dates(min_value=_FIRST_KNOWN, max_value=_LAST_KNOWN - timedelta(days=1)),
    days=st.integers(min_value=0, max_value=1000),
    more_days=st.integers(min_value=0, max_value=1000),
)
def test_interest_never_falls_with_more_days_or_a_larger_amount(
    amount: int, extra: int, due: date, days: int, more_days: int
) -> None:
    as_of = min(due + timedelta(days=days), _LAST_KNOWN)
    later = min(as_of + timedelta(days=more_days), _LAST_KNOWN)
    base = late_charges(amount, "EUR", due, as_of)
    assert late_charges(amount, "EUR", due, later).interest >= base.interest
    assert late_charges(amount + extra, "EUR", due, as_of).interest >= base.interest
    assert base.interest >= 0
    # The periods cover exactly the days late, without gaps or overlaps.
    if amount > 0:
        assert sum((end - start).days + 1 for start, end, _ in base.rate_periods) == base.days_late
