"""Is the API able to serve? Each dependency is checked with its cheapest real call."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cashline.config import ApiSettings

import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from cashline.adapters.aws import bucket_reachable
from cashline.config import url_text
from cashline.dal.access_repository import ping_table
from cashline.observability import logger


@dataclass(frozen=True, slots=True)
class DependencyStatus:
    name: str
    ok: bool
    latency_ms: int
    detail: str | None


def _check(name: str, probe: Callable[[], None]) -> DependencyStatus:
    started = time.perf_counter()
    try:
        probe()
    except (BotoCoreError, ClientError, PynamoDBException) as exc:
        logger.warning("dependency check failed", dependency=name, error=str(exc))
        # The body is public: say which dependency failed, not the internals of why.
        return DependencyStatus(name, False, int((time.perf_counter() - started) * 1000), type(exc).__name__)
    return DependencyStatus(name, True, int((time.perf_counter() - started) * 1000), None)


def check_health(settings: ApiSettings) -> list[DependencyStatus]:
    endpoint = url_text(settings.aws_endpoint)
    return [
        _check("dynamodb", ping_table),
        _check(
            "s3",
            lambda: bucket_reachable(settings.documents_bucket, region=settings.region, endpoint=endpoint),
        ),
    ]
