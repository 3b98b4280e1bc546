"""Powertools' DynamoDB persistence layer for idempotency, on its own table (TTL on `expiration`)."""

from __future__ import annotations

from functools import lru_cache

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer


@lru_cache(maxsize=4)
def idempotency_store(table_name: str, region: str, endpoint: str | None) -> DynamoDBPersistenceLayer:
    """Built on first use, not at import: tests and the local runner set the environment first."""
    client = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
