"""Bill financing: monthly dates, bank calendars, fees, repayment schedules and early repayment.

Expected amounts and dates in the example tests are worked out by hand (the arithmetic is in the
comments), never by calling the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache

import holidays
import numpy_financial as npf  # type: ignore[import-untyped]  # ships no type information
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashline.domain.financing import (
    BankCalendar,
    EarlyRepayment,
    FinancingError,
    Pricing,
    Schedule,
    bank_calendar,
    build_schedule,
    early_repayment,
    fee_for,
    monthly_dates,
)

# Moderate example counts keep the whole file well under five seconds; no deadline because the
# first example of a run may load a year of holidays.
PROPERTY = settings(max_examples=60, deadline=None)
COUNTRY_OF = {"EUR": "DE", "JPY": "JP", "GBP": "GB"}
STANDARD = Pricing(monthly_rate_bp=150, fixed_fee=2_500, max_installments=12)


@cache
def calendar_for(country: str, currency: str) -> BankCalendar:
    """One calendar per (country, currency) for the whole module: years stay loaded between examples."""
    return bank_calendar(country, currency)


def d(iso: str) -> date:
    return date.fromisoformat(iso)


def dates(*isos: str) -> list[date]:
    return [d(iso) for iso in isos]


def oracle_schedule() -> Schedule:
    """1,000,000 EUR cents paid out on Friday 2026-01-30, 6 installments at 150 bp/month + 2,500 fixed."""
    return build_schedule(
        principal=1_000_000,
        currency="EUR",
        payout_date=d("2026-01-30"),
        installments=6,
        pricing=STANDARD,
        calendar=calendar_for("DE", "EUR"),
    )


# --- monthly_dates -----------------------------------------------------------------------------


def test_given_31_january_in_a_leap_year_when_stepping_monthly_then_february_ends_on_the_29th() -> None:
    assert monthly_dates(d("2028-01-31"), 5) == dates(
        "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"
    )


def test_given_31_january_in_a_common_year_when_stepping_monthly_then_the_31st_comes_back() -> None:
    # Measured from the anchor, never from the previous date: 28 Feb does not drag March to the 28th.
    assert monthly_dates(d("2027-01-31"), 5) == dates(
        "2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"
    )


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        ("2026-01-30", ["2026-01-30", "2026-02-28", "2026-03-30", "2026-04-30"]),
        ("2028-01-30", ["2028-01-30", "2028-02-29", "2028-03-30", "2028-04-30"]),
        ("2027-01-29", ["2027-01-29", "2027-02-28", "2027-03-29", "2027-04-29"]),
        ("2028-01-29", ["2028-01-29", "2028-02-29", "2028-03-29", "2028-04-29"]),
        ("2026-03-31", ["2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"]),
    ],
)
def test_given_a_late_day_of_month_anchor_when_a_month_lacks_it_then_that_months_last_day_is_used(
    anchor: str, expected: list[str]
) -> None:
    assert monthly_dates(d(anchor), 4) == dates(*expected)


def test_given_a_december_anchor_when_stepping_monthly_then_the_year_rolls_over() -> None:
    assert monthly_dates(d("2026-11-15"), 3) == dates("2026-11-15", "2026-12-15", "2027-01-15")
    assert monthly_dates(d("2026-12-31"), 3) == dates("2026-12-31", "2027-01-31", "2027-02-28")


def test_given_a_count_of_zero_then_no_dates_and_a_negative_count_is_refused() -> None:
    assert monthly_dates(d("2026-01-31"), 0) == []
    with pytest.raises(FinancingError) as caught:
        monthly_dates(d("2026-01-31"), -1)
    assert caught.value.field == "count"


@PROPERTY
@given(
    anchor=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    count=st.integers(min_value=1, max_value=24),
)
def test_monthly_dates_never_drift_from_the_anchor_day(anchor: date, count: int) -> None:
    for offset, day in enumerate(monthly_dates(anchor, count)):
        year, month = divmod(anchor.year * 12 + anchor.month - 1 + offset, 12)
        assert (day.year, day.month) == (year, month + 1)
        # Either the anchor's own day, or the month is too short and this is its last day.
        assert day.day == anchor.day or (day.day < anchor.day and (day + timedelta(days=1)).day == 1)


# --- bank calendars ----------------------------------------------------------------------------


@pytest.mark.parametrize("closed", ["2026-12-25", "2026-12-26", "2027-01-01", "2027-03-26", "2027-03-29"])
def test_given_a_german_public_holiday_then_it_is_not_a_business_day_in_de_eur(closed: str) -> None:
    assert not calendar_for("DE", "EUR").is_business_day(d(closed))


def test_given_weekend_days_then_they_are_not_business_days_and_move_to_monday() -> None:
    calendar = calendar_for("DE", "EUR")
    assert not calendar.is_business_day(d("2026-03-07"))  # Saturday
    assert not calendar.is_business_day(d("2026-03-08"))  # Sunday
    assert calendar.next_business_day(d("2026-03-07")) == d("2026-03-09")
    assert calendar.next_business_day(d("2026-03-08")) == d("2026-03-09")


def test_given_a_business_day_when_asking_for_the_next_business_day_then_it_is_the_day_itself() -> None:
    assert calendar_for("DE", "EUR").next_business_day(d("2026-03-10")) == d("2026-03-10")


@pytest.mark.parametrize(
    ("holiday", "next_open"),
    [
        ("2026-12-25", "2026-12-28"),  # Christmas Friday, Boxing Day Saturday, Sunday -> Monday
        ("2027-01-01", "2027-01-04"),  # New Year's Day Friday -> Monday
        ("2027-03-26", "2027-03-30"),  # Good Friday, weekend, Easter Monday -> Tuesday
        ("2026-04-03", "2026-04-07"),  # Good Friday 2026 -> Tuesday after Easter Monday
    ],
)
def test_given_a_friday_holiday_before_a_weekend_when_shifting_then_the_next_open_weekday_is_used(
    holiday: str, next_open: str
) -> None:
    assert calendar_for("DE", "EUR").next_business_day(d(holiday)) == d(next_open)


def test_given_eur_then_target2_closing_days_are_added_to_the_countrys_holidays() -> None:
    # Good Friday is no public holiday in France, but TARGET2 is closed, so no euro moves.
    good_friday = d("2026-04-03")
    assert good_friday not in holidays.country_holidays("FR", years=2026)
    assert not calendar_for("FR", "EUR").is_business_day(good_friday)
    assert calendar_for("FR", "EUR").next_business_day(good_friday) == d("2026-04-07")
    # A French business paying in dollars is not bound by the euro settlement system.
    assert calendar_for("FR", "USD").is_business_day(good_friday)


def test_given_gb_and_gbp_then_uk_bank_holidays_apply_and_target2_does_not() -> None:
    calendar = calendar_for("GB", "GBP")
    # Boxing Day 2026 is a Saturday, so Monday 28 December is the substitute bank holiday.
    assert not calendar.is_business_day(d("2026-12-28"))
    assert calendar.next_business_day(d("2026-12-25")) == d("2026-12-29")
    # 1 May 2026 (a Friday) is a TARGET2 closing day but an ordinary UK business day.
    assert calendar.is_business_day(d("2026-05-01"))
    assert not calendar_for("DE", "EUR").is_business_day(d("2026-05-01"))


def test_given_a_calendar_preloaded_for_one_year_when_asked_about_the_next_then_it_loads_that_year() -> None:
    calendar = bank_calendar("DE", "EUR", years=range(2026, 2027))
    assert not calendar.is_business_day(d("2027-01-01"))
    assert calendar.next_business_day(d("2026-12-31")) == d("2026-12-31")  # a Thursday, open


def test_given_a_date_range_when_listing_holidays_then_both_ends_are_included_and_years_are_crossed() -> None:
    found = calendar_for("DE", "EUR").holidays_between(d("2026-12-25"), d("2027-01-01"))
    assert list(found) == dates("2026-12-25", "2026-12-26", "2027-01-01")


def test_given_lower_case_codes_then_the_calendar_is_built_with_normalized_codes() -> None:
    calendar = bank_calendar(" de ", "eur")
    assert (calendar.country, calendar.currency) == ("DE", "EUR")
    assert not calendar.is_business_day(d("2026-04-03"))


@pytest.mark.parametrize(
    ("country", "currency", "field"),
    [("XX", "EUR", "country"), ("ZZZ", "EUR", "country"), ("DE", "EURO", "currency")],
)
def test_given_an_unknown_code_when_building_a_calendar_then_the_error_names_the_field(
    country: str, currency: str, field: str
) -> None:
    with pytest.raises(FinancingError) as caught:
        bank_calendar(country, currency)
    assert caught.value.field == field


# --- fee_for -----------------------------------------------------------------------------------


def decimal_fee(principal: int, months: int, pricing: Pricing) -> int:
    """Independent oracle: exact Decimal arithmetic with ample precision, rounded half-up."""
    with localcontext() as context:
        context.prec = 60
        exact = Decimal(principal) * pricing.monthly_rate_bp * months / Decimal(10_000)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)) + pricing.fixed_fee


def test_given_the_oracle_plan_then_the_fee_is_hand_computed() -> None:
    # 1,000,000 x 150 x 6 / 10,000 = 90,000; plus the fixed 2,500.
    assert fee_for(1_000_000, 6, STANDARD) == 92_500


@pytest.mark.parametrize(
    ("principal", "rate_bp", "expected"),
    [
        (100, 50, 1),  # 0.5 rounds half-up to 1 (banker's rounding would give 0)
        (100, 49, 0),  # 0.49 rounds down
        (300, 50, 2),  # 1.5 -> 2
        (333, 150, 5),  # 4.995 -> 5
        (10_000, 5, 5),  # exact
    ],
)
def test_given_a_fractional_fee_then_it_is_rounded_half_up_to_the_minor_unit(
    principal: int, rate_bp: int, expected: int
) -> None:
    assert (
        fee_for(principal, 1, Pricing(monthly_rate_bp=rate_bp, fixed_fee=0, max_installments=12)) == expected
    )


def test_the_fee_is_flat_on_the_principal_not_annuity_interest() -> None:
    # An annuity at 1.5 %/month over 6 months charges interest on the declining balance only
    # (about 53,151 cents on 1,000,000); the flat fee charges on the full principal every month.
    annuity_interest = float(npf.pmt(0.015, 6, -1_000_000)) * 6 - 1_000_000
    assert 53_000 < annuity_interest < 53_300
    assert fee_for(1_000_000, 6, Pricing(150, 0, 12)) == 90_000


@PROPERTY
@given(
    principal=st.integers(min_value=0, max_value=10**15),
    months=st.integers(min_value=1, max_value=12),
    rate_bp=st.integers(min_value=0, max_value=500),
    fixed_fee=st.integers(min_value=0, max_value=10**6),
)
def test_fee_matches_an_exact_decimal_computation(
    principal: int, months: int, rate_bp: int, fixed_fee: int
) -> None:
    pricing = Pricing(monthly_rate_bp=rate_bp, fixed_fee=fixed_fee, max_installments=12)
    assert fee_for(principal, months, pricing) == decimal_fee(principal, months, pricing)


@PROPERTY
@given(
    principal=st.integers(min_value=0, max_value=10**12),
    months=st.integers(min_value=1, max_value=12),
    fixed_fee=st.integers(min_value=0, max_value=10**6),
)
def test_with_a_zero_rate_the_fee_is_the_fixed_fee(principal: int, months: int, fixed_fee: int) -> None:
    assert fee_for(
        principal, months, Pricing(monthly_rate_bp=0, fixed_fee=fixed_fee, max_installments=12)
    ) == (fixed_fee)


# --- build_schedule ----------------------------------------------------------------------------


def test_given_the_oracle_plan_then_amounts_and_dates_match_the_hand_computed_table() -> None:
    schedule = oracle_schedule()

    # fee 92,500; total 1,092,500 = 6 x 182,083 + 2, so the first two installments carry a cent more.
    assert (schedule.currency, schedule.principal, schedule.fee, schedule.total) == (
        "EUR",
        1_000_000,
        92_500,
        1_092_500,
    )
    assert schedule.term_months == 6
    assert schedule.payout_date == d("2026-01-30")  # a Friday and no holiday: unchanged
    table = [(i.sequence, i.nominal_date, i.due_date, i.amount) for i in schedule.installments]
    assert table == [
        (1, d("2026-02-28"), d("2026-03-02"), 182_084),  # 30 Feb -> 28 Feb, a Saturday -> Monday
        (2, d("2026-03-30"), d("2026-03-30"), 182_084),  # back on the 30th: no drift
        (3, d("2026-04-30"), d("2026-04-30"), 182_083),
        (4, d("2026-05-30"), d("2026-06-01"), 182_083),  # Saturday -> Monday
        (5, d("2026-06-30"), d("2026-06-30"), 182_083),
        (6, d("2026-07-30"), d("2026-07-30"), 182_083),
    ]


def test_given_a_payout_on_a_holiday_then_it_moves_but_the_debits_stay_anchored_to_the_requested_day() -> (
    None
):
    schedule = build_schedule(
        principal=50_000,
        currency="EUR",
        payout_date=d("2026-12-25"),
        installments=2,
        pricing=STANDARD,
        calendar=calendar_for("DE", "EUR"),
    )
    assert schedule.payout_date == d("2026-12-28")
    assert [i.nominal_date for i in schedule.installments] == dates("2027-01-25", "2027-02-25")
    assert [i.due_date for i in schedule.installments] == dates("2027-01-25", "2027-02-25")  # Mon, Thu


def test_given_a_first_debit_date_then_it_anchors_the_installments() -> None:
    schedule = build_schedule(
        principal=90_000,
        currency="EUR",
        payout_date=d("2026-01-30"),
        installments=3,
        pricing=STANDARD,
        calendar=calendar_for("DE", "EUR"),
        first_debit_date=d("2026-02-15"),
    )
    assert [i.nominal_date for i in schedule.installments] == dates("2026-02-15", "2026-03-15", "2026-04-15")
    # 15 Feb and 15 Mar 2026 are Sundays.
    assert [i.due_date for i in schedule.installments] == dates("2026-02-16", "2026-03-16", "2026-04-15")
    assert schedule.term_months == 3


def test_given_jpy_with_no_minor_unit_then_yen_are_split_exactly() -> None:
    # fee = 1,000,001 x 150 x 3 / 10,000 = 45,000.045 -> 45,000; total 1,045,001 = 3 x 348,333 + 2.
    schedule = build_schedule(
        principal=1_000_001,
        currency="JPY",
        payout_date=d("2026-06-10"),
        installments=3,
        pricing=Pricing(monthly_rate_bp=150, fixed_fee=0, max_installments=12),
        calendar=calendar_for("JP", "JPY"),
    )
    assert (schedule.fee, schedule.total) == (45_000, 1_045_001)
    assert [i.amount for i in schedule.installments] == [348_334, 348_334, 348_333]


def test_given_bhd_with_three_decimals_then_fils_are_split_exactly() -> None:
    # fee = 12,345 x 175 x 4 / 10,000 = 864.15 -> 864, plus 500 fixed = 1,364; total 13,709 = 4 x 3,427 + 1.
    schedule = build_schedule(
        principal=12_345,
        currency="BHD",
        payout_date=d("2026-06-10"),
        installments=4,
        pricing=Pricing(monthly_rate_bp=175, fixed_fee=500, max_installments=12),
        calendar=calendar_for("BH", "BHD"),
    )
    assert (schedule.fee, schedule.total) == (1_364, 13_709)
    assert [i.amount for i in schedule.installments] == [3_428, 3_427, 3_427, 3_427]


def test_a_single_installment_carries_the_whole_total() -> None:
    schedule = build_schedule(
        principal=10_000,
        currency="EUR",
        payout_date=d("2026-01-30"),
        installments=1,
        pricing=STANDARD,
        calendar=calendar_for("DE", "EUR"),
    )
    # fee = 10,000 x 150 / 10,000 = 150, plus 2,500.
    assert [i.amount for i in schedule.installments] == [12_650]


def schedule_error(**overrides: object) -> FinancingError:
    arguments: dict[str, object] = {
        "principal": 100_000,
        "currency": "EUR",
        "payout_date": d("2026-01-30"),
        "installments": 3,
        "pricing": Pricing(monthly_rate_bp=150, fixed_fee=0, max_installments=6),
        "calendar": calendar_for("DE", "EUR"),
    }
    arguments.update(overrides)
    with pytest.raises(FinancingError) as caught:
        build_schedule(**arguments)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": 0}, "principal"),
        ({"principal": -5}, "principal"),
        ({"installments": 0}, "installments"),
        ({"installments": 7}, "installments"),  # above this pricing's maximum of 6
        ({"installments": 13}, "installments"),
        ({"first_debit_date": d("2026-01-30")}, "first_debit_date"),  # the payout day itself
        ({"first_debit_date": d("2026-01-15")}, "first_debit_date"),
        # Payout Saturday 31 Jan moves to Monday 2 Feb; a debit on Sunday 1 Feb would precede it.
        ({"payout_date": d("2026-01-31"), "first_debit_date": d("2026-02-01")}, "first_debit_date"),
        ({"payout_date": None}, "payout_date"),
        ({"currency": "GBP"}, "currency"),  # the calendar is a EUR one
        ({"currency": "EURO"}, "currency"),
    ],
)
def test_given_invalid_input_when_building_a_schedule_then_the_error_names_the_field(
    overrides: dict[str, object], field: str
) -> None:
    assert schedule_error(**overrides).field == field


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"monthly_rate_bp": -1, "fixed_fee": 0, "max_installments": 6}, "monthly_rate_bp"),
        ({"monthly_rate_bp": 100, "fixed_fee": -1, "max_installments": 6}, "fixed_fee"),
        ({"monthly_rate_bp": 100, "fixed_fee": 0, "max_installments": 0}, "max_installments"),
        ({"monthly_rate_bp": 100, "fixed_fee": 0, "max_installments": 13}, "max_installments"),
    ],
)
def test_given_invalid_pricing_then_the_error_names_the_field(arguments: dict[str, int], field: str) -> None:
    with pytest.raises(FinancingError) as caught:
        Pricing(**arguments)
    assert caught.value.field == field


@PROPERTY
@given(
    principal=st.integers(min_value=1, max_value=10**12),
    installments=st.integers(min_value=1, max_value=12),
    rate_bp=st.integers(min_value=0, max_value=500),
    fixed_fee=st.integers(min_value=0, max_value=10**6),
    currency=st.sampled_from(sorted(COUNTRY_OF)),
    payout=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
)
def test_any_schedule_sums_exactly_and_debits_on_increasing_business_days(
    principal: int, installments: int, rate_bp: int, fixed_fee: int, currency: str, payout: date
) -> None:
    calendar = calendar_for(COUNTRY_OF[currency], currency)
    pricing = Pricing(monthly_rate_bp=rate_bp, fixed_fee=fixed_fee, max_installments=12)

    schedule = build_schedule(
        principal=principal,
        currency=currency,
        payout_date=payout,
        installments=installments,
        pricing=pricing,
        calendar=calendar,
    )

    amounts = [i.amount for i in schedule.installments]
    assert len(schedule.installments) == installments == schedule.term_months
    assert [i.sequence for i in schedule.installments] == list(range(1, installments + 1))
    assert schedule.total == principal + decimal_fee(principal, installments, pricing) == sum(amounts)
    assert max(amounts) - min(amounts) <= 1
    assert amounts == sorted(amounts, reverse=True)  # larger parts first
    assert calendar.is_business_day(schedule.payout_date)
    due = [i.due_date for i in schedule.installments]
    assert all(calendar.is_business_day(day) for day in due)
    assert all(earlier < later for earlier, later in zip([schedule.payout_date, *due], due, strict=False))
    assert all(0 <= (i.due_date - i.nominal_date).days < 14 for i in schedule.installments)


# --- early_repayment ---------------------------------------------------------------------------


def test_given_repayment_on_the_payout_day_then_one_month_is_charged() -> None:
    # 1,000,000 x 150 x 1 / 10,000 = 15,000, plus 2,500 fixed.
    result = early_repayment(oracle_schedule(), paid_sequences=set(), on=d("2026-01-30"), pricing=STANDARD)
    assert result == EarlyRepayment(
        amount_due=1_017_500, recalculated_fee=17_500, months_used=1, already_paid=0
    )


@pytest.mark.parametrize(
    ("on", "months_used"),
    [
        ("2026-02-27", 1),
        ("2026-02-28", 1),  # 30 Jan + 1 month = 28 Feb: exactly one month used
        ("2026-03-01", 2),  # one day into the second month: it counts in full
        ("2026-03-30", 2),
        ("2026-03-31", 3),
        ("2026-07-30", 6),
        ("2027-03-01", 6),  # never more than the plan's N months
    ],
)
def test_given_a_repayment_date_then_a_started_month_counts_as_a_full_month(
    on: str, months_used: int
) -> None:
    result = early_repayment(oracle_schedule(), paid_sequences=set(), on=d(on), pricing=STANDARD)
    assert result.months_used == months_used
    assert result.recalculated_fee == 15_000 * months_used + 2_500


def test_given_two_installments_paid_when_repaying_in_the_third_month_then_the_balance_is_exact() -> None:
    # 30 Jan -> 15 Apr is 2 whole months and a started third: fee 3 x 15,000 + 2,500 = 47,500.
    # Paid 182,084 x 2 = 364,168, so 1,000,000 + 47,500 - 364,168 = 683,332 settles the plan.
    result = early_repayment(oracle_schedule(), paid_sequences={1, 2}, on=d("2026-04-15"), pricing=STANDARD)
    assert result == EarlyRepayment(
        amount_due=683_332, recalculated_fee=47_500, months_used=3, already_paid=364_168
    )


def test_given_every_installment_paid_then_nothing_is_due() -> None:
    result = early_repayment(
        oracle_schedule(), paid_sequences={1, 2, 3, 4, 5, 6}, on=d("2026-07-30"), pricing=STANDARD
    )
    assert result == EarlyRepayment(
        amount_due=0, recalculated_fee=92_500, months_used=6, already_paid=1_092_500
    )


def test_given_payments_above_the_recalculated_total_then_the_amount_due_is_clamped_at_zero() -> None:
    # Paid 1,092,500 but on 1 Mar only 1,000,000 + 32,500 is owed: the excess is not a negative debt.
    result = early_repayment(
        oracle_schedule(), paid_sequences={1, 2, 3, 4, 5, 6}, on=d("2026-03-01"), pricing=STANDARD
    )
    assert result.amount_due == 0
    assert result.recalculated_fee == 32_500


@pytest.mark.parametrize(
    ("paid", "on", "field"),
    [
        (set(), "2026-01-29", "on"),
        ({7}, "2026-03-01", "paid_sequences"),
        ({0}, "2026-03-01", "paid_sequences"),
    ],
)
def test_given_invalid_early_repayment_input_then_the_error_names_the_field(
    paid: set[int], on: str, field: str
) -> None:
    with pytest.raises(FinancingError) as caught:
        early_repayment(oracle_schedule(), paid_sequences=paid, on=d(on), pricing=STANDARD)
    assert caught.value.field == field


@PROPERTY
@given(
    principal=st.integers(min_value=1, max_value=10**12),
    installments=st.integers(min_value=1, max_value=12),
    rate_bp=st.integers(min_value=0, max_value=500),
    fixed_fee=st.integers(min_value=0, max_value=10**6),
    currency=st.sampled_from(sorted(COUNTRY_OF)),
    payout=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    paid_count=st.integers(min_value=0, max_value=12),
    days_after_payout=st.integers(min_value=0, max_value=400),
)
def test_early_repayment_is_never_negative_and_is_the_full_total_at_the_last_debit(
    principal: int,
    installments: int,
    rate_bp: int,
    fixed_fee: int,
    currency: str,
    payout: date,
    paid_count: int,
    days_after_payout: int,
) -> None:
    pricing = Pricing(monthly_rate_bp=rate_bp, fixed_fee=fixed_fee, max_installments=12)
    schedule = build_schedule(
        principal=principal,
        currency=currency,
        payout_date=payout,
        installments=installments,
        pricing=pricing,
        calendar=calendar_for(COUNTRY_OF[currency], currency),
    )

    at_last_debit = early_repayment(
        schedule, paid_sequences=set(), on=schedule.installments[-1].due_date, pricing=pricing
    )
    assert at_last_debit.months_used == installments
    assert at_last_debit.amount_due == schedule.total

    paid = set(range(1, min(paid_count, installments) + 1))
    on = schedule.payout_date + timedelta(days=days_after_payout)
    anytime = early_repayment(schedule, paid_sequences=paid, on=on, pricing=pricing)
    assert 1 <= anytime.months_used <= installments
    assert anytime.recalculated_fee == decimal_fee(principal, anytime.months_used, pricing) <= schedule.fee
    assert anytime.already_paid == sum(i.amount for i in schedule.installments if i.sequence in paid)
    assert anytime.amount_due == max(0, principal + anytime.recalculated_fee - anytime.already_paid)


def test_a_principal_within_the_limit_whose_fee_takes_the_total_beyond_it_is_refused() -> None:
    with pytest.raises(FinancingError) as refused:
        build_schedule(
            principal=10**15,
            currency="EUR",
            payout_date=d("2026-01-30"),
            installments=6,
            pricing=STANDARD,
            calendar=calendar_for("DE", "EUR"),
        )
    assert refused.value.field == "amount"
