"""Counts DynamoDB calls and the capacity they consume, whoever makes them (PynamoDB or boto3).

Every DynamoDB call goes through botocore's `BaseClient._make_api_call`; wrapping it asks each
read and write for `ReturnConsumedCapacity=TOTAL` and adds up what DynamoDB reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

_CAPACITY_OPERATIONS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
}


@dataclass
class Meter:
    calls: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # by operation

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def describe(self) -> str:
        return ", ".join(f"{op} x{n}" for op, n in sorted(self.calls.items())) or "none"


_active: list[Meter] = []
_original = getattr(BaseClient, "_make_api_call")  # noqa: B009  (private, so typeshed-free)


def _metered_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    if not _active or self.meta.service_model.service_name != "dynamodb":
        return _original(self, operation_name, api_params)
    if operation_name in _CAPACITY_OPERATIONS:
        api_params = {**api_params, "ReturnConsumedCapacity": "TOTAL"}
    try:
        response = _original(self, operation_name, api_params)
    finally:
        for meter in _active:
            meter.calls[operation_name] += 1
    consumed = response.get("ConsumedCapacity")
    for meter in _active:
        _record(meter, operation_name, consumed)
    return response


def _record(meter: Meter, operation: str, consumed: Any) -> None:
    for entry in consumed if isinstance(consumed, list) else [consumed]:
        if not entry:
            continue
        units = float(entry.get("CapacityUnits", 0))
        meter.units[operation] += units
        if operation in {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}:
            meter.read_units += units
        else:
            meter.write_units += units


@contextmanager
def metered() -> Iterator[Meter]:
    meter = Meter()
    if getattr(BaseClient, "_make_api_call") is not _metered_call:  # noqa: B009
        setattr(BaseClient, "_make_api_call", _metered_call)  # noqa: B010
    _active.append(meter)
    try:
        yield meter
    finally:
        _active.remove(meter)
