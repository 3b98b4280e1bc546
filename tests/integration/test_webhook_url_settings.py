"""Saving an outbound webhook URL through the API (issue 11, finding 6): a URL the production check
refuses answers 400 naming `webhook_url`, and nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.gateway import GatewayResponse
from tests.utils import Api, TestTenant, error_of


def _put(api: Api, tenant: TestTenant, url: str) -> GatewayResponse:
    current = api.get("/v1/payment-settings", key=tenant.read_only).json()
    body = {
        **{k: current[k] for k in ("allocation_rule", "alert_thresholds", "finance_emails", "version")},
        "webhook_url": url,
    }
    return api.request("PUT", "/v1/payment-settings", key=tenant.admin, json_body=body)


def _saved(api: Api, tenant: TestTenant) -> dict[str, Any]:
    saved: dict[str, Any] = api.get("/v1/payment-settings", key=tenant.read_only).json()
    return saved


@pytest.fixture
def production_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test stage lets webhooks reach this machine; these tests want the check AWS runs."""
    import chalicelib.payment_routes as routes  # the Chalice app is loaded by the session fixture

    monkeypatch.setattr(routes, "api_ready_allows_private", lambda: False)


@pytest.mark.parametrize(
    "url",
    [
        "https://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
        "https://[2002:a9fe:a9fe::]/hook",  # 6to4 around the metadata service
        "https://[64:ff9b::7f00:1]/hook",  # NAT64
        "https://[::ffff:169.254.169.254]/hook",  # IPv4-mapped
        "https://[::127.0.0.1]/hook",  # IPv4-compatible
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
        "https://hooks:secret@93.184.215.14/hook",  # credentials
    ],
)
def test_a_refused_webhook_url_is_a_400_naming_the_field_and_nothing_is_saved(
    api: Api, tenant: TestTenant, production_check: None, url: str
) -> None:
    before = _saved(api, tenant)

    response = _put(api, tenant, url)

    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "webhook_url"
    assert _saved(api, tenant) == before


def test_credentials_in_the_url_are_refused_on_the_local_stage_too(api: Api, tenant: TestTenant) -> None:
    response = _put(api, tenant, "http://user:pass@127.0.0.1:9/hook")
    assert response.status_code == 400, response.body
    assert error_of(response)["field"] == "webhook_url"
    assert _saved(api, tenant)["webhook_url"] is None
