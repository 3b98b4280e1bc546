from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashline.domain.allocation import (
    Allocation,
    AllocationPlan,
    AllocationRule,
    OpenItem,
    plan_allocation,
    plan_reversal,
    plan_targeted,
)
from cashline.domain.references import (
    creditor_reference,
    invoice_number_candidates,
    normalize_invoice_number,
    parse_creditor_references,
)

R = AllocationRule
D0 = date(2026, 1, 1)


def item(item_id: str, outstanding: int, due: int = 0, issued: int = 0, currency: str = "EUR") -> OpenItem:
    """An open item due `due` days and issued `issued` days after 2026-01-01."""
    return OpenItem(item_id, D0 + timedelta(days=due), D0 + timedelta(days=issued), outstanding, currency)


def pairs(plan: AllocationPlan) -> list[tuple[str, int]]:
    return [(a.item_id, a.amount) for a in plan.allocations]


ITEMS = [item("a", 500, due=30), item("b", 1000, due=10), item("c", 300, due=20)]


# --- OLDEST_FIRST ---------------------------------------------------------------------------------


def test_oldest_first_pays_by_due_date_and_the_last_one_partially() -> None:
    plan = plan_allocation(1200, ITEMS, R.OLDEST_FIRST)
    assert pairs(plan) == [("b", 1000), ("c", 200)]
    assert plan.unallocated == 0


def test_oldest_first_exact_amount_pays_everything() -> None:
    plan = plan_allocation(1800, ITEMS, R.OLDEST_FIRST)
    assert pairs(plan) == [("b", 1000), ("c", 300), ("a", 500)]
    assert plan.unallocated == 0


def test_overpayment_is_left_unallocated_as_credit() -> None:
    for rule in (R.OLDEST_FIRST, R.LARGEST_FIRST, R.PROPORTIONAL):
        plan = plan_allocation(2000, ITEMS, rule)
        assert plan.allocated == 1800
        assert plan.unallocated == 200


def test_oldest_first_ties_fall_back_to_issue_date_then_id() -> None:
    items = [
        item("z", 100, due=5, issued=2),
        item("y", 100, due=5, issued=1),
        item("x", 100, due=5, issued=2),
    ]
    assert pairs(plan_allocation(250, items, R.OLDEST_FIRST)) == [("y", 100), ("x", 100), ("z", 50)]


# --- LARGEST_FIRST --------------------------------------------------------------------------------


def test_largest_first_pays_the_biggest_debt_first() -> None:
    plan = plan_allocation(1200, ITEMS, R.LARGEST_FIRST)
    assert pairs(plan) == [("b", 1000), ("a", 200)]


def test_largest_first_ties_fall_back_to_due_date_then_id() -> None:
    items = [item("b", 400, due=9), item("c", 400, due=3), item("a", 400, due=9), item("d", 999, due=99)]
    plan = plan_allocation(2000, items, R.LARGEST_FIRST)
    assert pairs(plan) == [("d", 999), ("c", 400), ("a", 400), ("b", 201)]


# --- PROPORTIONAL ---------------------------------------------------------------------------------


def test_proportional_splits_by_outstanding_and_sums_exactly() -> None:
    plan = plan_allocation(900, ITEMS, R.PROPORTIONAL)
    # Exact shares 250, 500, 150 of 1800 -> listed oldest first.
    assert pairs(plan) == [("b", 500), ("c", 150), ("a", 250)]
    assert plan.unallocated == 0


def test_proportional_remainder_goes_by_largest_remainder_then_oldest() -> None:
    items = [item("new", 100, due=9), item("old", 100, due=1), item("mid", 100, due=5)]
    plan = plan_allocation(100, items, R.PROPORTIONAL)
    assert pairs(plan) == [("old", 34), ("mid", 33), ("new", 33)]


def test_proportional_drops_zero_parts() -> None:
    items = [item("big", 10_000, due=2), item("tiny", 1, due=1)]
    plan = plan_allocation(5, items, R.PROPORTIONAL)
    assert pairs(plan) == [("big", 5)]
    assert plan.unallocated == 0


def test_proportional_covering_amount_pays_everything() -> None:
    plan = plan_allocation(1800, ITEMS, R.PROPORTIONAL)
    assert sorted(pairs(plan)) == [("a", 500), ("b", 1000), ("c", 300)]
    assert plan.unallocated == 0


# --- MANUAL, edge cases, validation ---------------------------------------------------------------


def test_manual_allocates_nothing() -> None:
    plan = plan_allocation(1200, ITEMS, R.MANUAL)
    assert plan.allocations == []
    assert plan.unallocated == 1200


@pytest.mark.parametrize("rule", list(R))
def test_zero_amount_allocates_nothing(rule: AllocationRule) -> None:
    assert plan_allocation(0, ITEMS, rule) == AllocationPlan([], 0)


@pytest.mark.parametrize("rule", list(R))
def test_no_items_leaves_everything_unallocated(rule: AllocationRule) -> None:
    assert plan_allocation(700, [], rule) == AllocationPlan([], 700)


@pytest.mark.parametrize("rule", [R.OLDEST_FIRST, R.LARGEST_FIRST, R.PROPORTIONAL])
def test_single_item(rule: AllocationRule) -> None:
    only = [item("only", 500)]
    assert pairs(plan_allocation(200, only, rule)) == [("only", 200)]
    assert plan_allocation(800, only, rule) == AllocationPlan([Allocation("only", 500)], 300)


def test_rule_may_be_given_as_its_string_value() -> None:
    assert plan_allocation(100, ITEMS, "oldest_first") == plan_allocation(100, ITEMS, R.OLDEST_FIRST)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [10.0, True, "10"])
def test_non_integer_amounts_are_refused(amount: object) -> None:
    with pytest.raises(TypeError):
        plan_allocation(amount, ITEMS, R.OLDEST_FIRST)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plan_targeted(amount, ITEMS)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plan_reversal(amount, [Allocation("a", 1)])  # type: ignore[arg-type]


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_allocation(-1, ITEMS, R.OLDEST_FIRST)


def test_mixed_currencies_are_refused() -> None:
    with pytest.raises(ValueError, match="mix currencies"):
        plan_allocation(100, [item("a", 100), item("b", 100, currency="USD")], R.OLDEST_FIRST)
    with pytest.raises(ValueError, match="mix currencies"):
        plan_targeted(100, [item("a", 100), item("b", 100, currency="USD")])


def test_duplicate_items_are_refused() -> None:
    with pytest.raises(ValueError, match="more than once"):
        plan_allocation(100, [item("a", 100), item("a", 50, due=3)], R.PROPORTIONAL)


def test_open_items_and_allocations_must_be_positive_integers() -> None:
    with pytest.raises(ValueError):
        item("a", 0)
    with pytest.raises(TypeError):
        item("a", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Allocation("a", 0)


# --- targeted and reversal ------------------------------------------------------------------------


def test_targeted_pays_in_the_payers_order_and_keeps_the_rest() -> None:
    plan = plan_targeted(1400, [ITEMS[0], ITEMS[2], ITEMS[1]])
    assert pairs(plan) == [("a", 500), ("c", 300), ("b", 600)]
    assert plan.unallocated == 0
    plan = plan_targeted(1000, [ITEMS[2]])
    assert pairs(plan) == [("c", 300)]
    assert plan.unallocated == 700
    assert plan_targeted(50, []) == AllocationPlan([], 50)


def test_reversal_takes_back_the_most_recent_allocation_first() -> None:
    paid = [Allocation("old", 500), Allocation("mid", 300), Allocation("new", 200)]
    assert plan_reversal(350, paid) == [Allocation("new", 200), Allocation("mid", 150)]
    assert plan_reversal(1000, paid) == [
        Allocation("new", 200),
        Allocation("mid", 300),
        Allocation("old", 500),
    ]
    assert plan_reversal(0, paid) == []
    assert plan_reversal(100, []) == []


# --- properties -----------------------------------------------------------------------------------


@st.composite
def open_items(draw: st.DrawFn) -> list[OpenItem]:
    ids = draw(st.lists(st.text("abcdef", min_size=1, max_size=3), unique=True, max_size=8))
    return [
        OpenItem(
            item_id,
            draw(st.dates(date(2025, 1, 1), date(2025, 3, 1))),
            draw(st.dates(date(2024, 12, 1), date(2025, 1, 1))),
            draw(st.integers(1, 10**7)),
            "EUR",
        )
        for item_id in ids
    ]


def check_plan(plan: AllocationPlan, amount: int, items: list[OpenItem], *, manual: bool = False) -> None:
    outstanding = {i.item_id: i.outstanding for i in items}
    ids = [a.item_id for a in plan.allocations]
    assert len(ids) == len(set(ids))
    assert all(0 < a.amount <= outstanding[a.item_id] for a in plan.allocations)
    assert plan.allocated + plan.unallocated == amount
    assert plan.unallocated >= 0
    total = sum(outstanding.values())
    # Nothing is left unallocated while an item could still take it (except by hand).
    assert plan.unallocated == (amount if manual else max(0, amount - total))


@given(amount=st.integers(0, 10**8), items=open_items(), rule=st.sampled_from(list(R)), data=st.data())
def test_plans_keep_the_invariants_and_do_not_depend_on_input_order(
    amount: int, items: list[OpenItem], rule: AllocationRule, data: st.DataObject
) -> None:
    plan = plan_allocation(amount, items, rule)
    check_plan(plan, amount, items, manual=rule is R.MANUAL)
    assert plan_allocation(amount, items, rule) == plan
    shuffled = data.draw(st.permutations(items))
    assert plan_allocation(amount, shuffled, rule) == plan


@given(amount=st.integers(0, 10**8), items=open_items())
def test_sequential_rules_leave_at_most_one_partial_item_and_it_is_last(
    amount: int, items: list[OpenItem]
) -> None:
    outstanding = {i.item_id: i.outstanding for i in items}
    for plan in (
        plan_allocation(amount, items, R.OLDEST_FIRST),
        plan_allocation(amount, items, R.LARGEST_FIRST),
        plan_targeted(amount, items),
    ):
        assert all(a.amount == outstanding[a.item_id] for a in plan.allocations[:-1])


@given(amount=st.integers(0, 10**8), items=open_items())
def test_proportional_parts_are_within_one_unit_of_the_exact_share(
    amount: int, items: list[OpenItem]
) -> None:
    total = sum(i.outstanding for i in items)
    if not items or amount >= total:
        return
    parts = {a.item_id: a.amount for a in plan_allocation(amount, items, R.PROPORTIONAL).allocations}
    for i in items:
        # |part - amount * w / total| < 1, in integers.
        assert abs(parts.get(i.item_id, 0) * total - amount * i.outstanding) < total


@given(amount=st.integers(0, 10**8), items=open_items())
def test_targeted_keeps_the_invariants(amount: int, items: list[OpenItem]) -> None:
    plan = plan_targeted(amount, items)
    check_plan(plan, amount, items)
    assert [a.item_id for a in plan.allocations] == [i.item_id for i in items][: len(plan.allocations)]


@given(
    amount=st.integers(0, 10**8),
    paid=st.lists(st.builds(Allocation, st.text("abc", min_size=1, max_size=2), st.integers(1, 10**6))),
)
def test_reversal_never_takes_back_more_than_was_paid(amount: int, paid: list[Allocation]) -> None:
    taken = plan_reversal(amount, paid)
    assert sum(a.amount for a in taken) == min(amount, sum(a.amount for a in paid))
    newest_first = list(reversed(paid))
    assert [a.item_id for a in taken] == [a.item_id for a in newest_first[: len(taken)]]
    assert all(0 < t.amount <= p.amount for t, p in zip(taken, newest_first, strict=False))
    # Only the last (oldest) one taken from may be taken back partially.
    assert all(t.amount == p.amount for t, p in zip(taken[:-1], newest_first, strict=False))
    assert plan_reversal(amount, paid) == taken


# --- references -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RF18 5390 0754 7034", ["539007547034"]),
        ("RF18539007547034", ["539007547034"]),
        ("rf18 5390 0754 7034", ["539007547034"]),
        ("RF90 4", ["4"]),
        ("Zahlung RF18 5390 0754 7034 Rechnung vom 3.11.", ["539007547034"]),
        ("Ref.: RF18539007547034, und RF90 4; RF18 5390 0754 7034", ["539007547034", "4"]),
        ("RF19 5390 0754 7034", []),  # wrong check digits
        ("RF71 4", []),  # fails the mod-97 check ("4" is RF90)
        ("XRF18539007547034", []),  # not at the start of a word
        ("RF18", []),
        ("no reference here", []),
    ],
)
def test_parse_creditor_references(text: str, expected: list[str]) -> None:
    assert parse_creditor_references(text) == expected


def test_creditor_reference_matches_the_iso_example() -> None:
    assert creditor_reference("539007547034") == "RF18539007547034"
    assert creditor_reference("4") == "RF904"
    assert creditor_reference("inv-2026/001") == "RF10INV2026001"


@pytest.mark.parametrize("number", ["", "--/", "A" * 22, "1234-5678-9012-3456-7890-12"])
def test_creditor_reference_refuses_empty_or_too_long_numbers(number: str) -> None:
    with pytest.raises(ValueError):
        creditor_reference(number)


def grouped(reference: str) -> str:
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))


@given(number=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789-/ ", min_size=1, max_size=30))
def test_creditor_reference_round_trips_through_parsing(number: str) -> None:
    normalized = normalize_invoice_number(number)
    if not 1 <= len(normalized) <= 21:
        with pytest.raises(ValueError):
            creditor_reference(number)
        return
    reference = creditor_reference(number)
    assert parse_creditor_references(reference) == [normalized]
    assert parse_creditor_references(f"Zahlung {grouped(reference)}.") == [normalized]
    assert normalized in invoice_number_candidates(f"Danke! {grouped(reference)}")


def test_normalize_invoice_number() -> None:
    assert normalize_invoice_number("inv-2026/001") == normalize_invoice_number("INV2026001") == "INV2026001"
    assert normalize_invoice_number(" re 2026.17 ") == "RE202617"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rechnung RE-2026-0042 vom 3.11., Kd-Nr 7781", ["RE-2026-0042", "3.11", "7781"]),
        ("Invoice INV/2026/17 thanks", ["INV/2026/17"]),
        ("RE 2026/17", ["2026/17", "RE 2026/17"]),
        ("(#INV-9) INV-9; inv9", ["INV-9"]),
        ("RF18 5390 0754 7034 Rechnung 4711", ["539007547034", "4711"]),
        ("Miete Januar", []),
    ],
)
def test_invoice_number_candidates(text: str, expected: list[str]) -> None:
    assert invoice_number_candidates(text) == expected


def test_invoice_number_candidates_are_capped() -> None:
    text = " ".join(f"N{i:03d}" for i in range(50))
    candidates = invoice_number_candidates(text)
    assert candidates == [f"N{i:03d}" for i in range(20)]
