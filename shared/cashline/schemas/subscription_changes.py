"""Wire shapes of subscription changes, cancellations and metered usage (routes: C's
functions/chalicelib/subscription_routes.py; services: services/billing/changes.py, cancellation.py,
usage.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import Field, model_validator

from cashline.domain.billing.subscription_changes import ChangeKind, ScheduledChange
from cashline.domain.billing.subscriptions import ProrationBehavior
from cashline.domain.billing.usage import UsageAction
from cashline.schemas.common import (
    MAX_MINOR_UNITS,
    BusinessDate,
    FieldProblem,
    MinorUnits,
    Moment,
    OutputModel,
    RequestModel,
)

ProrationName = Literal["create_prorations", "always_invoice", "none"]
MAX_CHANGE_ITEMS = 20
MAX_QUANTITY = 1_000_000_000


class ChangeItem(RequestModel):
    """One line of a change, in one of three forms:

    - `{"price_id": "prc_...", "quantity": 2}` adds a new item (quantity defaults to 1);
    - `{"id": "si_...", "quantity": 3}` changes an existing item's quantity, and
      `{"id": "si_...", "price_id": "prc_..."}` moves it to another price (optionally with a quantity);
    - `{"id": "si_...", "deleted": true}` removes an item.
    """

    id: str | None = Field(default=None, min_length=1, max_length=64, description="An existing item")
    price_id: str | None = Field(default=None, min_length=1, max_length=64)
    quantity: int | None = Field(default=None, ge=1, le=MAX_QUANTITY)
    deleted: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.deleted:
            if self.id is None:
                raise FieldProblem("deleted needs the id of an existing item", "id")
            if self.price_id is not None or self.quantity is not None:
                raise FieldProblem("a deleted item takes no price_id or quantity", "deleted")
        elif self.id is None and self.price_id is None:
            raise FieldProblem("give price_id for a new item or id for an existing one", "price_id")
        elif self.id is not None and self.price_id is None and self.quantity is None:
            raise FieldProblem("give quantity, price_id or deleted for an existing item", "quantity")
        return self


class ChangeRequest(RequestModel):
    items: list[ChangeItem] = Field(min_length=1, max_length=MAX_CHANGE_ITEMS)
    effective_date: BusinessDate | None = Field(
        default=None,
        description="Default: today for an upgrade, the current period's end for a downgrade",
    )
    proration: ProrationName | None = Field(
        default=None, description="Default: create_prorations for an upgrade, none for a downgrade"
    )

    @model_validator(mode="after")
    def _each_item_once(self) -> Self:
        seen: set[str] = set()
        for index, item in enumerate(self.items):
            if item.id is not None:
                if item.id in seen:
                    raise FieldProblem("an item may appear only once in a change", f"items.{index}.id")
                seen.add(item.id)
        return self


class CancelRequest(RequestModel):
    at: Literal["period_end", "now"] | BusinessDate = Field(
        default="period_end", description='"period_end", "now" or a date (YYYY-MM-DD)'
    )
    prorate: bool = Field(default=True, description="Credit the unused licensed part (at now or a date)")
    force: bool = Field(default=False, description="Cancel inside the minimum term or the notice period")


class UsageRequest(RequestModel):
    quantity: int = Field(ge=0, le=MAX_MINOR_UNITS)
    timestamp: Moment
    action: Literal["increment", "set"] | None = Field(
        default=None, description="Default: increment for a sum price, set for a last-value price"
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Or the Idempotency-Key header",
    )


# --------------------------------------------------------------------------------------------------
# Outputs


class ScheduledChangeItemOutput(OutputModel):
    id: str | None
    price_id: str | None
    quantity: int | None
    deleted: bool


class ScheduledChangeOutput(OutputModel):
    id: str
    kind: ChangeKind
    effective_date: date
    items: list[ScheduledChangeItemOutput]
    proration: ProrationBehavior | None
    prorate: bool


class ChangeOutput(OutputModel):
    subscription_id: str
    invoice_id: str | None = Field(description="The proration invoice (always_invoice, net positive)")
    credit_note_id: str | None = Field(description="The proration credit note (always_invoice, net negative)")
    scheduled_change: ScheduledChangeOutput | None = Field(
        description="Set when the change takes effect later"
    )
    pending_proration_amount: MinorUnits = Field(description="Proration waiting for the next invoice (net)")


class CancelOutput(OutputModel):
    subscription_id: str
    status: str
    cancel_at: date | None
    canceled_on: date | None
    invoice_id: str | None
    credit_note_id: str | None
    scheduled_change: ScheduledChangeOutput | None


class UsageRecordOutput(OutputModel):
    id: str
    subscription_item_id: str
    subscription_id: str
    quantity: int
    action: UsageAction
    timestamp: datetime
    period_start: date
    idempotency_key: str


def scheduled_change_output(change: ScheduledChange) -> ScheduledChangeOutput:
    return ScheduledChangeOutput(
        id=change.change_id,
        kind=change.kind,
        effective_date=change.effective_date,
        items=[
            ScheduledChangeItemOutput(
                id=i.item_id, price_id=i.price_id, quantity=i.quantity, deleted=i.deleted
            )
            for i in change.items
        ],
        proration=change.proration,
        prorate=change.prorate,
    )
