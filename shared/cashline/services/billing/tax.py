"""Who sells and who buys, for the VAT decision (cashline.domain.billing.tax.decide).

The seller is the tenant as its billing settings state it. The buyer is the counterparty:

- its country is `counterparty.country` (else the country of its postal address);
- it is a business when it has a tax id (`counterparty.tax_id`): the API has no other sign of one,
  and a consumer has no VAT id to give;
- its VAT id is valid when python-stdnum accepts its format and checksum, it belongs to the buyer's
  country (Greece's prefix is EL), and, when the tenant turned `vies_check` on, VIES does not say
  it is unregistered. VIES being unavailable leaves the checksum's answer standing (logged).
  A tax id written without its prefix ("136695976" for a German customer) gets the country's.

A business whose VAT id is not valid is billed as a consumer (no reverse charge).
"""

from __future__ import annotations

from datetime import datetime

from stdnum.eu import vat

from cashline.adapters.vies import VatRegistry, ViesAnswer, vies
from cashline.dal.billing_settings import BillingSettings
from cashline.domain.access import Tenant
from cashline.domain.billing.tax import BuyerTax, SellerTax
from cashline.domain.counterparties import Counterparty, normalize_tax_id
from cashline.observability import logger

# VAT ids carry the ISO country code except Greece's (EL) and Northern Ireland's (XI, a GB address).
_VAT_PREFIX = {"GR": "EL"}


def vat_prefix(country: str) -> str:
    """The prefix a VAT id of `country` starts with (EL for GR)."""
    upper = country.upper()
    return _VAT_PREFIX.get(upper, upper)


def eu_vat_id(tax_id: str, country: str | None) -> str | None:
    """`tax_id` as a compact EU VAT id with its prefix if it is one of `country` (any EU country
    when `country` is None) with a valid checksum; None otherwise."""
    compact = normalize_tax_id(tax_id)
    if country and not compact[:2].isalpha():
        compact = vat_prefix(country) + compact
    if not vat.is_valid(compact):
        return None
    if (
        country
        and compact[:2] != vat_prefix(country)
        and not (country.upper() == "GB" and compact[:2] == "XI")
    ):
        return None
    return compact


def seller_of(tenant: Tenant, settings: BillingSettings) -> SellerTax:
    """The tenant as seller: registered country and VAT id from its settings, else its profile."""
    country = (settings.registered_country or tenant.country).upper()
    return SellerTax(country=country, vat_id=settings.vat_id or tenant.tax_id, oss=settings.oss)


def _country_of(counterparty: Counterparty) -> str | None:
    country = counterparty.country or (counterparty.address or {}).get("country")
    return country.upper() if country else None


def buyer_of(
    counterparty: Counterparty,
    settings: BillingSettings,
    *,
    now: datetime,
    registry: VatRegistry | None = None,
) -> BuyerTax:
    """The counterparty as buyer (rules: module docstring). `registry` defaults to the VIES adapter
    in use (adapters.vies.vies()); it is asked only when `settings.vies_check`."""
    country = _country_of(counterparty)
    if not counterparty.tax_id:
        return BuyerTax(country=country, vat_id=None, vat_id_valid=False, is_business=False)
    vat_id = eu_vat_id(counterparty.tax_id, country)
    valid = vat_id is not None
    if vat_id is not None and settings.vies_check:
        answer = (registry or vies()).check(vat_id, now=now)
        if answer is ViesAnswer.UNAVAILABLE:
            logger.warning("VIES unavailable: checksum kept", counterparty_id=counterparty.counterparty_id)
        valid = answer is not ViesAnswer.INVALID
    return BuyerTax(
        country=country,
        vat_id=vat_id or normalize_tax_id(counterparty.tax_id),
        vat_id_valid=valid,
        is_business=True,
    )
