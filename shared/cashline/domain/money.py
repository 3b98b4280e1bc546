"""Money as integer minor units plus an ISO 4217 code. Never a float.

Exponents (2 for EUR, 0 for JPY, 3 for BHD) come from Babel's CLDR data, not a hard-coded 2.
Splits use the largest-remainder method so the parts always sum exactly to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from babel.numbers import UnknownCurrencyError, get_currency_precision, validate_currency

# 10^15 minor units is ten trillion euros: more than any invoice, far less than DynamoDB's 38 digits.
# Every amount the API takes and every total computed from them stays within it.
MAX_MINOR_UNITS = 10**15


class CurrencyError(ValueError):
    pass


class AmountLimitError(ValueError):
    """A computed amount beyond `MAX_MINOR_UNITS`."""


def within_limit(amount: int, what: str) -> int:
    """`amount` if it is within +-`MAX_MINOR_UNITS`; AmountLimitError naming `what` otherwise."""
    if abs(amount) > MAX_MINOR_UNITS:
        raise AmountLimitError(f"{what} would be beyond {MAX_MINOR_UNITS} minor units")
    return amount


@lru_cache(maxsize=512)
def normalize_currency(code: str) -> str:
    """Return the upper-case ISO 4217 code, or raise CurrencyError for an unknown one."""
    upper = code.strip().upper()
    if len(upper) != 3 or not upper.isalpha():
        raise CurrencyError(f"{code!r} is not a three-letter ISO 4217 currency code")
    try:
        validate_currency(upper)
    except UnknownCurrencyError as exc:
        raise CurrencyError(f"{code!r} is not an ISO 4217 currency code") from exc
    return upper


# ISO 4217 codes that are valid but no money one bills in: precious metals (XAU gold, XAG silver,
# XPD palladium, XPT platinum), the testing and "no currency" codes (XTS, XXX), units of account and
# bond-market units (XDR, XBA-XBD, XSU, XUA) and the fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN,
# UYI, UYW: index-linked or settlement units beside a real currency).
NON_BILLING_CURRENCIES = frozenset(
    {
        "XAU", "XAG", "XPD", "XPT", "XTS", "XXX", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA",
        "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW",
    }
)  # fmt: skip


def check_billing_currency(code: str) -> str:
    """The upper-case ISO 4217 code if one can bill in it; CurrencyError for an unknown code or one
    of NON_BILLING_CURRENCIES (e.g. "xau" -> CurrencyError, "eur" -> "EUR")."""
    upper = normalize_currency(code)
    if upper in NON_BILLING_CURRENCIES:
        raise CurrencyError(f"{upper} is an ISO 4217 code but not a currency one bills in")
    return upper


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of a currency (EUR 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(normalize_currency(code)))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True cents is a bug, not an amount.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"Money amount must be integer minor units, got {type(self.amount).__name__}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split by integer weights with the largest-remainder method; parts sum to self exactly.

        Ties in the remainder go to the earlier part, so the result is deterministic.
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative integers with a positive sum")
        total_weight = sum(weights)
        sign = -1 if self.amount < 0 else 1
        magnitude = abs(self.amount)
        shares = [divmod(magnitude * w, total_weight) for w in weights]
        parts = [quotient for quotient, _ in shares]
        leftover = magnitude - sum(parts)
        by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
        for index in by_remainder[:leftover]:
            parts[index] += 1
        return [Money(sign * part, self.currency) for part in parts]

    def split(self, count: int) -> list[Money]:
        """Split into ``count`` parts that differ by at most one minor unit, larger parts first."""
        if count < 1:
            raise ValueError("count must be at least 1")
        return self.allocate([1] * count)
