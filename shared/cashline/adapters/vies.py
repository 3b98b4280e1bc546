"""VIES, the European Commission's check that an EU VAT id is registered (beyond its checksum).

An interface with three implementations: `DisabledVies` (the default: every answer "unavailable",
so the checksum alone decides), `LocalVies` (a fixed answer list, for tests and the local cloud;
no network) and `HttpVies` (the Commission's REST service). Which one answers is set once at cold
start with `use_vies` (only when a tenant turned `vies_check` on is it asked at all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import requests

from cashline.observability import logger

VIES_REST_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number"
TIMEOUT_SECONDS = 5


class ViesAnswer(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"  # VIES off, down, or the member state's registry not answering


class VatRegistry(Protocol):
    def check(self, vat_id: str, *, now: datetime) -> ViesAnswer:
        """Whether `vat_id` (compact, with its country prefix: "DE136695976") is registered."""
        ...


class DisabledVies:
    """No VIES: the checksum alone decides."""

    def check(self, vat_id: str, *, now: datetime) -> ViesAnswer:
        return ViesAnswer.UNAVAILABLE


@dataclass
class LocalVies:
    """Answers from a fixed list: ids in `registered` are valid, any other invalid."""

    registered: frozenset[str] = frozenset()
    asked: list[tuple[str, datetime]] = field(default_factory=list)

    def check(self, vat_id: str, *, now: datetime) -> ViesAnswer:
        self.asked.append((vat_id, now))
        return ViesAnswer.VALID if vat_id in self.registered else ViesAnswer.INVALID


Post = Callable[[str, Mapping[str, str]], Mapping[str, Any]]


def _post_json(url: str, body: Mapping[str, str]) -> Mapping[str, Any]:
    response = requests.post(url, json=dict(body), timeout=TIMEOUT_SECONDS)
    response.raise_for_status()
    answer: Mapping[str, Any] = response.json()
    return answer


@dataclass
class HttpVies:
    """The Commission's VIES REST service. A failure or a member state that does not answer is
    "unavailable", never "invalid": a customer is not charged VAT because a registry was down."""

    post: Post = _post_json

    def check(self, vat_id: str, *, now: datetime) -> ViesAnswer:
        body = {"countryCode": vat_id[:2], "vatNumber": vat_id[2:]}
        try:
            answer = self.post(VIES_REST_URL, body)
        except (requests.RequestException, ValueError) as exc:
            logger.warning("VIES unavailable", error=type(exc).__name__, at=now.isoformat())
            return ViesAnswer.UNAVAILABLE
        if answer.get("userError") not in (None, "VALID", "INVALID"):
            return ViesAnswer.UNAVAILABLE  # e.g. MS_UNAVAILABLE, TIMEOUT, SERVICE_UNAVAILABLE
        return ViesAnswer.VALID if answer.get("valid") is True else ViesAnswer.INVALID


_registry: list[VatRegistry] = [DisabledVies()]


def use_vies(registry: VatRegistry) -> None:
    """Set the registry `vies()` returns (cold start, tests)."""
    _registry[0] = registry


def vies() -> VatRegistry:
    """The registry in use (DisabledVies unless `use_vies` chose another)."""
    return _registry[0]
