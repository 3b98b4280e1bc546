"""Counterparties: create, read with totals, change, list."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cashline.dal.invoice_repository import InvoiceRepository
from cashline.dal.pagination import Page
from cashline.dal.party_repository import CounterpartyRepository
from cashline.domain.counterparties import (
    Counterparty,
    CounterpartyRuleError,
    CounterpartyTotals,
    check_email,
    check_phone,
    normalize_country,
    normalize_iban,
    normalize_language,
    normalize_segment,
    normalize_tax_id,
)
from cashline.errors import ConflictError, NotFoundError, ValidationError
from cashline.ids import is_id_of, new_id

counterparties = CounterpartyRepository()

EDITABLE = (
    "name",
    "email",
    "phone",
    "address",
    "country",
    "preferred_language",
    "segment",
    "tax_id",
    "iban",
    "external_reference",
    "metadata",
)


@dataclass(frozen=True, slots=True)
class CounterpartyView:
    counterparty: Counterparty
    totals: list[CounterpartyTotals]


def checked_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise the given counterparty fields; an error names its field."""
    checks = {
        "email": check_email,
        "phone": check_phone,
        "country": normalize_country,
        "preferred_language": normalize_language,
        "segment": normalize_segment,
        "tax_id": normalize_tax_id,
        "iban": normalize_iban,
    }
    checked = dict(values)
    if "name" in checked and not (isinstance(checked["name"], str) and checked["name"].strip()):
        raise ValidationError("name must not be empty; a counterparty always has one", field="name")
    if "metadata" in checked and checked["metadata"] is None:
        checked["metadata"] = {}  # null clears it: the read path knows no metadata as {}
    if checked.get("address") is not None:
        # The address is replaced whole: a null inside it is a line the address does not have.
        checked["address"] = {k: v for k, v in checked["address"].items() if v is not None}
    try:
        for name, check in checks.items():
            # `is not None`: an empty string is a value to check, not one to skip (and store unchecked).
            if checked.get(name) is not None:
                checked[name] = check(checked[name])
        address = checked.get("address")
        if address is not None and address.get("country") is not None:
            checked["address"] = {
                **address,
                "country": normalize_country(address["country"], "address.country"),
            }
    except CounterpartyRuleError as exc:
        raise ValidationError(str(exc), field=exc.field) from exc
    return checked


def new_counterparty(tenant_id: str, values: dict[str, Any], *, now: datetime) -> Counterparty:
    """A checked, not yet stored counterparty (also used for one given inline with an invoice)."""
    if not str(values.get("name") or "").strip():
        raise ValidationError("name is required", field="name")
    checked = checked_fields(values)
    return Counterparty(
        tenant_id=tenant_id,
        counterparty_id=new_id("counterparty"),
        name=str(checked["name"]).strip(),
        email=checked.get("email"),
        phone=checked.get("phone"),
        address=checked.get("address"),
        country=checked.get("country") or (checked.get("address") or {}).get("country"),
        preferred_language=checked.get("preferred_language"),
        segment=checked.get("segment"),
        tax_id=checked.get("tax_id"),
        iban=checked.get("iban"),
        external_reference=checked.get("external_reference"),
        metadata=checked.get("metadata") or {},
        created_at=now,
        updated_at=now,
        version=0,
    )


def create_counterparty(tenant_id: str, values: dict[str, Any], *, now: datetime) -> CounterpartyView:
    created = counterparties.create(new_counterparty(tenant_id, values, now=now))
    return CounterpartyView(created, [])


def _known_form(counterparty_id: str) -> str:
    """`counterparty_id` if it has the form of one; a 404 otherwise, before any read."""
    if not is_id_of("counterparty", counterparty_id):
        raise NotFoundError("counterparty not found", field="counterparty_id")
    return counterparty_id


def get_counterparty(tenant_id: str, counterparty_id: str) -> CounterpartyView:
    profile, totals = counterparties.get(tenant_id, _known_form(counterparty_id))
    return CounterpartyView(profile, totals)


def update_counterparty(
    tenant_id: str, counterparty_id: str, changes: dict[str, Any], *, expected_version: int, now: datetime
) -> CounterpartyView:
    before, totals = counterparties.get(tenant_id, _known_form(counterparty_id))
    if before.version != expected_version:
        raise ConflictError(
            "counterparty was changed by someone else since this version; read it again", field="version"
        )
    checked = checked_fields({k: v for k, v in changes.items() if k in EDITABLE})
    after = replace(before, **checked, updated_at=now, version=before.version + 1)
    saved = counterparties.update(before, after)
    if (saved.name, saved.segment) != (before.name, before.segment):
        InvoiceRepository().follow_counterparty(saved)
    return CounterpartyView(saved, totals)


def list_counterparties(
    tenant_id: str, *, segment: str | None, limit: int, starting_after: str | None
) -> Page[Counterparty]:
    return counterparties.list(
        tenant_id,
        segment=normalize_segment(segment) if segment else None,
        limit=limit,
        starting_after=starting_after,
    )
