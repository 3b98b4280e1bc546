"""How a taxed subscription invoice or credit note is stored: its stated amounts (the lines and tax
breakdown every invoice keeps) and the details the documents read (PDF, UBL, CII).

One pure function for both writers (services/billing/drafts.py for invoices, services/billing/credit.py
for credit notes), so the two document kinds cannot drift apart and the e-invoice tests check exactly
what the engine stores.

The stored lines keep the shape of every other invoice's: `tax_rate` in percent as text (1900 basis
points -> "19", 550 -> "5.5"); amounts stay integer minor units, never rounded again here (the
rounding happened once, per rate, in domain/billing/tax.py `tax_lines`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cashline.domain.billing.tax import TaxDecision, TaxedInvoice, TaxTreatment
from cashline.domain.invoices import StatedAmounts


@dataclass(frozen=True, slots=True)
class StoredAmounts:
    """What an engine document stores: `stated` for the invoice's body lines and totals, `details`
    for the documents (per-line tax decisions and service dates, legal notes, VAT ids, credit)."""

    stated: StatedAmounts
    details: dict[str, Any]


def rate_text(rate_basis_points: int) -> str:
    """A rate as the invoice lines store it (percent, no exponent): 1900 -> "19", 550 -> "5.5"."""
    return f"{Decimal(rate_basis_points) / 100:f}"


def stored_amounts(
    taxed: TaxedInvoice,
    *,
    seller_vat_id: str | None,
    buyer_vat_id: str | None,
    credit_applied: int = 0,
) -> StoredAmounts:
    """The stated amounts and document details of `taxed`; `credit_applied`: the customer's credit
    taken off the total (minor units; recorded as the invoice's prepaid amount, EN 16931 BT-113)."""
    return StoredAmounts(
        stated=_stated(taxed),
        details=_details(taxed, seller_vat_id, buyer_vat_id, credit_applied),
    )


def _stated(taxed: TaxedInvoice) -> StatedAmounts:
    lines = [
        {
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_amount": line.unit_amount,
            "tax_rate": rate_text(line.decision.rate_basis_points),
            "net_amount": line.net_amount,
        }
        for line in taxed.lines
    ]
    taxes = [
        {
            "rate": rate_text(group.rate_basis_points),
            "category_code": group.category_code,
            "taxable_amount": group.taxable,
            "tax_amount": group.tax,
        }
        for group in taxed.taxes
    ]
    return StatedAmounts(taxed.subtotal, taxed.tax, taxed.total, lines, taxes)


def _details(
    taxed: TaxedInvoice, seller_vat_id: str | None, buyer_vat_id: str | None, credit_applied: int
) -> dict[str, Any]:
    return {
        "tax_notes": list(taxed.notes),
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount": line.unit_amount,
                "net_amount": line.net_amount,
                "gross_amount": line.gross_amount,
                "kind": line.kind,
                "item_id": line.item_id,
                "price_id": line.price_id,
                "tax_rate_basis_points": line.decision.rate_basis_points,
                "tax_category_code": line.decision.category_code,
                "tax_treatment": line.decision.treatment.value,
                "tax_country": line.decision.country,
                "exemption_reason_code": line.decision.exemption_reason_code,
                "tax_note": line.decision.note,
                "service_start": line.service_start.isoformat(),
                "service_end": line.service_end.isoformat(),
            }
            for line in taxed.lines
        ],
        "seller_vat_id": seller_vat_id,
        "buyer_vat_id": buyer_vat_id,
        "credit_applied": credit_applied,
    }


def credited_decisions(
    item_ids: Sequence[tuple[str | None, str | None]], credited_details: Mapping[str, Any] | None
) -> list[TaxDecision | None]:
    """The tax decision each credit line takes from the invoice it credits: the credited invoice's
    line of the same item and price (else of the same item) as stored in its `body.details`, so a
    credit reverses the VAT that was charged (a customer who added a VAT id after being charged 19 %
    is credited at 19 %, not reverse-charged at 0 %). None (decide now) for a line the credited
    invoice does not hold, or when there is no credited invoice. `item_ids`: (item id, price id) per
    credit line."""
    stored = list((credited_details or {}).get("lines") or [])
    notes = list((credited_details or {}).get("tax_notes") or [])
    found: list[TaxDecision | None] = []
    for item_id, price_id in item_ids:
        same_item = [line for line in stored if item_id is not None and line.get("item_id") == item_id]
        same_price = [line for line in same_item if line.get("price_id") == price_id]
        match = (same_price or same_item or [None])[0]
        found.append(None if match is None else _decision_of(match, notes))
    return found


def _decision_of(line: Mapping[str, Any], notes: Sequence[str]) -> TaxDecision | None:
    """The stored line's decision; a line stored before notes were kept per line takes the
    invoice's only note when its category is not standard or zero rated (the note it printed)."""
    note = line.get("tax_note")
    if "tax_note" not in line and line.get("tax_category_code") not in {"S", "Z"} and len(notes) == 1:
        note = notes[0]
    try:
        return TaxDecision(
            rate_basis_points=int(line["tax_rate_basis_points"]),
            category_code=str(line["tax_category_code"]),
            treatment=TaxTreatment(line["tax_treatment"]),
            country=str(line["tax_country"]),
            note=note,
            exemption_reason_code=line.get("exemption_reason_code"),
        )
    except (KeyError, TypeError, ValueError):
        return None  # a line stored without its decision: decided now
