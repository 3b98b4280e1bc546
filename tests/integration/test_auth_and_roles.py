"""Who may call what: keys, roles, revocation, expiry. Against DynamoDB Local."""

from __future__ import annotations

from datetime import timedelta

from cashline.domain.access import Role
from cashline.services.access import create_api_key
from tests.utils import FROZEN_NOW, Api, TestTenant, error_of


def test_no_key_or_a_wrong_key_gets_401_in_the_api_error_shape(api: Api, tenant: TestTenant) -> None:
    wrong_secret = tenant.admin[:-4] + "AAAA"
    for key in (None, "nonsense", wrong_secret):
        response = api.get("/v1/tenant", key=key)
        assert response.status_code == 401
        assert error_of(response)["type"] == "unauthorized"
        assert error_of(response)["field"] == "Authorization"


def test_a_revoked_key_gets_401_on_its_next_request(api: Api, tenant: TestTenant) -> None:
    assert api.get("/v1/tenant", key=tenant.finance).status_code == 200

    revoked = api.delete(f"/v1/api-keys/{tenant.key_ids[Role.FINANCE]}", key=tenant.admin)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"

    assert api.get("/v1/tenant", key=tenant.finance).status_code == 401


def test_revoking_twice_is_harmless_and_a_key_cannot_revoke_itself(api: Api, tenant: TestTenant) -> None:
    path = f"/v1/api-keys/{tenant.key_ids[Role.READ_ONLY]}"
    assert api.delete(path, key=tenant.admin).json()["status"] == "revoked"
    assert api.delete(path, key=tenant.admin).json()["status"] == "revoked"

    own = api.delete(f"/v1/api-keys/{tenant.key_ids[Role.ADMIN]}", key=tenant.admin)
    assert own.status_code == 409
    assert api.get("/v1/tenant", key=tenant.admin).status_code == 200


def test_an_expired_key_gets_401(api: Api, tenant: TestTenant) -> None:
    # The authorizer is asked at fixed instants (api.at), either side of the key's expiry.
    long_ago = FROZEN_NOW - timedelta(days=40)
    expired = create_api_key(tenant.tenant_id, name="old", role=Role.ADMIN, now=long_ago, expires_in_days=30)
    assert api.at(long_ago + timedelta(days=29)).get("/v1/tenant", key=expired.secret).status_code == 200
    assert api.at(FROZEN_NOW).get("/v1/tenant", key=expired.secret).status_code == 401


def test_a_read_only_key_cannot_write(api: Api, tenant: TestTenant) -> None:
    assert api.get("/v1/tenant", key=tenant.read_only).status_code == 200
    response = api.patch("/v1/tenant", key=tenant.read_only, json_body={"version": 1, "name": "x"})
    assert response.status_code == 403
    assert error_of(response)["type"] == "forbidden"
    created = api.post("/v1/api-keys", key=tenant.read_only, json_body={"name": "x", "role": "admin"})
    assert created.status_code == 403


def test_a_finance_key_cannot_manage_keys(api: Api, tenant: TestTenant) -> None:
    assert api.get("/v1/api-keys", key=tenant.finance).status_code == 403
    assert (
        api.post("/v1/api-keys", key=tenant.finance, json_body={"name": "x", "role": "admin"}).status_code
        == 403
    )


def test_health_and_openapi_need_no_key(api: Api) -> None:
    health = api.get("/v1/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert {d["name"] for d in health.json()["dependencies"]} == {"dynamodb", "s3"}
    assert api.get("/v1/openapi.json").status_code == 200


def test_an_unknown_route_is_a_404_in_the_api_error_shape(api: Api, tenant: TestTenant) -> None:
    response = api.get("/v1/nothing-here", key=tenant.admin)
    assert response.status_code == 404
    assert error_of(response)["type"] == "not_found"
