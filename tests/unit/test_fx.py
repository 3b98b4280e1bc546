"""Exchange rates: the ECB feed, JSON pairs, lookups (direct, inverse, cross) and exact conversion."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cashline.domain.fx import (
    FxInputError,
    Rate,
    RateBook,
    convert,
    parse_ecb_xml,
    parse_json_pairs,
)
from cashline.domain.money import currency_exponent

# The ECB's eurofxref-hist-90d.xml layout (newest day first), cut to three days.
ECB_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
    <gesmes:subject>Reference rates</gesmes:subject>
    <gesmes:Sender>
        <gesmes:name>European Central Bank</gesmes:name>
    </gesmes:Sender>
    <Cube>
        <Cube time='2026-11-20'>
            <Cube currency='USD' rate='1.0832'/>
            <Cube currency='JPY' rate='161.23'/>
            <Cube currency='CZK' rate='25.312'/>
            <Cube currency='DKK' rate='7.4603'/>
            <Cube currency='GBP' rate='0.84515'/>
            <Cube currency='HUF' rate='410.53'/>
            <Cube currency='PLN' rate='4.2875'/>
            <Cube currency='RON' rate='4.9768'/>
            <Cube currency='SEK' rate='11.4905'/>
            <Cube currency='CHF' rate='0.9312'/>
            <Cube currency='ISK' rate='149.30'/>
            <Cube currency='NOK' rate='11.7390'/>
            <Cube currency='TRY' rate='44.6012'/>
            <Cube currency='AUD' rate='1.6412'/>
            <Cube currency='BRL' rate='6.2215'/>
            <Cube currency='CAD' rate='1.5123'/>
            <Cube currency='CNY' rate='7.7934'/>
            <Cube currency='HKD' rate='8.4289'/>
            <Cube currency='IDR' rate='17123.45'/>
            <Cube currency='ILS' rate='3.8521'/>
            <Cube currency='INR' rate='91.2345'/>
            <Cube currency='KRW' rate='1512.34'/>
            <Cube currency='MXN' rate='19.8765'/>
            <Cube currency='MYR' rate='4.8123'/>
            <Cube currency='NZD' rate='1.8034'/>
            <Cube currency='PHP' rate='63.512'/>
            <Cube currency='SGD' rate='1.4512'/>
            <Cube currency='THB' rate='37.512'/>
            <Cube currency='ZAR' rate='19.6543'/>
        </Cube>
        <Cube time='2026-11-19'>
            <Cube currency='USD' rate='1.0791'/>
            <Cube currency='JPY' rate='160.87'/>
            <Cube currency='CZK' rate='25.298'/>
            <Cube currency='DKK' rate='7.4604'/>
            <Cube currency='GBP' rate='0.84402'/>
            <Cube currency='HUF' rate='411.08'/>
            <Cube currency='PLN' rate='4.2911'/>
            <Cube currency='RON' rate='4.9771'/>
            <Cube currency='SEK' rate='11.5120'/>
            <Cube currency='CHF' rate='0.9298'/>
            <Cube currency='ISK' rate='149.10'/>
            <Cube currency='NOK' rate='11.7615'/>
            <Cube currency='TRY' rate='44.4870'/>
            <Cube currency='AUD' rate='1.6455'/>
            <Cube currency='BRL' rate='6.2009'/>
            <Cube currency='CAD' rate='1.5098'/>
            <Cube currency='CNY' rate='7.7702'/>
            <Cube currency='HKD' rate='8.3975'/>
            <Cube currency='IDR' rate='17088.12'/>
            <Cube currency='ILS' rate='3.8477'/>
            <Cube currency='INR' rate='90.9810'/>
            <Cube currency='KRW' rate='1509.87'/>
            <Cube currency='MXN' rate='19.9012'/>
            <Cube currency='MYR' rate='4.8010'/>
            <Cube currency='NZD' rate='1.8101'/>
            <Cube currency='PHP' rate='63.405'/>
            <Cube currency='SGD' rate='1.4498'/>
            <Cube currency='THB' rate='37.448'/>
            <Cube currency='ZAR' rate='19.7021'/>
        </Cube>
        <Cube time='2026-11-18'>
            <Cube currency='USD' rate='1.0810'/>
            <Cube currency='JPY' rate='161.02'/>
            <Cube currency='CZK' rate='25.305'/>
            <Cube currency='DKK' rate='7.4602'/>
            <Cube currency='GBP' rate='0.84461'/>
            <Cube currency='HUF' rate='410.95'/>
            <Cube currency='PLN' rate='4.2893'/>
            <Cube currency='RON' rate='4.9770'/>
            <Cube currency='SEK' rate='11.5003'/>
            <Cube currency='CHF' rate='0.9305'/>
            <Cube currency='ISK' rate='149.20'/>
            <Cube currency='NOK' rate='11.7482'/>
            <Cube currency='TRY' rate='44.5521'/>
            <Cube currency='AUD' rate='1.6431'/>
            <Cube currency='BRL' rate='6.2110'/>
            <Cube currency='CAD' rate='1.5110'/>
            <Cube currency='CNY' rate='7.7815'/>
            <Cube currency='HKD' rate='8.4140'/>
            <Cube currency='IDR' rate='17102.66'/>
            <Cube currency='ILS' rate='3.8499'/>
            <Cube currency='INR' rate='91.1022'/>
            <Cube currency='KRW' rate='1511.02'/>
            <Cube currency='MXN' rate='19.8890'/>
            <Cube currency='MYR' rate='4.8066'/>
            <Cube currency='NZD' rate='1.8068'/>
            <Cube currency='PHP' rate='63.460'/>
            <Cube currency='SGD' rate='1.4505'/>
            <Cube currency='THB' rate='37.480'/>
            <Cube currency='ZAR' rate='19.6802'/>
        </Cube>
    </Cube>
</gesmes:Envelope>
"""

ECB_DAILY = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube><Cube time="2026-11-20">%s</Cube></Cube>
</gesmes:Envelope>
"""

FRI, THU, WED = date(2026, 11, 20), date(2026, 11, 19), date(2026, 11, 18)


def _daily(*cubes: str) -> bytes:
    return ECB_DAILY % "".join(cubes).encode()


# --- the ECB feed ---------------------------------------------------------------------------------


def test_ecb_sample_with_three_days_parses_every_rate_against_eur() -> None:
    rates = parse_ecb_xml(ECB_SAMPLE)
    assert len(rates) == 3 * 29
    assert {r.day for r in rates} == {FRI, THU, WED}
    assert {r.base for r in rates} == {"EUR"}
    assert rates[0] == Rate(FRI, "EUR", "USD", Decimal("1.0832"))
    by_key = {(r.day, r.quote): r.rate for r in rates}
    assert by_key[(FRI, "CHF")] == Decimal("0.9312")
    assert by_key[(THU, "JPY")] == Decimal("160.87")
    assert by_key[(WED, "IDR")] == Decimal("17102.66")
    # The written digits are kept: "149.30" is not turned into a float 149.3.
    assert str(by_key[(FRI, "ISK")]) == "149.30"


def test_ecb_namespaces_are_matched_by_uri_not_by_prefix() -> None:
    prefixed = ECB_SAMPLE.replace(b'xmlns="', b'xmlns:ecb="').replace(b"<Cube", b"<ecb:Cube")
    prefixed = prefixed.replace(b"</Cube", b"</ecb:Cube")
    assert parse_ecb_xml(prefixed) == parse_ecb_xml(ECB_SAMPLE)
    # Cubes outside the eurofxref namespace are not ECB rates, and "no rates" is an error.
    no_namespace = ECB_SAMPLE.replace(b' xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"', b"")
    with pytest.raises(FxInputError, match="no rates"):
        parse_ecb_xml(no_namespace)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gesmes:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>&xxe;</gesmes:subject>
  <Cube><Cube time="2026-11-20"><Cube currency="USD" rate="1.0832"/></Cube></Cube>
</gesmes:Envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01">&lol4;</gesmes:Envelope>"""

PLAIN_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE gesmes:Envelope SYSTEM "http://example.invalid/eurofxref.dtd">
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <Cube><Cube time="2026-11-20"><Cube currency="USD" rate="1.0832"/></Cube></Cube>
</gesmes:Envelope>"""


@pytest.mark.parametrize("document", [XXE, BILLION_LAUGHS, PLAIN_DTD], ids=["xxe", "billion-laughs", "dtd"])
def test_dtds_entities_and_external_references_are_refused(document: bytes) -> None:
    with pytest.raises(FxInputError, match="DTD"):
        parse_ecb_xml(document)


def test_unknown_currency_is_named() -> None:
    with pytest.raises(FxInputError, match="XYZ") as caught:
        parse_ecb_xml(_daily('<Cube currency="USD" rate="1.08"/>', '<Cube currency="XYZ" rate="1.5"/>'))
    assert caught.value.field == "Cube[@time='2026-11-20']/Cube[@currency='XYZ']/@currency"


@pytest.mark.parametrize(
    "rate", ["0", "-1.2", "abc", "", "NaN", "Infinity", "1_000", "1.12345678901", "1e40"]
)
def test_bad_rates_are_refused_with_their_location(rate: str) -> None:
    with pytest.raises(FxInputError) as caught:
        parse_ecb_xml(_daily(f'<Cube currency="CHF" rate="{rate}"/>'))
    assert caught.value.field == "Cube[@time='2026-11-20']/Cube[@currency='CHF']/@rate"


def test_ten_decimals_are_allowed_and_trailing_zeros_do_not_count() -> None:
    rates = parse_ecb_xml(
        _daily('<Cube currency="CHF" rate="0.9312000000000"/>', '<Cube currency="JPY" rate="0.0061950000"/>')
    )
    assert [r.rate for r in rates] == [Decimal("0.9312"), Decimal("0.006195")]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<gesmes:Envelope", "well-formed"),
        (b"<Envelope/>", "not an ECB"),
        (_daily('<Cube currency="EUR" rate="1"/>'), "EUR"),
        (_daily('<Cube currency="USD" rate="1.08"/>', '<Cube currency="USD" rate="1.09"/>'), "twice"),
        (ECB_DAILY.replace(b"2026-11-20", b"20.11.2026") % b"", "date"),
        (ECB_DAILY % b"", "no rates"),
    ],
)
def test_malformed_feeds_are_refused(document: bytes, message: str) -> None:
    with pytest.raises(FxInputError, match=message):
        parse_ecb_xml(document)


# --- JSON pairs ----------------------------------------------------------------------------------


def test_json_pairs_take_strings_and_numbers_without_float_arithmetic() -> None:
    payload = {
        "date": "2026-11-20",
        "rates": [
            {"base": "EUR", "quote": "CHF", "rate": "0.9312"},
            {"base": "usd", "quote": "JPY", "rate": 148.85},
            {"base": "GBP", "quote": "EUR", "rate": 1, "date": "2026-11-19"},
        ],
    }
    assert parse_json_pairs(payload) == [
        Rate(FRI, "EUR", "CHF", Decimal("0.9312")),
        Rate(FRI, "USD", "JPY", Decimal("148.85")),
        Rate(THU, "GBP", "EUR", Decimal("1")),
    ]
    # 0.1 as a float is 0.1000000000000000055...; through str() it is exactly 0.1.
    assert parse_json_pairs({"date": "2026-11-20", "rates": [{"base": "EUR", "quote": "GBP", "rate": 0.1}]})[
        0
    ].rate == Decimal("0.1")


def _with_rates(*entries: object) -> dict[str, object]:
    good = {"base": "EUR", "quote": "USD", "rate": "1.08"}
    return {"date": "2026-11-20", "rates": [good, good, *entries]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "$"),
        ({"date": "2026-11-20"}, "rates"),
        ({"date": "2026-11-20", "rates": {}}, "rates"),
        ({"date": "20.11.2026", "rates": []}, "date"),
        ({"date": "2026-02-30", "rates": []}, "date"),
        ({"rates": [{"base": "EUR", "quote": "USD", "rate": "1.08"}]}, "rates[0].date"),
        (_with_rates("EUR/USD"), "rates[2]"),
        (_with_rates({"base": "EUR", "quote": "USD", "rate": "-1"}), "rates[2].rate"),
        (_with_rates({"base": "EUR", "quote": "USD", "rate": True}), "rates[2].rate"),
        (_with_rates({"base": "EUR", "quote": "USD", "rate": None}), "rates[2].rate"),
        (_with_rates({"base": "EUR", "quote": "USD", "rate": float("nan")}), "rates[2].rate"),
        (_with_rates({"base": "EUR", "quote": "USD", "rate": "1,08"}), "rates[2].rate"),
        (_with_rates({"base": "EURO", "quote": "USD", "rate": "1.08"}), "rates[2].base"),
        (_with_rates({"base": "EUR", "quote": 840, "rate": "1.08"}), "rates[2].quote"),
        (_with_rates({"base": "EUR", "quote": "eur", "rate": "1"}), "rates[2].quote"),
        (_with_rates({"base": "EUR", "quote": "USD", "rate": "1", "date": 20261120}), "rates[2].date"),
    ],
)
def test_json_errors_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(FxInputError) as caught:
        parse_json_pairs(payload)
    assert caught.value.field == field


def test_json_unknown_currency_message_names_it() -> None:
    with pytest.raises(FxInputError, match="'ABC'"):
        parse_json_pairs(_with_rates({"base": "EUR", "quote": "ABC", "rate": "1.5"}))


# --- lookups ------------------------------------------------------------------------------------


def _book(*rates: tuple[date, str, str, str], max_age_days: int = 7) -> RateBook:
    return RateBook([Rate(d, b, q, Decimal(r)) for d, b, q, r in rates], max_age_days=max_age_days)


def test_direct_inverse_and_cross_rates_are_exact() -> None:
    book = _book((FRI, "EUR", "USD", "1.25"), (FRI, "EUR", "CHF", "0.8"), (FRI, "EUR", "GBP", "0.9"))
    assert book.rate("EUR", "USD", FRI) == (Decimal("1.25"), FRI)
    assert book.rate("USD", "EUR", FRI) == (Decimal("0.8"), FRI)
    # CHF->GBP = EURGBP / EURCHF, one division.
    assert book.rate("CHF", "GBP", FRI) == (Decimal("1.125"), FRI)
    assert book.rate("GBP", "CHF", FRI) == (Decimal("0.8888888888888888888888888888888889"), FRI)
    assert book.rate("USD", "CHF", FRI) == (Decimal("0.64"), FRI)
    assert book.rate("chf", "chf", FRI) == (Decimal(1), FRI)


def test_cross_of_the_ecb_sample_matches_the_textbook_formula() -> None:
    book = RateBook(parse_ecb_xml(ECB_SAMPLE))
    found = book.rate("CHF", "GBP", FRI)
    assert found is not None
    with localcontext() as context:
        context.prec = 34
        assert found == (Decimal("0.84515") / Decimal("0.9312"), FRI)
    # Saturday and Sunday have no fixing: Friday's is used.
    assert book.rate("CHF", "GBP", FRI + timedelta(days=2)) == found
    inverse = book.rate("JPY", "EUR", THU)
    assert inverse is not None and inverse[1] == THU
    assert abs(inverse[0] * Decimal("160.87") - 1) < Decimal("1e-32")


def test_the_latest_rate_on_or_before_the_day_within_the_age_limit() -> None:
    book = _book((WED, "EUR", "USD", "1.0810"), (FRI, "EUR", "USD", "1.0832"))
    assert book.rate("EUR", "USD", THU) == (Decimal("1.0810"), WED)
    assert book.rate("EUR", "USD", FRI) == (Decimal("1.0832"), FRI)
    assert book.rate("EUR", "USD", WED - timedelta(days=1)) is None  # nothing before the first rate
    assert book.rate("EUR", "USD", FRI + timedelta(days=7)) == (Decimal("1.0832"), FRI)
    assert book.rate("EUR", "USD", FRI + timedelta(days=8)) is None  # stale
    assert book.rate("USD", "EUR", FRI + timedelta(days=8)) is None
    assert book.rate("EUR", "GBP", FRI) is None  # never published
    strict = _book((FRI, "EUR", "USD", "1.0832"), max_age_days=0)
    assert strict.rate("EUR", "USD", FRI + timedelta(days=1)) is None


def test_a_cross_is_as_old_as_its_older_leg_and_stale_legs_give_none() -> None:
    book = _book((WED, "EUR", "CHF", "0.8"), (FRI, "EUR", "GBP", "0.9"))
    assert book.rate("CHF", "GBP", FRI) == (Decimal("1.125"), WED)
    assert book.rate("CHF", "GBP", WED + timedelta(days=8)) is None


def test_a_newer_cross_beats_an_older_direct_quote_and_direct_wins_ties() -> None:
    book = _book(
        (WED, "CHF", "GBP", "1.2"),
        (FRI, "EUR", "CHF", "0.8"),
        (FRI, "EUR", "GBP", "0.9"),
    )
    assert book.rate("CHF", "GBP", FRI) == (Decimal("1.125"), FRI)
    assert book.rate("CHF", "GBP", THU) == (Decimal("1.2"), WED)
    same_day = _book((FRI, "CHF", "GBP", "1.2"), (FRI, "EUR", "CHF", "0.8"), (FRI, "EUR", "GBP", "0.9"))
    assert same_day.rate("CHF", "GBP", FRI) == (Decimal("1.2"), FRI)
    assert same_day.rate("GBP", "CHF", FRI) == (Decimal("0.8333333333333333333333333333333333"), FRI)


def test_the_rate_given_last_wins_for_the_same_pair_and_day() -> None:
    book = _book((FRI, "EUR", "USD", "1.0832"), (FRI, "EUR", "USD", "1.0833"))
    assert book.rate("EUR", "USD", FRI) == (Decimal("1.0833"), FRI)


def test_rates_refuse_floats_and_identical_currencies() -> None:
    with pytest.raises(TypeError):
        Rate(FRI, "EUR", "USD", 1.08)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Rate(FRI, "EUR", "EUR", Decimal(1))
    with pytest.raises(ValueError):
        Rate(FRI, "EUR", "USD", Decimal(0))


# --- conversion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "source", "target", "rate", "expected"),
    [
        (10000, "EUR", "JPY", "161.23", 16123),  # 100.00 EUR -> 16,123 JPY
        (12345, "EUR", "JPY", "161.23", 19904),  # 19,903.9435 rounds up
        (1, "EUR", "JPY", "150", 2),  # 1.5 yen: half rounds up
        (-1, "EUR", "JPY", "150", -2),  # ... and away from zero for a refund
        (10000, "JPY", "EUR", "0.0062023197", 6202),  # 62.023197 EUR
        (16123, "JPY", "EUR", "0.006202319667555665819016308379", 10000),
        (10000, "EUR", "BHD", "0.4085", 40850),  # 100.00 EUR -> 40.850 BHD
        (101, "EUR", "BHD", "0.40855", 413),  # 0.4126355 BHD -> 0.413
        (40850, "BHD", "EUR", "2.4479804161566708", 10000),
        (123456, "EUR", "EUR", "1", 123456),
        (0, "EUR", "USD", "1.0832", 0),
    ],
)
def test_convert_rounds_once_to_the_target_minor_unit(
    amount: int, source: str, target: str, rate: str, expected: int
) -> None:
    assert convert(amount, source, target, Decimal(rate)) == expected


def test_convert_does_not_round_before_the_end() -> None:
    # 0.4999...9 cents: Decimal's default 28 digits would first make it 0.5 and then round it up.
    assert convert(1, "JPY", "USD", Decimal("0.004999999999999999999999999999999")) == 0
    assert convert(10**15, "JPY", "EUR", Decimal("0.006202319667555665819016308379")) == 620231966755567


def test_convert_refuses_floats_bools_and_wrong_identity_rates() -> None:
    with pytest.raises(TypeError):
        convert(100, "EUR", "USD", 1.08)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        convert(True, "EUR", "USD", Decimal("1.08"))
    with pytest.raises(TypeError):
        convert(1.5, "EUR", "USD", Decimal("1.08"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        convert(100, "EUR", "EUR", Decimal("1.08"))
    with pytest.raises(ValueError):
        convert(100, "EUR", "USD", Decimal("-1"))
    with pytest.raises(ValueError):
        convert(100, "EUR", "USD", Decimal("1E+999999"))


CURRENCIES = ["EUR", "USD", "JPY", "BHD", "CHF", "KRW", "KWD", "GBP", "ISK"]


@given(
    amount=st.integers(min_value=-(10**13), max_value=10**13),
    source=st.sampled_from(CURRENCIES),
    target=st.sampled_from(CURRENCIES),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("20000"), places=4),
)
def test_there_and_back_stays_within_one_minor_unit(
    amount: int, source: str, target: str, rate: Decimal
) -> None:
    assume(source != target)
    # Well-conditioned: one minor unit of the target is worth at most one minor unit of the source,
    # so the first rounding cannot lose more than half a source unit.
    assume(rate * Decimal(10) ** (currency_exponent(target) - currency_exponent(source)) >= 1)
    day = date(2026, 11, 20)
    book = RateBook([Rate(day, source, target, rate)])
    back_rate = book.rate(target, source, day)
    assert back_rate is not None
    there = convert(amount, source, target, rate)
    assert abs(convert(there, target, source, back_rate[0]) - amount) <= 1
