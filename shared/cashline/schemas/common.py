"""Shapes every route shares: errors, pagination, money."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cashline.domain.money import normalize_currency

T = TypeVar("T")


class RequestModel(BaseModel):
    """Base of request bodies and query strings: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


CurrencyCode = Annotated[
    str,
    Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR", examples=["EUR"]),
    AfterValidator(normalize_currency),
]
# 10^15 minor units is ten trillion euros: more than any invoice, far less than DynamoDB's 38 digits.
MAX_MINOR_UNITS = 10**15
MinorUnits = Annotated[
    int,
    Field(
        ge=-MAX_MINOR_UNITS,
        le=MAX_MINOR_UNITS,
        description="Amount in the currency's minor units (cents for EUR, yen for JPY)",
    ),
]


class ErrorDetail(OutputModel):
    type: str = Field(description="Stable machine-readable error type, e.g. invalid_request, not_found")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, when there is one")
    request_id: str | None = None
    rule: str | None = Field(default=None, description="The business rule broken, e.g. EN 16931 BR-CO-15")
    existing_id: str | None = Field(default=None, description="On a duplicate (409): the record that exists")


class ErrorOutput(OutputModel):
    error: ErrorDetail


class ListQuery(RequestModel):
    limit: int = Field(default=20, ge=1, le=100)
    starting_after: str | None = Field(
        default=None, max_length=2048, description="The `next_cursor` of the previous page"
    )


class PageOutput(OutputModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None
