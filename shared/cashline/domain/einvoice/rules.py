"""EN 16931 arithmetic business rules (BR-CO-10..17), the rules of VAT category O, and code lists.

The calculation rules catch a tampered or mis-generated total before Cashline trusts BT-115 as the
amount to pay. The category O ("not subject to VAT") rules BR-O-01..14 catch an invoice that claims
no VAT is due while it also names VAT identifiers or other VAT categories (`_category_o_violations`).
Schema and code-list validation is out of scope.
All arithmetic is on integer minor units (and Decimal rates); there are no floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from cashline.domain.einvoice.model import AllowanceCharge, EInvoice, InvoiceLine, RuleViolation, TaxSubtotal
from cashline.domain.einvoice.profiles import ProfileName, is_header_only
from cashline.domain.money import currency_exponent

# UNTDID 1001 codes EN 16931 treats as credit notes (the rest of its subset are invoices:
# 380 commercial invoice, 384 corrected, 389 self-billed, 326 partial, 751 invoice information, ...).
CREDIT_NOTE_TYPE_CODES = frozenset(
    {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
)

# BR-CO-17 allows the VAT of a category to differ from base x rate by at most this many minor units,
# because some issuers sum per-line rounded VAT instead of rounding the category total once.
VAT_ROUNDING_TOLERANCE = 1


def document_type_for(type_code: str, *, credit_note_root: bool = False) -> Literal["invoice", "credit_note"]:
    """Classify BT-3: a UBL CreditNote root or a credit-note type code means "credit_note"."""
    if credit_note_root or type_code in CREDIT_NOTE_TYPE_CODES:
        return "credit_note"
    return "invoice"


def check_totals(invoice: EInvoice) -> list[RuleViolation]:
    """Check the EN 16931 document-level calculation rules; an empty list means the totals add up.

    What a profile does not carry is not checked: Factur-X BASIC WL has no lines (no BR-CO-10),
    MINIMUM has no lines, line total, allowances or VAT breakdown either (only BR-CO-15 and -16).
    Every other profile must have at least one line (BR-16). In the XRechnung extension, amounts
    collected for third parties (BG-DEX-09) are part of the amount due: BR-DEX-09 replaces BR-CO-16.
    """
    exponent = currency_exponent(invoice.currency)
    t = invoice.totals
    profile = invoice.profile_name
    checks = [
        *_structure_checks(invoice, profile),
        (
            "BR-CO-15",
            "BT-112 total with VAT vs BT-109 + BT-110",
            t.tax_inclusive,
            t.tax_exclusive + t.tax_total,
        ),
    ]
    violations = [
        RuleViolation(rule, f"{what}: {_fmt(stated, exponent)} != {_fmt(computed, exponent)}")
        for rule, what, stated, computed in checks
        if stated != computed
    ]
    if not is_header_only(profile) and not invoice.lines:
        violations.insert(0, RuleViolation("BR-16", f"a {profile} invoice must have at least one line"))
    if invoice.third_party_payments:
        rule, what = "BR-DEX-09", "BT-115 amount due vs BT-112 - BT-113 + BT-114 + third-party payments"
    else:
        rule, what = "BR-CO-16", "BT-115 amount due vs BT-112 - BT-113 + BT-114"
    due = t.tax_inclusive - t.prepaid + t.rounding + t.third_party
    if t.amount_due != due:
        violations.append(
            RuleViolation(rule, f"{what}: {_fmt(t.amount_due, exponent)} != {_fmt(due, exponent)}")
        )
    violations.extend(_category_vat_violations(invoice.tax_subtotals, exponent))
    violations.extend(_category_o_violations(invoice, exponent))
    return violations


_Check = tuple[str, str, int, int]


def _structure_checks(invoice: EInvoice, profile: ProfileName) -> list[_Check]:
    """BR-CO-10..14: lines, allowances and VAT breakdown against their totals, where carried."""
    if profile == "minimum":
        return []
    t = invoice.totals
    line_total = t.line_total or 0  # only MINIMUM may omit BT-106, and it returned above
    allowances = sum(ac.amount for ac in invoice.allowances_charges if not ac.is_charge)
    charges = sum(ac.amount for ac in invoice.allowances_charges if ac.is_charge)
    checks: list[_Check] = [
        ("BR-CO-11", "BT-107 allowance total vs sum of document allowances", t.allowance_total, allowances),
        ("BR-CO-12", "BT-108 charge total vs sum of document charges", t.charge_total, charges),
        (
            "BR-CO-13",
            "BT-109 total without VAT vs BT-106 - BT-107 + BT-108",
            t.tax_exclusive,
            line_total - t.allowance_total + t.charge_total,
        ),
        (
            "BR-CO-14",
            "BT-110 VAT total vs sum of BT-117 category VAT",
            t.tax_total,
            sum(sub.tax_amount for sub in invoice.tax_subtotals),
        ),
    ]
    if not is_header_only(profile):
        net = sum(line.net_amount for line in invoice.lines)
        checks.insert(0, ("BR-CO-10", "BT-106 sum of line net amounts vs sum of BT-131", line_total, net))
    return checks


def expected_vat(taxable_minor: int, rate: Decimal) -> int:
    """BT-116 x BT-119 / 100, rounded half-up (away from zero) to a whole minor unit."""
    with localcontext() as ctx:
        ctx.prec = 60  # far beyond any amount we accept, so the product itself is never rounded
        exact = Decimal(taxable_minor) * rate / Decimal(100)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _category_vat_violations(subtotals: Iterable[TaxSubtotal], exponent: int) -> list[RuleViolation]:
    violations = []
    for sub in subtotals:
        if sub.rate is None:
            continue  # category O (outside scope) has no rate to multiply by
        expected = expected_vat(sub.taxable_amount, sub.rate)
        if abs(sub.tax_amount - expected) > VAT_ROUNDING_TOLERANCE:
            violations.append(
                RuleViolation(
                    "BR-CO-17",
                    f"BT-117 VAT of category {sub.category} {sub.rate}%: {_fmt(sub.tax_amount, exponent)} "
                    f"!= BT-116 {_fmt(sub.taxable_amount, exponent)} x rate = {_fmt(expected, exponent)}",
                )
            )
    return violations


NOT_SUBJECT_TO_VAT = "O"  # UNCL 5305 category O: outside the scope of VAT (VATEX-EU-O)


def _category_o_violations(invoice: EInvoice, exponent: int) -> list[RuleViolation]:
    """BR-O-01..14, the rules of VAT category O, as far as the model carries their terms.

    An invoice is either entirely outside the scope of VAT or not at all: once anything is O (a
    line, a document allowance or charge, a breakdown group), the document names no VAT
    identifier (BT-31, BT-48, BT-63), writes no rate for O, states tax 0 with an exemption reason,
    and holds no other category. MINIMUM and BASIC WL carry no lines: the line-based rules then
    look at what they do carry (allowances, charges, the breakdown).
    """
    o_lines = [line for line in invoice.lines if line.tax_category == NOT_SUBJECT_TO_VAT]
    o_parts = [ac for ac in invoice.allowances_charges if ac.tax_category == NOT_SUBJECT_TO_VAT]
    o_groups = [sub for sub in invoice.tax_subtotals if sub.category == NOT_SUBJECT_TO_VAT]
    if not (o_lines or o_parts or o_groups):
        return []
    return [
        *_o_breakdown_presence(invoice, o_lines, o_parts, o_groups),
        *_o_vat_identifiers(invoice, o_lines, o_parts),
        *_o_rates(o_lines, o_parts),
        *_o_groups(invoice, o_lines, o_parts, o_groups, exponent),
        *_o_alone(invoice, o_groups),
    ]


def _o_breakdown_presence(
    invoice: EInvoice,
    o_lines: list[InvoiceLine],
    o_parts: list[AllowanceCharge],
    o_groups: list[TaxSubtotal],
) -> list[RuleViolation]:
    """BR-O-01: O lines, allowances or charges need exactly one O breakdown group."""
    if not (o_lines or o_parts) or len(o_groups) == 1 or invoice.profile_name == "minimum":
        return []
    return [
        RuleViolation(
            "BR-O-01",
            f"an invoice with items not subject to VAT (O) must have exactly one VAT breakdown of "
            f"category O, it has {len(o_groups)}",
        )
    ]


def _o_vat_identifiers(
    invoice: EInvoice, o_lines: list[InvoiceLine], o_parts: list[AllowanceCharge]
) -> list[RuleViolation]:
    """BR-O-02 (O lines), -03 (O allowances), -04 (O charges): no seller, tax representative or
    buyer VAT identifier. A tax registration number (BT-32) is allowed."""
    named = [
        term
        for term, value in (
            ("seller VAT identifier BT-31", invoice.seller.vat_id),
            ("seller tax representative VAT identifier BT-63", invoice.tax_representative_vat_id),
            ("buyer VAT identifier BT-48", invoice.buyer.vat_id),
        )
        if value
    ]
    if not named:
        return []
    triggers = [
        ("BR-O-02", "an invoice line", bool(o_lines)),
        ("BR-O-03", "a document level allowance", any(not ac.is_charge for ac in o_parts)),
        ("BR-O-04", "a document level charge", any(ac.is_charge for ac in o_parts)),
    ]
    return [
        RuleViolation(
            rule, f"{what} is not subject to VAT (O), so the invoice must not contain the {', '.join(named)}"
        )
        for rule, what, applies in triggers
        if applies
    ]


def _o_rates(o_lines: list[InvoiceLine], o_parts: list[AllowanceCharge]) -> list[RuleViolation]:
    """BR-O-05 (lines, BT-152), -06 (allowances, BT-96), -07 (charges, BT-103): O has no VAT rate."""
    violations = [
        RuleViolation(
            "BR-O-05", f"line {line.line_id} is not subject to VAT (O) but states the rate {line.tax_rate}%"
        )
        for line in o_lines
        if line.tax_rate is not None
    ]
    for ac in o_parts:
        if ac.tax_rate is not None:
            rule, what = (
                ("BR-O-07", "document level charge")
                if ac.is_charge
                else ("BR-O-06", "document level allowance")
            )
            violations.append(
                RuleViolation(rule, f"a {what} not subject to VAT (O) states the rate {ac.tax_rate}%")
            )
    return violations


def _o_groups(
    invoice: EInvoice,
    o_lines: list[InvoiceLine],
    o_parts: list[AllowanceCharge],
    o_groups: list[TaxSubtotal],
    exponent: int,
) -> list[RuleViolation]:
    """BR-O-08 (taxable = O lines - O allowances + O charges), -09 (tax 0), -10 (exemption reason)."""
    violations = []
    expected = sum(line.net_amount for line in o_lines) + sum(
        ac.amount if ac.is_charge else -ac.amount for ac in o_parts
    )
    for sub in o_groups:
        if not is_header_only(invoice.profile_name) and sub.taxable_amount != expected:
            violations.append(
                RuleViolation(
                    "BR-O-08",
                    f"BT-116 taxable amount of category O {_fmt(sub.taxable_amount, exponent)} != O lines "
                    f"- O allowances + O charges = {_fmt(expected, exponent)}",
                )
            )
        if sub.tax_amount != 0:
            violations.append(
                RuleViolation(
                    "BR-O-09", f"BT-117 VAT of category O must be 0, not {_fmt(sub.tax_amount, exponent)}"
                )
            )
        if not sub.exemption_reason:
            violations.append(
                RuleViolation(
                    "BR-O-10", "the VAT breakdown of category O needs an exemption reason (BT-120 or BT-121)"
                )
            )
    return violations


def _o_alone(invoice: EInvoice, o_groups: list[TaxSubtotal]) -> list[RuleViolation]:
    """BR-O-11 (no other breakdown group), -12 (no other line), -13 (allowance), -14 (charge)."""
    if not o_groups:
        return []
    others = sorted({sub.category for sub in invoice.tax_subtotals if sub.category != NOT_SUBJECT_TO_VAT})
    violations = []
    if others:
        violations.append(
            RuleViolation(
                "BR-O-11",
                "a VAT breakdown of category O must be the only one; the invoice also has "
                + ", ".join(others),
            )
        )
    for line in invoice.lines:
        if line.tax_category != NOT_SUBJECT_TO_VAT:
            violations.append(
                RuleViolation(
                    "BR-O-12",
                    f"line {line.line_id} is category {line.tax_category} on an invoice of category O",
                )
            )
    for ac in invoice.allowances_charges:
        if ac.tax_category is not None and ac.tax_category != NOT_SUBJECT_TO_VAT:
            rule, what = (
                ("BR-O-14", "document level charge")
                if ac.is_charge
                else ("BR-O-13", "document level allowance")
            )
            violations.append(
                RuleViolation(rule, f"a {what} is category {ac.tax_category} on an invoice of category O")
            )
    return violations


def _fmt(minor: int, exponent: int) -> str:
    """Minor units back to the written form (12345, 2 -> "123.45") for messages only."""
    return str(Decimal(minor).scaleb(-exponent))
