"""Domain errors. The HTTP layer maps each class to one status in one table (chalicelib/http.py)."""

from __future__ import annotations


class CashlineError(Exception):
    """Base of every error a caller may see; `error_type` is the stable machine-readable name."""

    error_type = "error"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class ValidationError(CashlineError):
    error_type = "invalid_request"


class UnsupportedMediaTypeError(CashlineError):
    error_type = "unsupported_media_type"


class PayloadTooLargeError(CashlineError):
    """A body, or what it decompresses to, beyond a stated limit (the message names the limit)."""

    error_type = "payload_too_large"


class UnprocessableError(CashlineError):
    """Well-formed input that breaks a business rule (e.g. an EN 16931 rule)."""

    error_type = "unprocessable"


class NotFoundError(CashlineError):
    error_type = "not_found"


class ConflictError(CashlineError):
    """Uniqueness, state-machine or optimistic-lock conflicts."""

    error_type = "conflict"


class ForbiddenError(CashlineError):
    error_type = "forbidden"


class UnauthorizedError(CashlineError):
    error_type = "unauthorized"


class IdempotencyInProgressError(ConflictError):
    error_type = "idempotency_in_progress"


class IdempotencyMismatchError(UnprocessableError):
    error_type = "idempotency_key_reused"


class DependencyUnavailableError(CashlineError):
    error_type = "dependency_unavailable"
