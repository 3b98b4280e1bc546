"""One explicit table from DynamoDB error codes to domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError

from cashline.errors import CashlineError, ConflictError, DependencyUnavailableError

_ERROR_BY_CODE: dict[str, type[CashlineError]] = {
    "ConditionalCheckFailedException": ConflictError,
    "TransactionCanceledException": ConflictError,
    "TransactionConflictException": ConflictError,
    "ProvisionedThroughputExceededException": DependencyUnavailableError,
    "ThrottlingException": DependencyUnavailableError,
    "RequestLimitExceeded": DependencyUnavailableError,
}


@contextmanager
def storage_errors(conflict_message: str, **details: object) -> Iterator[None]:
    """Turn a failed conditional write into ConflictError (and throttling into a 503-type error)."""
    try:
        yield
    except (PutError, UpdateError, DeleteError, TransactWriteError) as exc:
        error_class = _ERROR_BY_CODE.get(exc.cause_response_code or "")
        if error_class is None:
            raise
        message = conflict_message if error_class is ConflictError else "the database is busy, retry"
        raise error_class(message, details=dict(details)) from exc
