"""Exchange rates: reading published rates, looking them up for a day, converting minor units.

Plain Python: no HTTP, no clock reads (the caller fetches the feed and passes the day).

A `Rate` says 1 ``base`` = ``rate`` ``quote``. The ECB publishes EUR-based reference rates only, so a
pair between two other currencies is a cross through EUR (CHF->GBP = EURGBP / EURCHF), and a pair
against EUR the other way round is an inverse (USD->EUR = 1 / EURUSD).

Rates are Decimals parsed from their written digits, never floats: a float cannot hold 0.9312, and
the error would show up as a cent off on a large amount. Derived rates (inverse, cross) are one
division at `RATE_PRECISION` significant digits, far more than any published rate, so the rounding
that matters happens once, in `convert`, to the target currency's minor unit.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import NamedTuple
from xml.etree.ElementTree import Element

from cashline.domain.money import CurrencyError, currency_exponent, normalize_currency

ECB_BASE = "EUR"
GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_ECB_ENVELOPE = f"{{{GESMES_NS}}}Envelope"
_ECB_NAMESPACES = {"gesmes": GESMES_NS, "ecb": EUROFXREF_NS}

# Significant digits of a derived (inverse or cross) rate: decimal128's precision. Converting even
# 10^15 minor units, the error this leaves is many orders of magnitude below one minor unit.
RATE_PRECISION = 34
# Published rates have four to six significant digits; ten decimals leave room for inverse quotes
# (JPY->EUR 0.0061950000) while refusing values that are clearly not rates.
MAX_RATE_DECIMALS = 10
# No real rate is 10^12 or more (IDR, VND and IRR per EUR are below 10^7).
_MAX_RATE_ADJUSTED = 11
DEFAULT_MAX_AGE_DAYS = 7  # covers weekends and the ECB's four-day Easter closure

# Only plain decimal notation (with an optional exponent, which str(float) may produce). Decimal()
# alone would also take "NaN", "Infinity", "1_000" and non-ASCII digits.
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FxInputError(ValueError):
    """A rate feed that cannot be trusted. ``field`` is where: a JSON path or an XML location."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Rate:
    """1 ``base`` = ``rate`` ``quote`` on ``day`` (EUR->CHF 0.9312)."""

    day: date
    base: str
    quote: str
    rate: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", normalize_currency(self.base))
        object.__setattr__(self, "quote", normalize_currency(self.quote))
        if self.base == self.quote:
            raise ValueError(f"a rate needs two different currencies, got {self.base}/{self.quote}")
        # A float here would already carry its binary error; refuse it rather than hide it.
        if not isinstance(self.rate, Decimal):
            raise TypeError(f"rate must be a Decimal, got {type(self.rate).__name__}")
        if not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(f"rate must be a positive finite number, got {self.rate}")


# --------------------------------------------------------------------------------------------------
# Parsing


def parse_ecb_xml(data: bytes) -> list[Rate]:
    """Rates from the ECB's reference-rate XML (daily, 90-day or historical file), base EUR.

    Refuses DTDs, entities and external references (the feed travels over the network, and a
    parser that expands entities can be made to read local files or exhaust memory). The result is
    in document order: day by day, currency by currency.
    """
    root = _parse_xml(data)
    if root.tag != _ECB_ENVELOPE:
        raise FxInputError(f"not an ECB reference-rate envelope: root element is {root.tag!r}")
    rates: list[Rate] = []
    seen_days: set[date] = set()
    for day_cube in root.findall("ecb:Cube/ecb:Cube", _ECB_NAMESPACES):
        day = _iso_date(day_cube.get("time"), "Cube/@time")
        if day in seen_days:
            raise FxInputError(f"day {day} appears twice", f"Cube[@time='{day}']")
        seen_days.add(day)
        rates.extend(_ecb_day(day_cube, day))
    # A wrong namespace or structure would otherwise read as "no rates" and wipe a rate book.
    if not rates:
        raise FxInputError("no rates found (expected gesmes:Envelope/Cube/Cube[@time]/Cube[@currency])")
    return rates


def _parse_xml(data: bytes) -> Element:
    """The e-invoice importer's safe parser (DTDs, entities, external references and oversize refused)."""
    # Deferred: the XML parser (defusedxml) only for a rates import, not for every reader of fx.
    from cashline.domain.einvoice.model import EInvoiceError
    from cashline.domain.einvoice.safe_xml import parse_xml

    try:
        return parse_xml(data)
    except EInvoiceError as exc:
        raise FxInputError(str(exc)) from exc


def _ecb_day(day_cube: Element, day: date) -> list[Rate]:
    rates: list[Rate] = []
    seen: set[str] = set()
    for cube in day_cube.findall("ecb:Cube", _ECB_NAMESPACES):
        raw_code = cube.get("currency") or ""
        where = f"Cube[@time='{day}']/Cube[@currency='{raw_code}']"
        quote = _currency(raw_code, f"{where}/@currency")
        if quote == ECB_BASE or quote in seen:
            raise FxInputError(f"{quote} is the base currency or appears twice on {day}", where)
        seen.add(quote)
        rate = _rate_value(cube.get("rate"), f"{where}/@rate")
        rates.append(Rate(day, ECB_BASE, quote, rate))
    return rates


def parse_json_pairs(payload: object) -> list[Rate]:
    """Rates from ``{"date": "2026-11-20", "rates": [{"base": "EUR", "quote": "CHF", "rate": "0.9312"}]}``.

    ``payload`` is what ``json.loads`` returned. A rate may be a string or a JSON number; numbers
    go through ``str()`` to Decimal (``0.9312`` stays 0.9312, never float arithmetic). An entry may
    carry its own ``"date"``, which then replaces the top-level one. Errors name the JSON path.
    """
    if not isinstance(payload, Mapping):
        raise FxInputError("expected a JSON object", "$")
    default_day = None if payload.get("date") is None else _iso_date(payload.get("date"), "date")
    entries = payload.get("rates")
    if not isinstance(entries, list):
        raise FxInputError("rates must be a list", "rates")
    rates: list[Rate] = []
    for index, entry in enumerate(entries):
        path = f"rates[{index}]"
        if not isinstance(entry, Mapping):
            raise FxInputError("expected an object", path)
        if entry.get("date") is not None:
            day = _iso_date(entry.get("date"), f"{path}.date")
        elif default_day is not None:
            day = default_day
        else:
            raise FxInputError("missing date (top-level or per entry)", f"{path}.date")
        base = _currency(entry.get("base"), f"{path}.base")
        quote = _currency(entry.get("quote"), f"{path}.quote")
        if base == quote:
            raise FxInputError(f"base and quote are both {base}", f"{path}.quote")
        rates.append(Rate(day, base, quote, _rate_value(entry.get("rate"), f"{path}.rate")))
    return rates


def _iso_date(value: object, field: str) -> date:
    # Only YYYY-MM-DD: fromisoformat alone would also take "20261120" and week dates since 3.11.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise FxInputError(f"{field} is not a YYYY-MM-DD date: {value!r}", field)
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise FxInputError(f"{field} is not a valid date: {value!r}", field) from exc


def _currency(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise FxInputError(f"{field} must be a currency code, got {value!r}", field)
    try:
        return normalize_currency(value)
    except CurrencyError as exc:
        raise FxInputError(f"unknown currency {value!r}", field) from exc


def _rate_value(value: object, field: str) -> Decimal:
    # bool is an int subclass: `true` is a JSON bug, not the rate 1.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FxInputError(f"{field} must be a number or a numeric string, got {value!r}", field)
    text = str(value).strip()
    if not _NUMBER.fullmatch(text):
        raise FxInputError(f"{field} is not a positive decimal number: {value!r}", field)
    try:
        rate = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above only admits valid numbers
        raise FxInputError(f"{field} is not a number: {value!r}", field) from exc
    if rate <= 0:
        raise FxInputError(f"{field} must be greater than zero: {value!r}", field)
    if rate.adjusted() > _MAX_RATE_ADJUSTED:
        raise FxInputError(f"{field} is implausibly large: {value!r}", field)
    # Trailing zeros carry no information ("0.93120" is 0.9312); count only the decimals that do.
    exponent = rate.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if -exponent > MAX_RATE_DECIMALS:
        raise FxInputError(f"{field} has more than {MAX_RATE_DECIMALS} decimals: {value!r}", field)
    return rate


# --------------------------------------------------------------------------------------------------
# Looking rates up


class _Quote(NamedTuple):
    """A rate as a fraction, so a cross divides once instead of rounding each leg."""

    day: date
    numerator: Decimal
    denominator: Decimal
    steps: int  # 0 direct, 1 inverse, 2 cross: on the same day, fewer steps wins


class RateBook:
    """Rates by pair and day; `rate()` finds the latest usable one for a day.

    A lookup uses, in this order of preference on the same day, the direct pair, its inverse, or a
    cross through ``pivot`` (EUR, as the ECB publishes). A more recent rate beats a more direct one:
    today's cross is a better answer than last week's direct quote. A cross is as old as its older
    leg. For the same pair and day, the rate given last wins.

    Rates older than ``max_age_days`` before the day asked for are not used: a stale rate is worse
    than none, because the caller can then fetch or flag instead of booking a wrong amount.
    """

    def __init__(
        self, rates: Iterable[Rate], *, max_age_days: int = DEFAULT_MAX_AGE_DAYS, pivot: str = ECB_BASE
    ):
        if max_age_days < 0:
            raise ValueError("max_age_days must not be negative")
        self.max_age_days = max_age_days
        self.pivot = normalize_currency(pivot)
        by_pair: dict[tuple[str, str], dict[date, Decimal]] = {}
        for rate in rates:
            # The parsers refuse a pair twice on one day within a feed; across feeds (a correction
            # stored after the original) the later one in ``rates`` wins, so a report built from
            # stored rates never fails on a superseded value.
            by_pair.setdefault((rate.base, rate.quote), {})[rate.day] = rate.rate
        self._days: dict[tuple[str, str], list[date]] = {}
        self._rates: dict[tuple[str, str], list[Decimal]] = {}
        for pair, days in by_pair.items():
            ordered = sorted(days)
            self._days[pair] = ordered
            self._rates[pair] = [days[day] for day in ordered]

    def rate(self, base: str, quote: str, on: date) -> tuple[Decimal, date] | None:
        """(rate, day it was published for) of 1 ``base`` in ``quote`` on ``on``, or None."""
        base, quote = normalize_currency(base), normalize_currency(quote)
        if base == quote:
            return Decimal(1), on
        candidates = [self._leg(base, quote, on)]
        if self.pivot not in (base, quote):
            candidates.append(self._cross(base, quote, on))
        found = [c for c in candidates if c is not None]
        if not found:
            return None
        best = max(found, key=lambda c: (c.day, -c.steps))
        return _value(best), best.day

    def _latest(self, base: str, quote: str, on: date) -> tuple[date, Decimal] | None:
        days = self._days.get((base, quote))
        if not days:
            return None
        index = bisect_right(days, on) - 1
        if index < 0 or (on - days[index]).days > self.max_age_days:
            return None
        return days[index], self._rates[(base, quote)][index]

    def _leg(self, base: str, quote: str, on: date) -> _Quote | None:
        direct = self._latest(base, quote, on)
        inverse = self._latest(quote, base, on)
        if direct is not None and (inverse is None or direct[0] >= inverse[0]):
            return _Quote(direct[0], direct[1], Decimal(1), 0)
        if inverse is not None:
            return _Quote(inverse[0], Decimal(1), inverse[1], 1)
        return None

    def _cross(self, base: str, quote: str, on: date) -> _Quote | None:
        first = self._leg(base, self.pivot, on)
        second = self._leg(self.pivot, quote, on)
        if first is None or second is None:
            return None
        # Parsed rates have at most 22 significant digits; twice the derived precision keeps the
        # products exact even for hand-made 34-digit rates, so only the final division rounds.
        with localcontext() as context:
            context.prec = 2 * RATE_PRECISION
            numerator = first.numerator * second.numerator
            denominator = first.denominator * second.denominator
        return _Quote(min(first.day, second.day), numerator, denominator, 2)


def _value(quote: _Quote) -> Decimal:
    if quote.denominator == 1:
        return quote.numerator
    with localcontext() as context:
        context.prec = RATE_PRECISION
        context.rounding = ROUND_HALF_EVEN
        return quote.numerator / quote.denominator


# --------------------------------------------------------------------------------------------------
# Converting

# A rate is a plain number: bounding its digits keeps 10**shift below from becoming a memory bomb.
_MAX_RATE_DIGITS = 80


def convert(amount: int, from_currency: str, to_currency: str, rate: Decimal) -> int:
    """Convert integer minor units at ``rate`` (1 from = rate to), rounding half-up once.

    Exact: amount / 10^exp(from) * rate * 10^exp(to) is computed on integers, then rounded to the
    target's minor unit (JPY 0 decimals, BHD 3). Half-up means away from zero, so converting a
    refund gives exactly the negative of converting its payment.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be integer minor units, got {type(amount).__name__}")
    if not isinstance(rate, Decimal):
        raise TypeError(f"rate must be a Decimal, got {type(rate).__name__}")
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"rate must be a positive finite number, got {rate}")
    source, target = normalize_currency(from_currency), normalize_currency(to_currency)
    if source == target and rate != 1:
        raise ValueError(f"converting {source} to itself needs the rate 1, got {rate}")
    _, digits, exponent = rate.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    if len(digits) > _MAX_RATE_DIGITS or abs(exponent) > _MAX_RATE_DIGITS:
        raise ValueError(f"rate {rate} has implausibly many digits")
    coefficient = int("".join(map(str, digits)))
    shift = exponent + currency_exponent(target) - currency_exponent(source)
    numerator = amount * coefficient
    # Annotated: int ** int is typed Any, since a negative exponent would give a float.
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        return numerator * factor
    denominator = factor
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient
