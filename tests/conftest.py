"""The test session's local cloud: DynamoDB Local and moto's server, started once, tables and
buckets created from template.yaml. Unit tests never touch it (tests/unit/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from cashline.clock import fixed_clock
from localcloud.cloud import LocalCloud
from localcloud.gateway import ApiGateway
from localcloud.handlers import load_app, set_handler_clock, wire_app_to_environment
from tests.utils import FROZEN_NOW, Api, TestTenant, make_tenant


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
def frozen_now() -> Iterator[datetime]:
    """Opt in to a fixed instant: for this test, every API request and queue message the app handles
    runs at FROZEN_NOW (schedules run at the `at` given to `fire_schedule`). Use it, or `api.at(...)`,
    whenever the outcome depends on the date or on time passing; without it the app reads the system
    clock. Request it before `tenant` so the tenant's keys are created at the same instant."""
    previous = set_handler_clock(fixed_clock(FROZEN_NOW))
    yield FROZEN_NOW
    set_handler_clock(previous)


@pytest.fixture
def tenant_factory(local_cloud: LocalCloud) -> Callable[..., TestTenant]:
    """A new tenant with an admin, a finance and a read-only key: tests never share tenants."""
    return make_tenant


@pytest.fixture
def tenant(tenant_factory: Callable[..., TestTenant]) -> TestTenant:
    return tenant_factory()
