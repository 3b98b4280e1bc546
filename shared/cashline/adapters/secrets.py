"""Secrets of processor connections and outbound webhooks in AWS Secrets Manager (moto locally).

The table stores only a secret's name. Reads are cached in the process for a few minutes: a webhook
is verified in a few milliseconds, not one Secrets Manager call each; a rotation is seen within
CACHE_SECONDS (the previous secret stays valid longer than that).
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

import boto3

from cashline.adapters.aws import _CLIENT_CONFIG

CACHE_SECONDS = 120


@lru_cache(maxsize=4)
def _client(region: str, endpoint: str | None) -> Any:
    return boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint, config=_CLIENT_CONFIG)


class SecretStore:
    def __init__(self, *, prefix: str, region: str, endpoint: str | None):
        self.prefix = prefix.rstrip("/")
        self._region, self._endpoint = region, endpoint
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def name_for(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def put(self, name: str, value: dict[str, Any]) -> None:
        client = _client(self._region, self._endpoint)
        body = json.dumps(value)
        try:
            client.put_secret_value(SecretId=name, SecretString=body)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=name, SecretString=body)
        self._cache[name] = (time.monotonic(), value)

    def get(self, name: str) -> dict[str, Any]:
        cached = self._cache.get(name)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        answer = _client(self._region, self._endpoint).get_secret_value(SecretId=name)
        value: dict[str, Any] = json.loads(answer["SecretString"])
        self._cache[name] = (time.monotonic(), value)
        return value
