"""VAT for subscription invoices: the rate table, the place-of-supply decision, exact splits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from cashline.adapters.vies import (
    VIES_REST_URL,
    DisabledVies,
    HttpVies,
    LocalVies,
    ViesAnswer,
    use_vies,
    vies,
)
from cashline.dal.billing_settings import BillingSettings
from cashline.domain.access import Tenant
from cashline.domain.billing.catalog import TaxBehavior, TaxCategory
from cashline.domain.billing.invoice_plan import PlannedLine
from cashline.domain.billing.proration import tax_of
from cashline.domain.billing.tax import (
    B2B_OUTSIDE_EU_NOTE,
    B2C_DIGITAL_OUTSIDE_EU_NOTE,
    EXPORT_NOTE,
    REVERSE_CHARGE_NOTE,
    BuyerTax,
    SellerTax,
    TaxGroup,
    TaxTreatment,
    decide,
    rate_table,
    split_inclusive,
    tax_lines,
)
from cashline.domain.counterparties import Counterparty
from cashline.domain.einvoice.rules import VAT_ROUNDING_TOLERANCE, expected_vat
from cashline.domain.money import MAX_MINOR_UNITS, AmountLimitError
from cashline.services.billing.tax import buyer_of, seller_of, vat_prefix

ON = date(2027, 1, 1)
GERMAN_SELLER = SellerTax(country="DE", vat_id="DE136695976", oss=False)
GERMAN_SELLER_OSS = SellerTax(country="DE", vat_id="DE136695976", oss=True)
DOMESTIC_BUYER = BuyerTax(country="DE", vat_id=None, vat_id_valid=False, is_business=False)
FRENCH_BUSINESS = BuyerTax(country="FR", vat_id="FR40303265045", vat_id_valid=True, is_business=True)
FRENCH_CONSUMER = BuyerTax(country="FR", vat_id=None, vat_id_valid=False, is_business=False)
US_CUSTOMER = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=True)

EU_STATES = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
}  # fmt: skip

# Published rates (standard, main reduced) in basis points, as the table must state them.
PUBLISHED = {
    "DE": (1900, 700),
    "FR": (2000, 550),
    "AT": (2000, 1000),
    "NL": (2100, 900),
    "IT": (2200, 1000),
    "ES": (2100, 1000),
    "IE": (2300, 1350),
    "LU": (1700, 800),
    "HU": (2700, 500),
    "BE": (2100, 600),
    "PL": (2300, 800),
    "PT": (2300, 600),
    "SE": (2500, 1200),
    "GR": (2400, 1300),
    "HR": (2500, 1300),
    "CY": (1900, 900),
    "MT": (1800, 700),
    "SI": (2200, 950),
    "CZ": (2100, 1200),
    "BG": (2000, 900),
    "RO": (2100, 1100),  # since 1 August 2025
    "SK": (2300, 1900),  # since 1 January 2025
    "DK": (2500, None),  # no reduced rate
    "GB": (2000, 500),
    "CH": (810, 260),  # since 1 January 2024
    "NO": (2500, 1500),
}


def _line(
    amount: int,
    *,
    behavior: TaxBehavior = TaxBehavior.EXCLUSIVE,
    category: TaxCategory = TaxCategory.STANDARD,
    quantity: int = 1,
    description: str = "Plan",
) -> PlannedLine:
    return PlannedLine(
        description=description,
        quantity=quantity,
        unit_amount=amount // quantity if quantity else 0,
        amount=amount,
        item_id="si_1",
        price_id="prc_1",
        tax_category=category,
        tax_behavior=behavior,
        service_start=date(2027, 1, 1),
        service_end=date(2027, 2, 1),
        kind="licensed",
    )


# ---------------------------------------------------------------------------------------- table


def test_the_table_states_its_source_and_date() -> None:
    table = rate_table()
    assert "European Commission" in table.source and table.url.startswith("https://")
    assert table.as_of == date(2026, 1, 1)


def test_the_table_holds_the_27_member_states_and_gb_ch_no() -> None:
    table = rate_table()
    assert {code for code, rates in table.countries.items() if rates.eu} == EU_STATES
    assert {"GB", "CH", "NO"} <= set(table.countries) and not table.is_eu("GB")


@pytest.mark.parametrize(("country", "rates"), sorted(PUBLISHED.items()))
def test_published_rates(country: str, rates: tuple[int, int | None]) -> None:
    entry = rate_table().countries[country]
    assert (entry.standard, entry.reduced) == rates
    assert entry.categories[TaxCategory.STANDARD] == rates[0]
    assert entry.categories[TaxCategory.REDUCED] == (rates[1] or rates[0])
    assert entry.categories[TaxCategory.DIGITAL_SERVICE] == rates[0]
    assert entry.categories[TaxCategory.ZERO] == entry.categories[TaxCategory.EXEMPT] == 0


@pytest.mark.parametrize(("country", "standard"), [("EE", 2400), ("FI", 2550), ("LV", 2100), ("LT", 2100)])
def test_recent_standard_rates(country: str, standard: int) -> None:
    assert rate_table().countries[country].standard == standard


# ------------------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("category", "rate", "code", "treatment"),
    [
        (TaxCategory.STANDARD, 1900, "S", TaxTreatment.DOMESTIC),
        (TaxCategory.REDUCED, 700, "S", TaxTreatment.DOMESTIC),
        (TaxCategory.DIGITAL_SERVICE, 1900, "S", TaxTreatment.DOMESTIC),
        (TaxCategory.ZERO, 0, "Z", TaxTreatment.ZERO_RATED),
        (TaxCategory.EXEMPT, 0, "E", TaxTreatment.EXEMPT),
    ],
)
def test_domestic_sales_take_the_sellers_rate_for_the_category(
    category: TaxCategory, rate: int, code: str, treatment: TaxTreatment
) -> None:
    decision = decide(GERMAN_SELLER, DOMESTIC_BUYER, category, on=ON)
    assert (decision.rate_basis_points, decision.category_code, decision.treatment) == (rate, code, treatment)
    assert decision.country == "DE"


def test_an_exempt_line_carries_its_vatex_reason() -> None:
    decision = decide(GERMAN_SELLER, DOMESTIC_BUYER, TaxCategory.EXEMPT, on=ON)
    assert decision.exemption_reason_code == "VATEX-EU-132" and decision.note


def test_a_buyer_of_unknown_country_is_taxed_as_domestic() -> None:
    buyer = BuyerTax(country=None, vat_id=None, vat_id_valid=False, is_business=False)
    assert decide(GERMAN_SELLER, buyer, TaxCategory.STANDARD, on=ON).rate_basis_points == 1900


def test_eu_b2b_with_a_valid_vat_id_is_reverse_charged() -> None:
    decision = decide(GERMAN_SELLER, FRENCH_BUSINESS, TaxCategory.STANDARD, on=ON)
    assert (decision.rate_basis_points, decision.category_code) == (0, "AE")
    assert decision.treatment is TaxTreatment.REVERSE_CHARGE
    assert decision.exemption_reason_code == "VATEX-EU-AE"
    assert decision.note == REVERSE_CHARGE_NOTE and "Art. 196" in decision.note


def test_an_eu_business_whose_vat_id_is_not_valid_is_billed_as_a_consumer() -> None:
    buyer = BuyerTax(country="FR", vat_id="FR00000000000", vat_id_valid=False, is_business=True)
    decision = decide(GERMAN_SELLER, buyer, TaxCategory.STANDARD, on=ON)
    assert (decision.rate_basis_points, decision.category_code, decision.country) == (1900, "S", "DE")


def test_eu_b2c_under_oss_takes_the_customers_rate() -> None:
    standard = decide(GERMAN_SELLER_OSS, FRENCH_CONSUMER, TaxCategory.STANDARD, on=ON)
    reduced = decide(GERMAN_SELLER_OSS, FRENCH_CONSUMER, TaxCategory.REDUCED, on=ON)
    digital = decide(GERMAN_SELLER_OSS, FRENCH_CONSUMER, TaxCategory.DIGITAL_SERVICE, on=ON)
    assert (standard.rate_basis_points, standard.treatment, standard.country) == (
        2000,
        TaxTreatment.OSS,
        "FR",
    )
    assert reduced.rate_basis_points == 550 and digital.rate_basis_points == 2000


def test_eu_b2c_without_oss_takes_the_sellers_rate() -> None:
    decision = decide(GERMAN_SELLER, FRENCH_CONSUMER, TaxCategory.DIGITAL_SERVICE, on=ON)
    assert (decision.rate_basis_points, decision.treatment, decision.country) == (
        1900,
        TaxTreatment.DOMESTIC,
        "DE",
    )


def test_eu_b2c_zero_and_exempt_stay_zero_under_oss() -> None:
    assert decide(GERMAN_SELLER_OSS, FRENCH_CONSUMER, TaxCategory.ZERO, on=ON).category_code == "Z"
    assert decide(GERMAN_SELLER_OSS, FRENCH_CONSUMER, TaxCategory.EXEMPT, on=ON).category_code == "E"


@pytest.mark.parametrize("buyer_country", ["US", "CH", "GB", "JP"])
@pytest.mark.parametrize("category", list(TaxCategory))
def test_services_to_businesses_outside_the_eu_are_not_subject_to_vat(
    buyer_country: str, category: TaxCategory
) -> None:
    # A service, not goods: no export (G); supplied where the business customer is (Art. 44).
    buyer = BuyerTax(country=buyer_country, vat_id=None, vat_id_valid=False, is_business=True)
    decision = decide(GERMAN_SELLER, buyer, category, on=ON)
    assert (decision.rate_basis_points, decision.category_code) == (0, "O")
    assert decision.treatment is TaxTreatment.OUTSIDE_SCOPE
    assert (decision.exemption_reason_code, decision.note) == ("VATEX-EU-O", B2B_OUTSIDE_EU_NOTE)
    assert (
        decision.note == "Not subject to VAT: place of supply outside the EU (Art. 44 Directive 2006/112/EC)"
    )


def test_digital_services_to_consumers_outside_the_eu_are_not_subject_to_vat() -> None:
    buyer = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=False)
    decision = decide(GERMAN_SELLER, buyer, TaxCategory.DIGITAL_SERVICE, on=ON)
    assert (decision.rate_basis_points, decision.category_code, decision.treatment) == (
        0,
        "O",
        TaxTreatment.OUTSIDE_SCOPE,
    )
    assert (decision.exemption_reason_code, decision.note) == ("VATEX-EU-O", B2C_DIGITAL_OUTSIDE_EU_NOTE)


def test_other_services_to_consumers_outside_the_eu_are_taxed_where_the_seller_is() -> None:
    # Art. 45: the general B2C rule, the seller's own rate.
    buyer = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=False)
    decision = decide(GERMAN_SELLER, buyer, TaxCategory.STANDARD, on=ON)
    assert (decision.rate_basis_points, decision.category_code, decision.country) == (1900, "S", "DE")


def test_exempt_products_to_consumers_outside_the_eu_stay_exempt() -> None:
    buyer = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=False)
    decision = decide(GERMAN_SELLER, buyer, TaxCategory.EXEMPT, on=ON)
    assert (decision.category_code, decision.exemption_reason_code) == ("E", "VATEX-EU-132")


def test_exempt_products_to_businesses_outside_the_eu_are_not_subject_to_vat() -> None:
    # Art. 44 puts the supply outside the EU, where no EU exemption (Art. 132) applies: O, not E.
    buyer = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=True)
    decision = decide(GERMAN_SELLER, buyer, TaxCategory.EXEMPT, on=ON)
    assert (decision.category_code, decision.exemption_reason_code) == ("O", "VATEX-EU-O")


def test_an_invoice_to_a_business_outside_the_eu_is_all_o_whatever_it_sells() -> None:
    # EN 16931 BR-O-11: category O beside no other; every line and the one breakdown group are O.
    buyer = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=True)
    invoice = tax_lines(
        [_line(1000, category=category) for category in TaxCategory], GERMAN_SELLER, buyer, on=ON
    )
    assert {line.decision.category_code for line in invoice.lines} == {"O"}
    assert [(group.category_code, group.taxable, group.tax) for group in invoice.taxes] == [
        ("O", 1000 * len(TaxCategory), 0)
    ]
    assert invoice.notes == (B2B_OUTSIDE_EU_NOTE,)


def test_a_consumer_outside_the_eu_may_get_o_beside_s_and_e() -> None:
    # Kept from the B2C rules: digital O (Art. 58), other services S (Art. 45), exempt E. Such an
    # invoice has no valid EN 16931 e-invoice (BR-O-11); delivery sends its PDF only.
    buyer = BuyerTax(country="US", vat_id=None, vat_id_valid=False, is_business=False)
    codes = [
        decide(GERMAN_SELLER, buyer, category, on=ON).category_code
        for category in (TaxCategory.DIGITAL_SERVICE, TaxCategory.STANDARD, TaxCategory.EXEMPT)
    ]
    assert codes == ["O", "S", "E"]


def test_no_service_is_ever_an_export_of_goods() -> None:
    buyers = [BuyerTax("US", None, False, business) for business in (True, False)]
    decisions = [decide(GERMAN_SELLER, b, c, on=ON) for b in buyers for c in TaxCategory]
    assert "G" not in {d.category_code for d in decisions}
    assert EXPORT_NOTE not in {d.note for d in decisions}


def test_a_swiss_seller_charges_swiss_vat_at_home_and_none_abroad() -> None:
    seller = SellerTax(country="CH", vat_id="CHE-116.281.710 MWST", oss=False)
    home = decide(seller, BuyerTax("CH", None, False, False), TaxCategory.STANDARD, on=ON)
    abroad = decide(seller, FRENCH_BUSINESS, TaxCategory.STANDARD, on=ON)
    assert (home.rate_basis_points, home.category_code) == (810, "S")
    assert (abroad.rate_basis_points, abroad.category_code, abroad.treatment) == (
        0,
        "O",
        TaxTreatment.OUTSIDE_SCOPE,
    )
    assert abroad.exemption_reason_code == "VATEX-EU-O" and abroad.note == "Outside the scope of CH VAT"


def test_a_uk_seller_in_the_non_union_oss_charges_eu_consumers_their_rate() -> None:
    seller = SellerTax(country="GB", vat_id="GB980780684", oss=True)
    consumer = decide(seller, FRENCH_CONSUMER, TaxCategory.DIGITAL_SERVICE, on=ON)
    business = decide(seller, FRENCH_BUSINESS, TaxCategory.DIGITAL_SERVICE, on=ON)
    assert (consumer.rate_basis_points, consumer.country, consumer.treatment) == (
        2000,
        "FR",
        TaxTreatment.OSS,
    )
    assert business.category_code == "O"


def test_a_seller_outside_the_table_charges_no_vat() -> None:
    seller = SellerTax(country="US", vat_id=None, oss=False)
    decision = decide(seller, US_CUSTOMER, TaxCategory.STANDARD, on=ON)
    assert (decision.rate_basis_points, decision.category_code) == (0, "O")


# ---------------------------------------------------------------------------------- inclusive split


def test_split_inclusive_worked_example() -> None:
    # 10.00 EUR including 19 %: 1000 / 1.19 = 840.34 -> 8.40 net, tax_of(840) = 159.6 -> 1.60
    assert split_inclusive(1000, 1900) == (840, 160)


@pytest.mark.parametrize(
    ("gross", "rate", "expected"),
    [
        (0, 1900, (0, 0)),
        (1, 1900, (1, 0)),
        (1190, 1900, (1000, 190)),
        (-1000, 1900, (-840, -160)),
        (999, 0, (999, 0)),
        (12345, 550, (11701, 644)),
    ],
)
def test_split_inclusive_cases(gross: int, rate: int, expected: tuple[int, int]) -> None:
    assert split_inclusive(gross, rate) == expected


def test_a_gross_no_net_reaches_is_split_half_up() -> None:
    # At 19 % net 2 gives 2 + 0 = 2 and net 3 gives 3 + 1 = 4: no net gives 3; 3 / 1.19 = 2.52 -> 3.
    net, tax = split_inclusive(3, 1900)
    assert (net, tax) == (3, 0) and net + tax == 3


def test_a_gross_of_9_99_has_no_exact_net_the_gross_wins_one_cent_off_br_co_17() -> None:
    # 999 / 1.19 = 839.4958: 8.39 + tax_of(8.39) = 8.39 + 1.59 = 9.98; 8.40 + 1.60 = 10.00.
    assert [n + tax_of(n, 1900) for n in (838, 839, 840, 841)] == [997, 998, 1000, 1001]
    # So the gross (the price charged) wins: 8.39 + 1.60 = 9.99, while 8.39 x 19 % = 1.5941 -> 1.59.
    assert split_inclusive(999, 1900) == (839, 160)
    assert tax_of(839, 1900) == 159
    invoice = tax_lines([_line(999, behavior=TaxBehavior.INCLUSIVE)], GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert invoice.taxes == (TaxGroup(1900, "S", 839, 160),) and invoice.total == 999
    # BR-CO-17 as Cashline's importer checks it: one minor unit off, within its tolerance of 1.
    assert abs(160 - expected_vat(839, Decimal("19"))) == 1 <= VAT_ROUNDING_TOLERANCE


def test_about_16_percent_of_gross_amounts_at_19_percent_have_no_exact_net() -> None:
    # rate / (1 + rate) = 0.19 / 1.19 = 15.97 % (docstring of split_inclusive)
    splits = [split_inclusive(gross, 1900) for gross in range(1, 10_001)]  # 0.01 .. 100.00
    off = sum(1 for net, tax in splits if tax != tax_of(net, 1900))
    assert off == 1_597  # 15.97 %


@settings(max_examples=400, deadline=None)
@given(
    gross=st.integers(min_value=-(10**12), max_value=10**12),
    rate=st.sampled_from([0, 260, 500, 550, 700, 810, 950, 1000, 1350, 1900, 2000, 2100, 2550, 2700]),
)
def test_split_inclusive_is_exact_and_close(gross: int, rate: int) -> None:
    net, tax = split_inclusive(gross, rate)
    assert net + tax == gross
    exact_tax = Fraction(gross * rate, 10_000 + rate)
    assert abs(tax - exact_tax) <= 1
    # Whenever some net reproduces the gross, the split is that net: tax == net x rate, half-up.
    if any(n + tax_of(n, rate) == gross for n in (net - 1, net, net + 1)):
        assert tax == tax_of(net, rate)


# -------------------------------------------------------------------------------------- tax lines


def test_the_proration_worked_example_is_taxed_once_on_the_net() -> None:
    lines = [_line(-1548, description="Unused Basic"), _line(4645, description="Remaining Pro")]
    invoice = tax_lines(lines, GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (3097, 588, 3685)
    assert invoice.taxes == (TaxGroup(1900, "S", 3097, 588),)
    assert [line.net_amount for line in invoice.lines] == [-1548, 4645]
    assert invoice.notes == ()


def test_the_february_invoice_of_the_worked_example() -> None:
    invoice = tax_lines([_line(9000)], GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (9000, 1710, 10710)


def test_an_inclusive_line_keeps_the_gross_it_charged() -> None:
    invoice = tax_lines([_line(1000, behavior=TaxBehavior.INCLUSIVE)], GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (840, 160, 1000)
    line = invoice.lines[0]
    assert (line.net_amount, line.unit_amount, line.gross_amount) == (840, 840, 1000)


def test_exclusive_and_inclusive_lines_of_one_rate_share_a_group() -> None:
    # Docstring example: 30.97 exclusive + 10.00 inclusive at 19 %: gross 30.97 + 5.88 + 10.00 = 46.85
    # -> taxable 39.37, tax 7.48; the inclusive line's net is 8.40.
    lines = [_line(3097), _line(1000, behavior=TaxBehavior.INCLUSIVE)]
    invoice = tax_lines(lines, GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert invoice.taxes == (TaxGroup(1900, "S", 3937, 748),)
    assert [line.net_amount for line in invoice.lines] == [3097, 840]
    assert invoice.total == 4685


def test_inclusive_lines_share_the_group_net_by_largest_remainder() -> None:
    # Three lines of 0.01 at 19 %: gross 0.03 splits into net 0.03, tax 0 (no net gives 3); each
    # line's exact net is 0.0084 and the three units go one to each.
    lines = [_line(1, behavior=TaxBehavior.INCLUSIVE) for _ in range(3)]
    invoice = tax_lines(lines, GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert [line.net_amount for line in invoice.lines] == [1, 1, 1]
    assert invoice.total == 3


def test_groups_per_rate_and_category_with_their_notes() -> None:
    lines = [
        _line(10000),
        _line(2000, category=TaxCategory.REDUCED),
        _line(500, category=TaxCategory.EXEMPT),
        _line(300, category=TaxCategory.ZERO),
    ]
    invoice = tax_lines(lines, GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert invoice.taxes == (
        TaxGroup(1900, "S", 10000, 1900),
        TaxGroup(700, "S", 2000, 140),
        TaxGroup(0, "E", 500, 0),
        TaxGroup(0, "Z", 300, 0),
    )
    assert invoice.tax == 2040 and invoice.total == 14840
    assert len(invoice.notes) == 1 and "Exempt" in invoice.notes[0]


def test_a_reverse_charged_invoice_has_no_tax_and_the_legal_note() -> None:
    invoice = tax_lines([_line(9000), _line(1000)], GERMAN_SELLER, FRENCH_BUSINESS, on=ON)
    assert invoice.taxes == (TaxGroup(0, "AE", 10000, 0),)
    assert invoice.total == 10000 and invoice.notes == (REVERSE_CHARGE_NOTE,)
    assert invoice.lines[0].decision.exemption_reason_code == "VATEX-EU-AE"


def test_an_inclusive_price_sold_reverse_charge_is_all_net() -> None:
    invoice = tax_lines([_line(1190, behavior=TaxBehavior.INCLUSIVE)], GERMAN_SELLER, FRENCH_BUSINESS, on=ON)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1190, 0, 1190)


def test_totals_beyond_the_limit_are_refused() -> None:
    lines = [_line(MAX_MINOR_UNITS)]
    with pytest.raises(AmountLimitError):
        tax_lines(lines, GERMAN_SELLER, DOMESTIC_BUYER, on=ON)


def test_an_empty_plan_is_an_empty_invoice() -> None:
    invoice = tax_lines([], GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    assert (invoice.lines, invoice.taxes, invoice.total) == ((), (), 0)


@settings(max_examples=200, deadline=None)
@given(
    exclusive=st.lists(st.integers(min_value=-100_000, max_value=1_000_000), max_size=4),
    inclusive=st.lists(st.integers(min_value=-100_000, max_value=1_000_000), max_size=6),
)
def test_inclusive_and_exclusive_lines_sum_exactly(exclusive: list[int], inclusive: list[int]) -> None:
    lines = [_line(a) for a in exclusive] + [_line(a, behavior=TaxBehavior.INCLUSIVE) for a in inclusive]
    invoice = tax_lines(lines, GERMAN_SELLER, DOMESTIC_BUYER, on=ON)
    # What was charged: exclusive lines' net plus their tax once, inclusive lines' gross.
    assert invoice.total == sum(exclusive) + tax_of(sum(exclusive), 1900) + sum(inclusive)
    assert invoice.subtotal == sum(group.taxable for group in invoice.taxes)
    assert invoice.subtotal + invoice.tax == invoice.total
    for line, planned in zip(invoice.lines, lines, strict=True):
        if planned.tax_behavior is TaxBehavior.EXCLUSIVE:
            assert line.net_amount == planned.amount
        else:  # within two minor units of its exact share of the group (one unit each way at most)
            assert abs(line.net_amount - Fraction(planned.amount * 10_000, 11_900)) < 3


# ------------------------------------------------- seller and buyer (services.billing.tax, VIES)

NOW = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def _tenant(**fields: Any) -> Tenant:
    values: dict[str, Any] = {
        "tenant_id": "ten_1",
        "name": "Acme GmbH",
        "country": "DE",
        "base_currency": "EUR",
        "timezone": "Europe/Berlin",
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
        "tax_id": "DE136695976",
    }
    return Tenant(**{**values, **fields})


def _counterparty(**fields: Any) -> Counterparty:
    values: dict[str, Any] = {
        "tenant_id": "ten_1",
        "counterparty_id": "cp_1",
        "name": "Client SARL",
        "email": None,
        "phone": None,
        "address": None,
        "country": "FR",
        "preferred_language": None,
        "segment": None,
        "tax_id": None,
        "iban": None,
        "external_reference": None,
        "metadata": {},
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }
    return Counterparty(**{**values, **fields})


def test_the_seller_is_the_tenant_unless_the_settings_say_otherwise() -> None:
    assert seller_of(_tenant(), BillingSettings()) == SellerTax("DE", "DE136695976", oss=False)
    registered = BillingSettings(registered_country="AT", vat_id="ATU13585627", oss=True)
    assert seller_of(_tenant(), registered) == SellerTax("AT", "ATU13585627", oss=True)


def test_a_buyer_without_a_tax_id_is_a_consumer() -> None:
    buyer = buyer_of(_counterparty(), BillingSettings(), now=NOW)
    assert buyer == BuyerTax(country="FR", vat_id=None, vat_id_valid=False, is_business=False)


def test_a_buyer_with_a_valid_vat_id_is_a_business() -> None:
    buyer = buyer_of(_counterparty(tax_id="FR 40 303 265 045"), BillingSettings(), now=NOW)
    assert buyer == BuyerTax(country="FR", vat_id="FR40303265045", vat_id_valid=True, is_business=True)


def test_a_vat_id_without_prefix_takes_the_buyers_country() -> None:
    german = buyer_of(_counterparty(country="DE", tax_id="136695976"), BillingSettings(), now=NOW)
    assert (german.vat_id, german.vat_id_valid) == ("DE136695976", True)
    assert vat_prefix("GR") == "EL"


def test_a_vat_id_with_a_bad_checksum_or_of_another_country_is_not_valid() -> None:
    bad = buyer_of(_counterparty(tax_id="FR40303265046"), BillingSettings(), now=NOW)
    elsewhere = buyer_of(_counterparty(tax_id="DE136695976"), BillingSettings(), now=NOW)
    assert (bad.vat_id_valid, bad.is_business) == (False, True)
    assert elsewhere.vat_id_valid is False
    # ... so they are billed as consumers
    assert decide(GERMAN_SELLER, bad, TaxCategory.STANDARD, on=ON).category_code == "S"


def test_the_country_may_come_from_the_address() -> None:
    buyer = buyer_of(
        _counterparty(country=None, address={"line1": "1 rue", "country": "fr"}), BillingSettings(), now=NOW
    )
    assert buyer.country == "FR"


def test_vies_is_asked_only_when_the_tenant_turned_it_on() -> None:
    registry = LocalVies(registered=frozenset())
    counterparty = _counterparty(tax_id="FR40303265045")
    assert buyer_of(counterparty, BillingSettings(), now=NOW, registry=registry).vat_id_valid
    assert registry.asked == []
    checked = buyer_of(counterparty, BillingSettings(vies_check=True), now=NOW, registry=registry)
    assert checked.vat_id_valid is False and registry.asked == [("FR40303265045", NOW)]
    registered = LocalVies(registered=frozenset({"FR40303265045"}))
    assert buyer_of(counterparty, BillingSettings(vies_check=True), now=NOW, registry=registered).vat_id_valid


def test_vies_unavailable_leaves_the_checksum_standing() -> None:
    counterparty = _counterparty(tax_id="FR40303265045")
    settings_on = BillingSettings(vies_check=True)
    assert buyer_of(counterparty, settings_on, now=NOW, registry=DisabledVies()).vat_id_valid


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"valid": True, "userError": "VALID"}, ViesAnswer.VALID),
        ({"valid": False, "userError": "INVALID"}, ViesAnswer.INVALID),
        ({"valid": False, "userError": "MS_UNAVAILABLE"}, ViesAnswer.UNAVAILABLE),
        ({"valid": True}, ViesAnswer.VALID),
    ],
)
def test_the_vies_rest_answer_is_read(answer: dict[str, Any], expected: ViesAnswer) -> None:
    sent: list[Any] = []

    def post(url: str, body: Mapping[str, str]) -> Mapping[str, Any]:
        sent.append((url, dict(body)))
        return answer

    assert HttpVies(post=post).check("FR40303265045", now=NOW) is expected
    assert sent == [(VIES_REST_URL, {"countryCode": "FR", "vatNumber": "40303265045"})]


def test_vies_down_is_unavailable_never_invalid() -> None:
    def post(url: str, body: Mapping[str, str]) -> Mapping[str, Any]:
        raise requests.ConnectionError("no route")

    assert HttpVies(post=post).check("FR40303265045", now=NOW) is ViesAnswer.UNAVAILABLE


def test_the_registry_in_use_is_disabled_by_default_and_can_be_set() -> None:
    assert isinstance(vies(), DisabledVies)
    local = LocalVies()
    use_vies(local)
    try:
        assert vies() is local
    finally:
        use_vies(DisabledVies())
