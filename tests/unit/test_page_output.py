"""The one paged-response helper (cashline.schemas.common.page_output): a repository's page becomes
the wire's `{data, has_more, next_cursor}`, each item mapped at the edge."""

from __future__ import annotations

from dataclasses import dataclass

from cashline.dal.pagination import Page
from cashline.schemas.common import OutputModel, PageOutput, page_output


@dataclass(frozen=True)
class Thing:
    """A domain object as a repository returns it."""

    thing_id: str
    amount: int


class ThingOutput(OutputModel):
    id: str
    amount: int


def to_output(thing: Thing) -> ThingOutput:
    return ThingOutput(id=thing.thing_id, amount=thing.amount)


THINGS = [Thing("a", 1_00), Thing("b", 2_50), Thing("c", 0)]


def test_every_item_is_mapped_in_the_pages_order() -> None:
    answer = page_output(Page(items=THINGS, next_cursor=None), to_output)
    assert [item.id for item in answer.data] == ["a", "b", "c"]
    assert answer.data[1] == ThingOutput(id="b", amount=2_50)


def test_a_page_with_a_cursor_has_more_and_hands_the_cursor_on() -> None:
    answer = page_output(Page(items=THINGS[:2], next_cursor="eyJwayI6IngifQ"), to_output)
    assert answer.has_more is True
    assert answer.next_cursor == "eyJwayI6IngifQ"


def test_the_last_page_has_no_more_and_no_cursor() -> None:
    answer = page_output(Page(items=THINGS[2:], next_cursor=None), to_output)
    assert answer.has_more is False
    assert answer.next_cursor is None


def test_an_empty_page_is_an_empty_list() -> None:
    empty: Page[Thing] = Page(items=[], next_cursor=None)
    answer = page_output(empty, to_output)
    assert answer.model_dump(mode="json") == {"data": [], "has_more": False, "next_cursor": None}


def test_the_wire_shape_is_the_one_a_hand_built_page_had() -> None:
    # What list routes built by hand before this helper: the API's answers must not change
    page = Page(items=THINGS, next_cursor="next")
    by_hand = PageOutput[ThingOutput](
        data=[to_output(t) for t in page.items],
        has_more=page.next_cursor is not None,
        next_cursor=page.next_cursor,
    )
    helped = page_output(page, to_output)
    assert helped.model_dump(mode="json") == by_hand.model_dump(mode="json")
    assert helped.model_dump(mode="json") == {
        "data": [{"id": "a", "amount": 100}, {"id": "b", "amount": 250}, {"id": "c", "amount": 0}],
        "has_more": True,
        "next_cursor": "next",
    }
