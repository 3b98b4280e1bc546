"""Exactly-once execution of a request carrying an `Idempotency-Key`, on Powertools idempotency.

The record's key is `<tenant>#<operation>#sha256(key)`: the same key from two tenants, or on two
operations, never collides. The request body's fingerprint is checked on replay, so reusing a key
for a different request is refused. A concurrent duplicate, while the first is still running, gets
an in-progress conflict (409) and may retry; afterwards it gets the stored response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

from cashline.config import api_settings, url_text
from cashline.dal.idempotency_store import idempotency_store
from cashline.errors import IdempotencyInProgressError, IdempotencyMismatchError, ValidationError

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    replayed: bool


class _RedactingSerializer(BaseIdempotencySerializer):
    """Stores the response without the fields that must be shown only once (an API key's secret)."""

    def __init__(self, redact: Callable[[dict[str, Any]], dict[str, Any]]):
        self._redact = redact

    def to_dict(self, data: Any) -> dict[str, Any]:
        return {"status_code": data["status_code"], "body": self._redact(data["body"])}

    def from_dict(self, data: dict[str, Any]) -> Any:
        return data


def fingerprint(body: bytes | None) -> str:
    return hashlib.sha256(body or b"").hexdigest()


def run_once(
    *,
    tenant_id: str,
    operation: str,
    idempotency_key: str,
    request_fingerprint: str,
    produce: Callable[[], tuple[int, dict[str, Any]]],
    redact: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body,
    lambda_context: Any = None,
) -> StoredResponse:
    if not idempotency_key.strip() or len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters", field="Idempotency-Key"
        )
    settings = api_settings()
    store = idempotency_store(
        settings.idempotency_table_name,
        settings.region,
        url_text(settings.dynamodb_endpoint),
    )
    config = IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        payload_validation_jmespath="fingerprint",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_ttl_seconds,
        hash_function="sha256",
    )
    if lambda_context is not None:
        # Lets Powertools expire an in-progress record when the Lambda that wrote it timed out.
        config.register_lambda_context(lambda_context)
    executed = False

    def execute(request: dict[str, str]) -> dict[str, Any]:
        nonlocal executed
        executed = True
        status_code, body = produce()
        return {"status_code": status_code, "body": body}

    guarded = idempotent_function(
        execute,
        data_keyword_argument="request",
        persistence_store=store,
        config=config,
        output_serializer=_RedactingSerializer(redact),
        key_prefix=f"{tenant_id}#{operation}",
    )
    try:
        result = guarded(request={"idempotency_key": idempotency_key, "fingerprint": request_fingerprint})
    except IdempotencyAlreadyInProgressError as exc:
        raise IdempotencyInProgressError(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            field="Idempotency-Key",
        ) from exc
    except IdempotencyValidationError as exc:
        raise IdempotencyMismatchError(
            "this Idempotency-Key was already used with a different request body", field="Idempotency-Key"
        ) from exc
    return StoredResponse(status_code=int(result["status_code"]), body=result["body"], replayed=not executed)
