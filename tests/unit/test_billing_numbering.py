"""Invoice number patterns: checked, formatted, and which sequence a number comes from."""

from __future__ import annotations

from datetime import date

import pytest

from cashline.domain.billing.numbering import (
    DEFAULT_PATTERN,
    check_pattern,
    format_number,
    sequence_scope,
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{YYYY}-{seq:06}", "2027-000042"),
        ("INV/{YY}/{MM}/{seq:04}", "INV/27/03/0042"),
        ("{seq}", "42"),
        ("R_{seq:01}.{YYYY}", "R_42.2027"),
        ("{YYYY}-{seq:02}", "2027-42"),
    ],
)
def test_a_number_is_the_pattern_filled_in(pattern: str, expected: str) -> None:
    assert format_number(pattern, year=2027, month=3, seq=42) == expected


def test_the_default_pattern_is_year_and_six_digits() -> None:
    assert format_number(DEFAULT_PATTERN, year=2027, seq=42) == "2027-000042"


def test_a_sequence_beyond_the_width_is_written_in_full_never_cut() -> None:
    assert format_number("{YYYY}-{seq:03}", year=2027, seq=12345) == "2027-12345"


def test_a_month_placeholder_needs_the_month() -> None:
    with pytest.raises(ValueError, match="MM"):
        format_number("{YYYY}{MM}-{seq}", year=2027, seq=1)


def test_sequence_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        format_number(DEFAULT_PATTERN, year=2027, seq=0)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("{YYYY}-", "exactly one {seq}"),
        ("{seq}-{seq}", "exactly one {seq}"),
        ("{YYYY}-{seq:6}", "unknown placeholder {seq:6}"),
        ("{YYYY}-{seq:013}", "unknown placeholder"),
        ("{DD}-{seq}", "unknown placeholder {DD}"),
        ("INV {seq}", "' '"),
        ("INV#{seq}", "'#'"),
        ("Rechnung-ä-{seq}", "'ä'"),
        ("A" * 36 + "{seq}", "longer than 40"),
        ("", "empty"),
        ("{seq", "exactly one {seq}"),
        ("{seq}}", "'}'"),
    ],
)
def test_bad_patterns_are_refused_naming_the_problem(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_pattern(pattern)
    assert problem in str(refused.value)


def test_a_forty_character_pattern_is_accepted() -> None:
    check_pattern("A" * 35 + "{seq}")


@pytest.mark.parametrize(
    ("pattern", "scope"),
    [
        ("{YYYY}-{seq:06}", "2027"),
        ("{YY}{MM}{seq:05}", "2027"),  # a month does not reset the count: the scope is the year
        ("INV-{seq:08}", "all"),
        ("{MM}-{seq}", "all"),
    ],
)
def test_a_pattern_with_the_year_counts_per_year(pattern: str, scope: str) -> None:
    assert sequence_scope(pattern, date(2027, 3, 1)) == scope


def test_the_year_scope_follows_the_issue_date() -> None:
    assert sequence_scope(DEFAULT_PATTERN, date(2026, 12, 31)) == "2026"
    assert sequence_scope(DEFAULT_PATTERN, date(2027, 1, 1)) == "2027"
