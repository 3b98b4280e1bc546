"""Exactly once: the same POST with one Idempotency-Key, sequential or concurrent, makes one record.
Optimistic locking: a stale version is refused. Both against DynamoDB Local."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.utils import Api, TestTenant, error_of


def _key_names(api: Api, tenant: TestTenant) -> list[str]:
    return [k["name"] for k in api.get("/v1/api-keys?limit=100", key=tenant.admin).json()["data"]]


def test_a_replayed_post_returns_the_first_response_and_creates_nothing(api: Api, tenant: TestTenant) -> None:
    body = {"name": "ci deploy", "role": "finance"}
    headers = {"Idempotency-Key": "create-ci-key-1"}

    first = api.post("/v1/api-keys", key=tenant.admin, json_body=body, headers=headers)
    second = api.post("/v1/api-keys", key=tenant.admin, json_body=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["secret"].startswith("clk_")
    # The secret is shown once: the stored replay does not carry it.
    assert second.json()["secret"] is None
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert _key_names(api, tenant).count("ci deploy") == 1


def test_concurrent_duplicates_create_one_record(api: Api, tenant: TestTenant) -> None:
    body = {"name": "race", "role": "read_only"}
    headers = {"Idempotency-Key": "race-1"}

    def post(_: int) -> tuple[int, str | None]:
        response = api.post("/v1/api-keys", key=tenant.admin, json_body=body, headers=headers)
        return response.status_code, response.json().get("id")

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(post, range(10)))

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, results
    assert statuses[201] >= 1
    assert len({key_id for status, key_id in results if status == 201}) == 1
    assert _key_names(api, tenant).count("race") == 1


def test_the_same_key_with_another_body_is_refused(api: Api, tenant: TestTenant) -> None:
    headers = {"Idempotency-Key": "reused"}
    assert (
        api.post(
            "/v1/api-keys", key=tenant.admin, json_body={"name": "a", "role": "finance"}, headers=headers
        ).status_code
        == 201
    )
    response = api.post(
        "/v1/api-keys", key=tenant.admin, json_body={"name": "b", "role": "finance"}, headers=headers
    )
    assert response.status_code == 422
    assert error_of(response)["type"] == "idempotency_key_reused"
    assert error_of(response)["field"] == "Idempotency-Key"
    assert "b" not in _key_names(api, tenant)


def test_idempotency_keys_are_scoped_to_the_tenant(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    first, second = tenant_factory("One"), tenant_factory("Two")
    headers = {"Idempotency-Key": "same-key-everywhere"}
    body = {"name": "shared name", "role": "finance"}
    a = api.post("/v1/api-keys", key=first.admin, json_body=body, headers=headers)
    b = api.post("/v1/api-keys", key=second.admin, json_body=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["secret"] is not None


def test_a_failed_request_does_not_burn_its_idempotency_key(api: Api, tenant: TestTenant) -> None:
    headers = {"Idempotency-Key": "fails-first"}
    bad = api.post(
        "/v1/api-keys", key=tenant.admin, json_body={"name": "x", "role": "nobody"}, headers=headers
    )
    assert bad.status_code == 400
    good = api.post(
        "/v1/api-keys",
        key=tenant.admin,
        json_body={"name": "x", "role": "admin"},
        headers={"Idempotency-Key": "fails-first-2"},
    )
    assert good.status_code == 201


def test_an_overlong_idempotency_key_is_a_400(api: Api, tenant: TestTenant) -> None:
    response = api.post(
        "/v1/api-keys",
        key=tenant.admin,
        json_body={"name": "x", "role": "admin"},
        headers={"Idempotency-Key": "k" * 256},
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "Idempotency-Key"


def test_a_stale_version_is_a_409_and_the_newer_change_stays(api: Api, tenant: TestTenant) -> None:
    current = api.get("/v1/tenant", key=tenant.admin).json()
    first = api.patch(
        "/v1/tenant", key=tenant.admin, json_body={"version": current["version"], "name": "First"}
    )
    assert first.status_code == 200
    assert first.json()["version"] == current["version"] + 1

    stale = api.patch(
        "/v1/tenant", key=tenant.admin, json_body={"version": current["version"], "name": "Second"}
    )
    assert stale.status_code == 409
    assert error_of(stale)["field"] == "version"
    assert api.get("/v1/tenant", key=tenant.admin).json()["name"] == "First"


def test_concurrent_updates_with_one_version_let_exactly_one_win(api: Api, tenant: TestTenant) -> None:
    version = api.get("/v1/tenant", key=tenant.admin).json()["version"]

    def rename(index: int) -> int:
        return api.patch(
            "/v1/tenant", key=tenant.admin, json_body={"version": version, "name": f"Name {index}"}
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(pool.map(rename, range(8)))
    assert statuses == Counter({200: 1, 409: 7})
    assert api.get("/v1/tenant", key=tenant.admin).json()["version"] == version + 1


def test_tenant_settings_are_normalised(api: Api, tenant: TestTenant) -> None:
    version = api.get("/v1/tenant", key=tenant.admin).json()["version"]
    response = api.patch(
        "/v1/tenant",
        key=tenant.admin,
        json_body={"version": version, "base_currency": "chf", "country": "ch", "timezone": "Europe/Zurich"},
    )
    assert response.status_code == 200
    assert (response.json()["base_currency"], response.json()["country"]) == ("CHF", "CH")


def test_concurrent_different_requests_each_get_their_own_answer(api: Api, tenant: TestTenant) -> None:
    """Requests served at once in one process must not see each other's bodies."""

    def post(index: int) -> str:
        response = api.post(
            "/v1/api-keys", key=tenant.admin, json_body={"name": f"parallel {index}", "role": "read_only"}
        )
        assert response.status_code == 201
        return str(response.json()["name"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = list(pool.map(post, range(16)))
    assert names == [f"parallel {index}" for index in range(16)]
