"""A tenant's exchange rates: `T#<tenant>#FX` / `<day>#<base>#<quote>`, the rate as a decimal string.
Reports read the days before their date with one Query."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import BatchWrite

from cashline.dal.table import CashlineItem

LOOKBACK_DAYS = 7  # a rate older than a week is not used


class FxRateRecord(CashlineItem, discriminator="fx_rate"):
    day = UnicodeAttribute()
    base = UnicodeAttribute()
    quote = UnicodeAttribute()
    rate = UnicodeAttribute()
    source = UnicodeAttribute()


def fx_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#FX"


def save_rates(tenant_id: str, rates: list[Any], source: str, now: datetime) -> int:
    """Rates of the same day and pair replace the earlier ones (a corrected file)."""
    batch: BatchWrite[FxRateRecord]
    with FxRateRecord.batch_write() as batch:
        for r in rates:
            batch.save(
                FxRateRecord(
                    pk=fx_pk(tenant_id),
                    sk=f"{r.day.isoformat()}#{r.base}#{r.quote}",
                    day=r.day.isoformat(),
                    base=r.base,
                    quote=r.quote,
                    rate=str(r.rate),
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
            )
    return len(rates)


def rates_before(tenant_id: str, on: date) -> list[tuple[date, str, str, Decimal]]:
    first = on - timedelta(days=LOOKBACK_DAYS)
    return [
        (date.fromisoformat(item.day), item.base, item.quote, Decimal(item.rate))
        for item in FxRateRecord.query(
            fx_pk(tenant_id), FxRateRecord.sk.between(first.isoformat(), on.isoformat() + "#~")
        )
        if isinstance(item, FxRateRecord)
    ]
