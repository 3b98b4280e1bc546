"""What a difference between what was owed and what arrived looks like: underpaid (and whether the
shortfall looks like an early-payment discount or bank fees) or overpaid (the rest kept as the
payer's credit). Flagged on the proposal, never hidden: a person sees why a line is short.

Causes of a shortfall, tried in this order:
- early-payment discount (Skonto, escompte): short by 1 %, 2 %, 2.5 % or 3 % of what was owed. The
  payer rounds the discount as they like, so the exact discount rounded down or up both count:
  owed 123.45 EUR, 2 % = 2.469 -> a shortfall of 2.46 or 2.47 is a discount; owed 1,190.00 paid
  1,166.20 (short 23.80 = 2 % exactly) is a discount too. A 1 % discount that also looks like a fee
  (1 % of 500.00) is called a discount: the percentage is the more specific explanation.
- bank fees: short by at most 1.5 % of what was owed and at most 25.00 in the currency's major unit
  (25 JPY, 25.000 BHD by each currency's exponent): what a sending or correspondent bank keeps.
- otherwise no cause: a partial payment (the rest stays open on the invoice).
"""

from __future__ import annotations

from cashline.domain.bank.reconciliation import Discrepancy, DiscrepancyKind, ShortfallCause
from cashline.domain.money import currency_exponent
from cashline.domain.money_text import format_minor_units

# Early-payment discounts in per-mille of the amount owed (1 %, 2 %, 2.5 %, 3 %).
DISCOUNT_PERMILLE = (10, 20, 25, 30)
# Bank fees: at most this share of the amount owed (per-mille) and this many major units.
FEES_MAX_PERMILLE = 15
FEES_MAX_MAJOR_UNITS = 25


def shortfall(owed: int, paid: int, currency: str) -> Discrepancy | None:
    """The discrepancy between `owed` and `paid` (minor units of `currency`): None when equal,
    OVERPAID by the rest (kept as the payer's credit), or UNDERPAID with its cause, if any."""
    if paid == owed:
        return None
    if paid > owed:
        rest = paid - owed
        return Discrepancy(
            kind=DiscrepancyKind.OVERPAID,
            amount=rest,
            currency=currency,
            detail=f"paid {shown(rest, currency)} more than owed: kept as the payer's credit",
        )
    short = owed - paid
    cause = shortfall_cause(owed, short, currency)
    return Discrepancy(
        kind=DiscrepancyKind.UNDERPAID,
        amount=short,
        currency=currency,
        cause=cause,
        detail=_underpaid_detail(owed, short, currency, cause),
    )


def shortfall_cause(owed: int, short: int, currency: str) -> ShortfallCause | None:
    """What a shortfall of `short` on `owed` looks like (module docstring), None for a partial payment."""
    if short <= 0 or short >= owed:
        return None
    if discount_permille(owed, short) is not None:
        return ShortfallCause.EARLY_PAYMENT_DISCOUNT
    fee_ceiling = FEES_MAX_MAJOR_UNITS * 10 ** currency_exponent(currency)
    if short <= fee_ceiling and short * 1000 <= owed * FEES_MAX_PERMILLE:
        return ShortfallCause.BANK_FEES
    return None


def discount_permille(owed: int, short: int) -> int | None:
    """The early-payment discount (per-mille) `short` is of `owed`, rounded down or up; None if none."""
    for permille in DISCOUNT_PERMILLE:
        exact_times_1000 = owed * permille  # the discount times 1000, kept integral
        rounded_down = exact_times_1000 // 1000
        rounded_up = -(-exact_times_1000 // 1000)
        if short in (rounded_down, rounded_up):
            return permille
    return None


def shown(amount: int, currency: str) -> str:
    """An amount as a person reads it in a reason or detail ("EUR 23.80" style, English)."""
    return format_minor_units(amount, currency, "en")


def _underpaid_detail(owed: int, short: int, currency: str, cause: ShortfallCause | None) -> str:
    text = f"short by {shown(short, currency)}"
    if cause is ShortfallCause.EARLY_PAYMENT_DISCOUNT:
        # Integer per-mille to a printed percentage: 25 -> "2.5", 20 -> "2".
        permille = discount_permille(owed, short) or 0
        whole, tenth = divmod(permille, 10)
        return f"{text}: looks like a {whole}{f'.{tenth}' if tenth else ''} % early-payment discount"
    if cause is ShortfallCause.BANK_FEES:
        return f"{text}: looks like bank fees"
    return f"{text}: a partial payment, the rest stays open"
