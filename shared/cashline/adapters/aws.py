"""boto3 clients, one per service and process, pointed at moto's server in the local cloud."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Short timeouts: a health check or an upload URL must not hang an API request for a minute.
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})


@lru_cache(maxsize=4)
def s3_client(region: str, endpoint: str | None) -> S3Client:
    return boto3.client("s3", region_name=region, endpoint_url=endpoint, config=_CLIENT_CONFIG)


def bucket_reachable(bucket: str, *, region: str, endpoint: str | None) -> None:
    """Raises when the bucket cannot be reached with this function's credentials."""
    s3_client(region, endpoint).head_bucket(Bucket=bucket)
