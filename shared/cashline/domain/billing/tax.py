"""VAT on subscription invoices: which rate a line gets, and exact tax amounts.

Plain Python: no storage, no clock, no floats. Rates come from ``tax_rates.json`` next to this module
(the one place they live, with their source and date; ``rate_table()``).

Which rate (``decide``), for a seller registered in ``seller.country``:

1. Exempt products are exempt (E, 0 %, VATEX-EU-132) wherever the buyer is in the seller's VAT area.
2. Domestic (the buyer in the seller's country, or the buyer's country unknown): the seller's rate
   for the product's category; zero-rated products Z 0 %.
3. EU seller, buyer in another EU state:
   - business with a valid VAT id (checked by the caller: format and checksum, VIES when on):
     reverse charge, AE 0 %, VATEX-EU-AE, with the legal note;
   - consumer (or a VAT id that is not valid): the customer country's rate when the seller uses the
     One-Stop-Shop (``seller.oss``), else the seller's own rate. Without OSS the seller stays under
     the EU-wide 10,000 EUR threshold for cross-border B2C sales of digital services and distance
     sales at its own risk: watching that threshold is the tenant's responsibility.
4. EU seller, buyer outside the EU. What the catalog sells are services, never goods, so category G
   ("Export outside the EU", goods leaving the EU) does not apply; the place of supply decides:
   - business (a VAT id is not required: third countries have none or another kind): the service is
     supplied where the customer is (Art. 44 Directive 2006/112/EC), outside the EU: not subject to
     EU VAT, O 0 %, VATEX-EU-O, note "Not subject to VAT: place of supply outside the EU (Art. 44
     Directive 2006/112/EC)", whatever the product's category: an exempt product too (an exemption
     of Art. 132 only applies to a supply taxable in the EU, and this one is not), so an invoice to a
     business outside the EU is all O, as EN 16931 wants it (BR-O-11: O beside no other category);
   - consumer buying a digital service (category ``digital_service``: electronically supplied,
     telecommunication, broadcasting): supplied where the consumer lives (Art. 58), likewise O 0 %,
     with the note naming Art. 58;
   - consumer buying any other service: the general rule, supplied where the seller is established
     (Art. 45), so the seller's own rate (as rule 2);
   - a consumer's exempt products stay exempt (E, VATEX-EU-132). A consumer invoice may so mix O
     with S or E: it is a valid invoice but no valid EN 16931 e-invoice, and goes out as a PDF only
     (services/billing/delivery.py).
5. Seller outside the EU (e.g. GB, CH, NO): its domestic rate at home; abroad 0 % O ("outside the
   scope of <country> VAT", VATEX-EU-O), except EU consumers of a seller registered for the
   non-Union OSS scheme (``seller.oss``), who pay their own country's rate.
6. A seller whose country is not in the table charges no VAT it could know of: O 0 %.

Inclusive prices are split exactly (``split_inclusive``) and the tax of an invoice is computed per
(rate, category) group, once (``tax_lines``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import NamedTuple, Protocol

from cashline.domain.billing.catalog import TaxBehavior, TaxCategory
from cashline.domain.billing.proration import BASIS_POINTS, tax_of
from cashline.domain.money import within_limit

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)"
)
EXPORT_NOTE = "Export outside the EU"  # category G: goods only, which the catalog does not sell
OUTSIDE_EU_NOTE = "Not subject to VAT: place of supply outside the EU (Art. {article} Directive 2006/112/EC)"
B2B_OUTSIDE_EU_NOTE = OUTSIDE_EU_NOTE.format(article=44)
B2C_DIGITAL_OUTSIDE_EU_NOTE = OUTSIDE_EU_NOTE.format(article=58)
EXEMPT_NOTE = "Exempt from VAT"


@dataclass(frozen=True, slots=True)
class SellerTax:
    country: str  # where the seller is registered for VAT (ISO alpha-2)
    vat_id: str | None
    oss: bool  # registered for the One-Stop-Shop: EU consumers pay their own country's rate


@dataclass(frozen=True, slots=True)
class BuyerTax:
    country: str | None
    vat_id: str | None
    vat_id_valid: bool  # format and checksum (python-stdnum), and VIES when the tenant turned it on
    is_business: bool


class TaxTreatment(StrEnum):
    DOMESTIC = "domestic"
    REVERSE_CHARGE = "reverse_charge"
    OSS = "oss"
    EXPORT = "export"
    EXEMPT = "exempt"
    ZERO_RATED = "zero_rated"
    OUTSIDE_SCOPE = "outside_scope"


@dataclass(frozen=True, slots=True)
class TaxDecision:
    rate_basis_points: int  # 1900 = 19 %
    category_code: str  # UNCL5305 as EN 16931 uses it: S, AE, Z, E, G, K, O
    treatment: TaxTreatment
    country: str  # whose VAT applies (the seller's, or the customer's under OSS)
    note: str | None  # legal note printed on the invoice
    exemption_reason_code: str | None  # VATEX code for AE, E, G, K, O


@dataclass(frozen=True, slots=True)
class CountryRates:
    name: str
    eu: bool
    standard: int
    reduced: int | None
    categories: Mapping[TaxCategory, int]


@dataclass(frozen=True, slots=True)
class RateTable:
    source: str
    url: str
    as_of: date
    countries: Mapping[str, CountryRates]

    def is_eu(self, country: str | None) -> bool:
        rates = self.countries.get(country or "")
        return rates is not None and rates.eu

    def rate(self, country: str, category: TaxCategory) -> int:
        """The rate ``country`` charges for ``category``, in basis points (KeyError if unknown)."""
        return self.countries[country].categories[category]


@cache
def rate_table() -> RateTable:
    """The rate table, read once from tax_rates.json (its source and as-of date inside)."""
    raw = json.loads(resources.files(__package__).joinpath("tax_rates.json").read_text("utf-8"))
    countries = {
        code: CountryRates(
            name=entry["name"],
            eu=bool(entry["eu"]),
            standard=int(entry["standard"]),
            reduced=None if entry["reduced"] is None else int(entry["reduced"]),
            categories={TaxCategory(name): int(rate) for name, rate in entry["categories"].items()},
        )
        for code, entry in raw["countries"].items()
    }
    return RateTable(raw["source"], raw["url"], date.fromisoformat(raw["as_of"]), countries)


def _at_home(table: RateTable, country: str, category: TaxCategory) -> TaxDecision:
    """The seller's own VAT for ``category``."""
    if category is TaxCategory.EXEMPT:
        note = f"{EXEMPT_NOTE} (Art. 132 Directive 2006/112/EC)" if table.is_eu(country) else EXEMPT_NOTE
        return TaxDecision(0, "E", TaxTreatment.EXEMPT, country, note, "VATEX-EU-132")
    rate = table.rate(country, category)
    if category is TaxCategory.ZERO or rate == 0:
        return TaxDecision(0, "Z", TaxTreatment.ZERO_RATED, country, None, None)
    return TaxDecision(rate, "S", TaxTreatment.DOMESTIC, country, None, None)


def _in_customer_country(table: RateTable, country: str, category: TaxCategory) -> TaxDecision:
    """OSS: the consumer's country's rate for ``category``."""
    decision = _at_home(table, country, category)
    if decision.treatment is TaxTreatment.DOMESTIC:
        return TaxDecision(decision.rate_basis_points, "S", TaxTreatment.OSS, country, None, None)
    return decision


def _outside_scope(country: str) -> TaxDecision:
    note = f"Outside the scope of {country} VAT"
    return TaxDecision(0, "O", TaxTreatment.OUTSIDE_SCOPE, country, note, "VATEX-EU-O")


def _outside_the_eu(table: RateTable, home: str, buyer: BuyerTax, category: TaxCategory) -> TaxDecision:
    """An EU seller's service to a customer outside the EU (rule 4 of the module docstring)."""
    if buyer.is_business:  # every category, exempt included: place of supply outside the EU
        return TaxDecision(0, "O", TaxTreatment.OUTSIDE_SCOPE, home, B2B_OUTSIDE_EU_NOTE, "VATEX-EU-O")
    if category is TaxCategory.EXEMPT:
        return _at_home(table, home, category)
    if category is TaxCategory.DIGITAL_SERVICE:
        return TaxDecision(
            0, "O", TaxTreatment.OUTSIDE_SCOPE, home, B2C_DIGITAL_OUTSIDE_EU_NOTE, "VATEX-EU-O"
        )
    return _at_home(table, home, category)


def _is_eu_business(table: RateTable, buyer: BuyerTax) -> bool:
    return table.is_eu(buyer.country) and buyer.is_business and bool(buyer.vat_id) and buyer.vat_id_valid


def decide(seller: SellerTax, buyer: BuyerTax, category: TaxCategory, *, on: date) -> TaxDecision:
    """The VAT of one line of ``category`` sold by ``seller`` to ``buyer`` (rules: module docstring).

    ``on`` is the supply date; the table holds the rates in force from its ``as_of`` date and is
    used for any later date (a rate change is a new table, with its new date).
    """
    del on  # one table in force: kept in the signature so a dated table needs no caller change
    table = rate_table()
    home = seller.country.upper()
    there = buyer.country.upper() if buyer.country else None
    if home not in table.countries:
        return _outside_scope(home)
    if there is None or there == home:
        return _at_home(table, home, category)
    buyer_eu = table.is_eu(there)
    if not table.is_eu(home):
        if buyer_eu and seller.oss and not _is_eu_business(table, buyer):
            return _in_customer_country(table, there, category)
        return _outside_scope(home)
    if not buyer_eu:
        return _outside_the_eu(table, home, buyer, category)
    if category is TaxCategory.EXEMPT:
        return _at_home(table, home, category)
    if _is_eu_business(table, buyer):
        return TaxDecision(0, "AE", TaxTreatment.REVERSE_CHARGE, there, REVERSE_CHARGE_NOTE, "VATEX-EU-AE")
    if seller.oss:
        return _in_customer_country(table, there, category)
    return _at_home(table, home, category)


def split_inclusive(gross: int, rate_basis_points: int) -> tuple[int, int]:
    """Split a tax-inclusive amount into (net, tax) with ``net + tax == gross`` exactly.

    The rule: ``net`` is the one amount whose tax, computed the exclusive way (``tax_of``: net x
    rate, half-up once), brings it back to ``gross``; so the invoice's tax equals taxable x rate as
    EN 16931 BR-CO-17 states it. Negative amounts mirror positive ones.

    When no such net exists, the gross wins: ``net + tax == gross`` always holds, and the tax may
    then differ from ``tax_of(net)`` by one minor unit (up or down). ``net + tax_of(net)`` grows by
    1 + rate per minor unit of net on average, in steps of 1 or 2, so it skips a share rate / (1 +
    rate) of the gross amounts: 15.97 % of them at 19 %, 6.54 % at 7 % (measured over 0.01 ..
    1000.00). The gross wins because it is the price: an inclusive price is what the customer was
    told they pay (a consumer price must be the final price), so the invoice's total must be exactly
    what was charged; moving the total by a cent to make net x rate exact would bill an amount the
    price never said. The net is then ``gross / (1 + rate)`` rounded half-up and the tax the rest,
    within one minor unit of the exact tax.

    Validators: BR-CO-17 (BT-117 = BT-116 x BT-119 / 100, rounded to two decimals) is checked with a
    tolerance by the CEN EN 16931 schematron as current validators ship it (Factur-X's, KoSIT's for
    XRechnung): |BT-117| within +/- 1 of the rounded product, the amounts being decimal major units,
    so one currency unit, far more than the one cent here. Older releases of that schematron
    compared exactly and would reject such an invoice. Cashline's own importer accepts one minor
    unit (domain/einvoice/rules.py ``VAT_ROUNDING_TOLERANCE = 1``), so what it issues reads back.

    Worked examples at 19 %: 10.00 EUR: 1000 / 1.19 = 840.34 -> net 8.40; tax_of(840) = 159.6 ->
    1.60; 8.40 + 1.60 = 10.00, so (840, 160). 9.99 EUR: 999 / 1.19 = 839.50 (839.4958) -> no exact
    net (8.39 + 1.59 = 9.98, 8.40 + 1.60 = 10.00), so net 8.39 (half-up) and tax 1.60 = 9.99, while
    8.39 x 19 % = 1.5941 -> 1.59: one cent off, the gross kept. (9.93 and 10.05 are the neighbours
    with no exact net.)
    """
    if rate_basis_points < 0:
        raise ValueError("rate_basis_points must not be negative")
    if gross < 0:
        net, tax = split_inclusive(-gross, rate_basis_points)
        return -net, -tax
    exact = Fraction(gross * BASIS_POINTS, BASIS_POINTS + rate_basis_points)
    nearest = int(exact + Fraction(1, 2))  # half-up; gross >= 0 here
    # net + tax_of(net) is strictly increasing, so at most one net reproduces gross; it lies next
    # to the exact quotient.
    for net in (nearest, nearest - 1, nearest + 1):
        if net >= 0 and net + tax_of(net, rate_basis_points) == gross:
            return net, gross - net
    return nearest, gross - nearest


class TaxableLine(Protocol):
    """What ``tax_lines`` reads of a line (invoice_plan.PlannedLine has it)."""

    @property
    def description(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_amount(self) -> int: ...
    @property
    def amount(self) -> int: ...  # net if exclusive, gross if inclusive; signed
    @property
    def item_id(self) -> str | None: ...
    @property
    def price_id(self) -> str | None: ...
    @property
    def tax_category(self) -> TaxCategory: ...
    @property
    def tax_behavior(self) -> TaxBehavior: ...
    @property
    def service_start(self) -> date: ...
    @property
    def service_end(self) -> date: ...
    @property
    def kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TaxedLine:
    description: str
    quantity: int
    unit_amount: int  # net per unit (an inclusive line's net divided by its quantity, half-up)
    net_amount: int  # signed
    decision: TaxDecision
    service_start: date
    service_end: date  # exclusive
    item_id: str | None = None
    price_id: str | None = None
    kind: str = "licensed"
    gross_amount: int | None = None  # what an inclusive price charged for the line; None if exclusive


class TaxGroup(NamedTuple):
    """One VAT breakdown row: (rate, category) with its taxable amount and tax."""

    rate_basis_points: int
    category_code: str
    taxable: int
    tax: int


@dataclass(frozen=True, slots=True)
class TaxedInvoice:
    lines: tuple[TaxedLine, ...]
    subtotal: int  # sum of the lines' net amounts
    taxes: tuple[TaxGroup, ...]
    tax: int
    total: int
    notes: tuple[str, ...]  # distinct legal notes, in line order


def _spread(target: int, exact_parts: Sequence[Fraction]) -> list[int]:
    """Whole parts summing exactly to ``target``, each within a minor unit of its exact part: floors
    first, then the units left over to the largest remainders (taken from the smallest when the
    floors overshoot); ties go to the earlier line."""
    parts = [math.floor(exact) for exact in exact_parts]
    order = sorted(range(len(parts)), key=lambda i: (parts[i] - exact_parts[i], i))
    rest = target - sum(parts)
    step = 1 if rest >= 0 else -1
    ranked = order if rest >= 0 else order[::-1]
    for k in range(abs(rest)):
        parts[ranked[k % len(ranked)]] += step
    return parts


def _half_up(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _group_nets(
    lines: Sequence[TaxableLine], indexes: Sequence[int], rate: int
) -> tuple[dict[int, int], int]:
    """Net amount per line of one (rate, category) group, and the group's tax.

    The group's gross is what its lines charge: exclusive lines their net plus its tax (half-up
    once on their sum), inclusive lines their gross. ``split_inclusive`` divides it into taxable
    and tax once; the exclusive lines keep their nets, the inclusive lines share the rest of the
    taxable amount by largest remainder. A group of exclusive lines alone is taxed exactly as
    ``tax_of(sum of nets)``; of inclusive lines alone, its gross sum stays what was charged.
    """
    exclusive = [i for i in indexes if lines[i].tax_behavior is TaxBehavior.EXCLUSIVE]
    inclusive = [i for i in indexes if lines[i].tax_behavior is not TaxBehavior.EXCLUSIVE]
    exclusive_net = sum(lines[i].amount for i in exclusive)
    gross = exclusive_net + tax_of(exclusive_net, rate) + sum(lines[i].amount for i in inclusive)
    taxable, tax = split_inclusive(gross, rate)
    nets = {i: lines[i].amount for i in exclusive}
    if inclusive:
        shares = [Fraction(lines[i].amount * BASIS_POINTS, BASIS_POINTS + rate) for i in inclusive]
        nets.update(zip(inclusive, _spread(taxable - exclusive_net, shares), strict=True))
    return nets, tax


def _taxed_line(line: TaxableLine, net: int, decision: TaxDecision) -> TaxedLine:
    inclusive = line.tax_behavior is not TaxBehavior.EXCLUSIVE
    unit = line.unit_amount
    if inclusive:
        unit = _half_up(Fraction(net, line.quantity)) if line.quantity else 0
    return TaxedLine(
        description=line.description,
        quantity=line.quantity,
        unit_amount=unit,
        net_amount=net,
        decision=decision,
        service_start=line.service_start,
        service_end=line.service_end,
        item_id=line.item_id,
        price_id=line.price_id,
        kind=line.kind,
        gross_amount=line.amount if inclusive else None,
    )


def tax_lines(
    lines: Sequence[TaxableLine],
    seller: SellerTax,
    buyer: BuyerTax,
    *,
    on: date,
    decided: Sequence[TaxDecision | None] = (),
) -> TaxedInvoice:
    """Planned lines as taxed invoice lines with a VAT breakdown per (rate, category).

    Exclusive lines: tax on each group's net sum, half-up once (as domain.invoices.price_lines).
    Inclusive lines are converted to net exactly (``_group_nets``): the gross they charged is kept,
    and exclusive and inclusive lines of one rate share one group. Worked example, 19 %: an
    exclusive line 30.97 and an inclusive line 10.00 -> group gross 30.97 + 5.88 + 10.00 = 46.85
    -> taxable 39.37, tax 7.48; the inclusive line's net is 39.37 - 30.97 = 8.40. AmountLimitError
    when a total passes MAX_MINOR_UNITS. ``decided``: a decision already taken per line (None or
    missing: decided now); a credit note takes the credited invoice's (services/billing/credit.py).
    """
    given = list(decided) + [None] * (len(lines) - len(decided))
    decisions = [
        known if known is not None else decide(seller, buyer, line.tax_category, on=on)
        for line, known in zip(lines, given, strict=False)
    ]
    groups: dict[tuple[int, str], list[int]] = {}
    for index, decision in enumerate(decisions):
        groups.setdefault((decision.rate_basis_points, decision.category_code), []).append(index)
    nets: dict[int, int] = {}
    taxes: list[TaxGroup] = []
    for (rate, code), indexes in groups.items():
        group_nets, tax = _group_nets(lines, indexes, rate)
        nets.update(group_nets)
        taxable = within_limit(sum(group_nets.values()), "a taxable amount")
        taxes.append(TaxGroup(rate, code, taxable, within_limit(tax, "a tax amount")))
    taxed = tuple(_taxed_line(line, nets[i], decisions[i]) for i, line in enumerate(lines))
    subtotal = within_limit(sum(line.net_amount for line in taxed), "the subtotal")
    tax_total = within_limit(sum(group.tax for group in taxes), "the tax")
    notes = tuple(dict.fromkeys(d.note for d in decisions if d.note))
    return TaxedInvoice(
        lines=taxed,
        subtotal=subtotal,
        taxes=tuple(taxes),
        tax=tax_total,
        total=within_limit(subtotal + tax_total, "the total"),
        notes=notes,
    )
