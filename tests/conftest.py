"""The test session's local cloud: DynamoDB Local and moto's server, started once, tables and
buckets created from template.yaml. Unit tests never touch it (tests/unit/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from localcloud.cloud import LocalCloud
from localcloud.gateway import ApiGateway
from localcloud.handlers import load_app, wire_app_to_environment
from tests.utils import Api, TestTenant, make_tenant


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(outbox_dir=tmp_path_factory.mktemp("outbox")) as cloud:
        saved = dict(os.environ)
        os.environ.update(cloud.environment())
        os.environ["CASHLINE_STAGE"] = "test"
        load_app()
        wire_app_to_environment()
        yield cloud
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def chalice_app(local_cloud: LocalCloud):  # type: ignore[no-untyped-def]
    return load_app()


@pytest.fixture(scope="session")
def api(chalice_app) -> Api:  # type: ignore[no-untyped-def]
    return Api(ApiGateway(chalice_app))


@pytest.fixture
def tenant_factory(local_cloud: LocalCloud) -> Callable[..., TestTenant]:
    """A new tenant with an admin, a finance and a read-only key: tests never share tenants."""
    return make_tenant


@pytest.fixture
def tenant(tenant_factory: Callable[..., TestTenant]) -> TestTenant:
    return tenant_factory()
