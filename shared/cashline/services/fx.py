"""A tenant's exchange rates: stored from the ECB's reference-rate XML or JSON pairs, read by the reports
to convert to the base currency."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from cashline.dal.fx_repository import rates_before, save_rates
from cashline.domain.date_window import EARLIEST_DATE, LATEST_DATE
from cashline.domain.fx import FxInputError, Rate, parse_ecb_xml, parse_json_pairs
from cashline.errors import UnsupportedMediaTypeError, ValidationError
from cashline.schemas.common import parse_json
from cashline.schemas.insight import FxRatesRequest

MAX_RATES = 5_000  # a 90-day ECB file holds about 2,000


def store(tenant_id: str, body: bytes, content_type: str, *, now: datetime) -> list[Rate]:
    try:
        if content_type in {"application/xml", "text/xml"}:
            rates = parse_ecb_xml(body)
            source = "ecb-xml"
        elif content_type == "application/json":
            # The body's shape (no unknown fields, dates in the window, no control characters) is the
            # API's one request check; the rates' meaning (currencies, digits) is the domain's.
            payload = parse_json(FxRatesRequest, body)
            rates = parse_json_pairs(payload.model_dump(mode="json", exclude_none=True))
            source = "json"
        else:
            raise UnsupportedMediaTypeError("send the ECB XML or JSON pairs", field="Content-Type")
    except FxInputError as exc:
        raise ValidationError(str(exc), field=exc.field or "body") from None
    if not rates:
        raise ValidationError("no rates in the body", field="body")
    outside = next((r for r in rates if not EARLIEST_DATE <= r.day <= LATEST_DATE), None)
    if outside is not None:
        # The ECB file's days are read by the domain parser; the JSON ones were checked above.
        raise ValidationError(
            f"the day {outside.day} is not between {EARLIEST_DATE} and {LATEST_DATE}", field="Cube/@time"
        )
    if len(rates) > MAX_RATES:
        raise ValidationError(f"at most {MAX_RATES} rates per request", field="body")
    save_rates(tenant_id, rates, source, now)
    return list(rates)


def rates_on(tenant_id: str, on: date, *, base: str | None) -> list[tuple[date, str, str, Decimal]]:
    """The latest stored rate of each pair in the week up to `on`."""
    latest: dict[tuple[str, str], tuple[date, str, str, Decimal]] = {}
    for row in sorted(rates_before(tenant_id, on)):
        if base is None or row[1] == base:
            latest[(row[1], row[2])] = row
    return sorted(latest.values(), key=lambda r: (r[1], r[2]))
