"""Which e-invoice profile a document claims (BT-24), and what that profile promises to carry.

Factur-X / ZUGFeRD 2.x MINIMUM and BASIC WL are not EN 16931 invoices: they carry header totals
and no lines (MINIMUM not even a line total, VAT breakdown or allowances). Every other profile
(BASIC, EN 16931, EXTENDED, XRechnung, Peppol and any unknown one) is held to EN 16931.
"""

from __future__ import annotations

import re
from typing import Literal

ProfileName = Literal[
    "minimum",
    "basic_wl",
    "basic",
    "en16931",
    "extended",
    "xrechnung",
    "xrechnung_extension",
    "peppol",
    "unknown",
]

# Factur-X 1.0 ("urn:factur-x.eu:1p0:minimum") and ZUGFeRD 2.0 ("urn:zugferd.de:2p0:minimum").
_FACTURX_LEVEL = re.compile(r"urn:(?:factur-x\.eu|zugferd\.de):\dp\d:(minimum|basicwl|basic|extended)\b")
_FACTURX_NAMES: dict[str, ProfileName] = {
    "minimum": "minimum",
    "basicwl": "basic_wl",
    "basic": "basic",
    "extended": "extended",
}
EN16931_ID = "urn:cen.eu:en16931:2017"


def profile_name(specification_id: str | None) -> ProfileName:
    """Name the profile a BT-24 specification identifier claims ("unknown" when none is recognised)."""
    text = (specification_id or "").strip().lower()
    facturx = _FACTURX_LEVEL.search(text)
    if facturx:
        return _FACTURX_NAMES[facturx.group(1)]
    # KoSIT moved the identifiers from urn:xoev-de (up to 2.3) to urn:xeinkauf.de (3.0).
    if ":kosit:extension:xrechnung" in text:
        return "xrechnung_extension"
    if ":kosit:" in text and "xrechnung" in text:
        return "xrechnung"
    if "peppol.eu" in text:
        return "peppol"
    if text.startswith(EN16931_ID):
        return "en16931"
    return "unknown"


def is_header_only(name: ProfileName) -> bool:
    """MINIMUM and BASIC WL carry document totals only: no invoice lines."""
    return name in ("minimum", "basic_wl")
