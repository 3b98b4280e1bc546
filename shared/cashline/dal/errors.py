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


# DynamoDB cancels a transaction it throttles with the same code as one whose condition failed
# (TransactionCanceledException); only the per-item reasons tell "busy, retry" from "changed".
_THROTTLED_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


def _throttled(exc: TransactWriteError) -> bool:
    if exc.cause_response_code != "TransactionCanceledException":
        return False
    return any(
        reason is not None and reason.code in _THROTTLED_REASONS for reason in exc.cancellation_reasons
    )


@contextmanager
def storage_errors(conflict_message: str, **details: object) -> Iterator[None]:
    """Turn a failed conditional write into ConflictError (and throttling into a 503-type error)."""
    try:
        yield
    except (PutError, UpdateError, DeleteError, TransactWriteError) as exc:
        error_class = _ERROR_BY_CODE.get(exc.cause_response_code or "")
        if isinstance(exc, TransactWriteError) and _throttled(exc):
            error_class = DependencyUnavailableError
        if error_class is None:
            raise
        message = conflict_message if error_class is ConflictError else "the database is busy, retry"
        raise error_class(message, details=dict(details)) from exc
