"""A tenant never sees, lists or changes another tenant's records: their ids give 404."""

from __future__ import annotations

from collections.abc import Callable

from cashline.domain.access import Role
from tests.utils import Api, TestTenant, error_of


def test_another_tenants_key_is_not_found_for_read_or_revoke(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    their_key = theirs.key_ids[Role.FINANCE]

    read = api.get(f"/v1/api-keys/{their_key}", key=mine.admin)
    assert read.status_code == 404
    assert error_of(read)["type"] == "not_found"

    revoke = api.delete(f"/v1/api-keys/{their_key}", key=mine.admin)
    assert revoke.status_code == 404
    # ... and their key still works.
    assert api.get("/v1/tenant", key=theirs.finance).status_code == 200


def test_lists_show_only_the_callers_records(api: Api, tenant_factory: Callable[..., TestTenant]) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    listed = api.get("/v1/api-keys?limit=100", key=mine.admin).json()
    assert {k["id"] for k in listed["data"]} == set(mine.key_ids.values())
    assert not {k["id"] for k in listed["data"]} & set(theirs.key_ids.values())


def test_a_cursor_from_another_tenant_is_refused(api: Api, tenant_factory: Callable[..., TestTenant]) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    their_page = api.get("/v1/api-keys?limit=1", key=theirs.admin).json()
    assert their_page["has_more"] is True

    response = api.get(f"/v1/api-keys?limit=1&starting_after={their_page['next_cursor']}", key=mine.admin)
    assert response.status_code == 400
    assert error_of(response)["field"] == "starting_after"


def test_the_tenant_route_answers_with_the_callers_tenant_only(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    mine, theirs = tenant_factory("Mine"), tenant_factory("Theirs")
    assert api.get("/v1/tenant", key=mine.read_only).json()["id"] == mine.tenant_id
    assert api.get("/v1/tenant", key=theirs.read_only).json()["id"] == theirs.tenant_id


def test_pagination_walks_every_key_once(api: Api, tenant: TestTenant) -> None:
    for index in range(4):
        assert (
            api.post(
                "/v1/api-keys", key=tenant.admin, json_body={"name": f"extra {index}", "role": "read_only"}
            ).status_code
            == 201
        )
    seen: list[str] = []
    cursor = None
    while True:
        suffix = f"&starting_after={cursor}" if cursor else ""
        page = api.get(f"/v1/api-keys?limit=2{suffix}", key=tenant.admin).json()
        seen += [k["id"] for k in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen)  # ids are time-ordered: oldest first
