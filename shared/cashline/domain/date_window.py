"""The one window of plausible business dates, shared by request schemas and every import path."""

from __future__ import annotations

from datetime import date

# Nothing Cashline handles happened before 1970 or is due after 2100. The window keeps every date the
# code derives from an input (a due date plus a campaign's 365 days, a payout plus 12 monthly
# installments) far from `date.max`, and keeps typos such as 0001-01-01 or 9999-12-31 out of storage
# and out of DynamoDB key conditions.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2100, 12, 31)
WINDOW_TEXT = f"between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"


def is_plausible(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE
