"""The credit matching rules, one by one, against the in-memory books of tests/bank_books.py: what a
bank line proposes, with which score and discrepancies; the shortfall causes; the remittance key a
person's confirmation is learned under; the bounded subset search; lookups per line."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from cashline.domain.bank.discrepancies import shortfall
from cashline.domain.bank.matching import exact_subsets, propose, remittance_key
from cashline.domain.bank.model import Direction
from cashline.domain.bank.named_invoices import national_reference_numbers
from cashline.domain.bank.reconciliation import (
    BankTransaction,
    DiscrepancyKind,
    KnownPayment,
    MatchRule,
    OpenInvoice,
    Proposal,
    ShortfallCause,
)
from cashline.domain.bank.resemblance import one_edit_apart, same_but_zeros, similar_names
from cashline.domain.references import creditor_reference
from tests.bank_books import MemoryBooks, open_invoice
from tests.bank_books import bank_line as books_line

TODAY = date(2026, 12, 6)
PAYER_IBAN = "DE89370400440532013000"
STRANGER_IBAN = "DE02120300000000202051"


def bank_line(**changes: object) -> BankTransaction:
    """A credit of 1,190.00 from Müller Haustechnik's account nobody knows (tests/bank_books.py)."""
    payer = {"counterparty_name": "MUELLER HAUSTECHNIK GMBH", "counterparty_iban": STRANGER_IBAN}
    return books_line(**{**payer, **changes})


def invoice(
    number: str,
    outstanding: int,
    *,
    cp: str = "cp_mueller",
    name: str = "Müller Haustechnik GmbH",
    due_day: int = 1,
    invoice_id: str | None = None,
) -> OpenInvoice:
    return open_invoice(
        number,
        outstanding,
        invoice_id=invoice_id or f"inv_{number}",
        counterparty_id=cp,
        counterparty_name=name,
        due_date=date(2026, 11, due_day),
    )


def ids(proposal: Proposal) -> set[str]:
    return {target.id for target in proposal.targets}


# --------------------------------------------------------------------------- references and numbers


def test_an_rf_reference_naming_an_invoice_owing_the_amount_scores_99() -> None:
    # Given an open invoice and a line whose structured reference is its RF reference
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])
    line = bank_line(creditor_reference=creditor_reference("RE-2026-00042"))

    # When
    proposals = propose(line, books, today=TODAY)

    # Then
    assert proposals[0].rule is MatchRule.CREDITOR_REFERENCE
    assert proposals[0].score == 99
    assert ids(proposals[0]) == {"inv_RE-2026-00042"}
    assert proposals[0].discrepancies == ()


def test_an_rf_reference_printed_in_groups_in_the_text_is_found() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])
    reference = creditor_reference("RE-2026-00042")
    printed = " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))

    proposals = propose(bank_line(remittance=f"Zahlung {printed} danke"), books, today=TODAY)

    assert (proposals[0].rule, proposals[0].score) == (MatchRule.CREDITOR_REFERENCE, 99)


def test_an_rf_reference_with_a_wrong_check_digit_names_nothing() -> None:
    books = MemoryBooks(invoices=[invoice("4711", 50000)])
    reference = creditor_reference("4711")
    broken = reference[:2] + ("00" if reference[2:4] != "00" else "01") + reference[4:]

    proposals = propose(bank_line(amount=12345, creditor_reference=broken), books, today=TODAY)

    assert proposals == []


def test_an_overpaid_rf_reference_keeps_the_rest_as_credit_at_92() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 100000)])
    line = bank_line(amount=101000, creditor_reference=creditor_reference("RE-2026-00042"))

    best = propose(line, books, today=TODAY)[0]

    assert best.score == 92
    assert best.total == 100000  # the invoice's part; the rest is the payer's credit
    assert [(d.kind, d.amount, d.target_id) for d in best.discrepancies] == [
        (DiscrepancyKind.OVERPAID, 1000, "inv_RE-2026-00042")
    ]


@pytest.mark.parametrize(
    ("reference", "number"),
    [
        ("000000000000000000000123457", "12345"),  # Swiss QR reference (mod 10 recursive)
        ("123453", "12345"),  # Finnish viitenumero (7-3-1)
        ("77812345", "7781234"),  # Norwegian KID (Luhn)
    ],
)
def test_national_references_carry_the_invoice_number(reference: str, number: str) -> None:
    assert number in national_reference_numbers(reference)


def test_a_national_reference_in_the_structured_field_names_the_invoice() -> None:
    books = MemoryBooks(invoices=[invoice("12345", 119000)])

    proposals = propose(bank_line(creditor_reference="123453"), books, today=TODAY)

    assert (proposals[0].rule, proposals[0].score) == (MatchRule.CREDITOR_REFERENCE, 99)


@pytest.mark.parametrize(
    "text",
    [
        "Rechnung RE-2026-00042 vom 03.11.2026",
        "RE 2026 00042",
        "re2026/00042 Kd-Nr. 40123",
        "Invoice RE202600042, thank you",
        "Facture RE-2026-00042 du 03/11/2026",
    ],
)
def test_the_invoice_number_in_the_text_with_the_amount_owed_scores_97(text: str) -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000), invoice("RE-2026-00043", 5000)])

    best = propose(bank_line(remittance=text), books, today=TODAY)[0]

    assert (best.rule, best.score, ids(best)) == (MatchRule.INVOICE_NUMBER, 97, {"inv_RE-2026-00042"})


def test_a_number_cut_by_the_banks_line_wrapping_is_rejoined() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])
    line = bank_line(remittance="SVWZ+Rechnung RE-2026-0 0042 EREF+NOTPROVIDED")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score) == (MatchRule.INVOICE_NUMBER, 97)


def test_a_two_percent_skonto_on_a_named_invoice_is_applied_with_the_discount_flagged() -> None:
    # Given 1,190.00 owed and 1,166.20 paid: 23.80 short, 2 % exactly
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])
    line = bank_line(amount=116620, remittance="RE-2026-00042 abzgl. 2% Skonto")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score, best.total) == (MatchRule.INVOICE_NUMBER, 92, 116620)
    (discrepancy,) = best.discrepancies
    assert (discrepancy.kind, discrepancy.amount, discrepancy.cause) == (
        DiscrepancyKind.UNDERPAID,
        2380,
        ShortfallCause.EARLY_PAYMENT_DISCOUNT,
    )


def test_a_fee_shortfall_on_a_named_number_is_applied_only_when_the_payer_is_its_customer() -> None:
    # An order number that happens to be an invoice's, and an amount a little below: not enough.
    books = MemoryBooks(invoices=[invoice("10040", 309627)])

    customer = propose(bank_line(amount=309127, remittance="Rechnung 10040"), books, today=TODAY)[0]
    stranger = propose(
        bank_line(amount=309496, remittance="Auftrag 10040 Lieferung", counterparty_name="PRIVAT"),
        books,
        today=TODAY,
    )[0]

    assert (customer.score, customer.discrepancies[0].cause) == (92, ShortfallCause.BANK_FEES)
    assert stranger.score == 80


def test_a_partial_payment_of_a_named_invoice_is_a_suggestion_of_the_partial_amount() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])
    line = bank_line(amount=50000, remittance="Teilzahlung 1/2 Rechnung RE-2026-00042")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score, best.total) == (MatchRule.INVOICE_NUMBER, 80, 50000)
    assert [(d.kind, d.amount, d.cause) for d in best.discrepancies] == [
        (DiscrepancyKind.UNDERPAID, 69000, None)
    ]


def test_an_overpaid_invoice_number_is_applied_only_when_the_payer_is_its_customer() -> None:
    # Any number in the text that happens to be a smaller invoice's would look "overpaid".
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 100000)])

    customer = propose(bank_line(amount=119000, remittance="RE-2026-00042"), books, today=TODAY)[0]
    stranger = propose(
        bank_line(amount=119000, remittance="RE-2026-00042", counterparty_name="J. DOE"), books, today=TODAY
    )[0]

    assert (customer.score, customer.total) == (92, 100000)
    assert customer.discrepancies[0].kind is DiscrepancyKind.OVERPAID
    assert stranger.score == 80


def test_lost_leading_zeros_with_the_amount_and_the_payers_name_score_90() -> None:
    # Given the payer's name is the invoice's customer's (its IBAN is not on file)
    books = MemoryBooks(invoices=[invoice("INV-000042", 119000)])
    line = bank_line(remittance="Invoice INV 42")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score, ids(best)) == (MatchRule.INVOICE_NUMBER_FUZZY, 90, {"inv_INV-000042"})


def test_lost_leading_zeros_from_an_unknown_payer_are_a_suggestion() -> None:
    books = MemoryBooks(invoices=[invoice("INV-000042", 119000)])
    line = bank_line(remittance="Invoice INV 42", counterparty_name="SOMEONE ELSE")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score) == (MatchRule.INVOICE_NUMBER_FUZZY, 75)


def test_one_typo_is_trusted_only_with_the_amount_and_the_payer() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])

    named_payer = propose(bank_line(remittance="Rechnung RE-2026-00024"), books, today=TODAY)[0]
    stranger = propose(
        bank_line(remittance="Rechnung RE-2026-00024", counterparty_name="ANDERE FIRMA AG"),
        books,
        today=TODAY,
    )[0]
    other_amount = propose(bank_line(amount=5000, remittance="Rechnung RE-2026-00024"), books, today=TODAY)

    assert (named_payer.rule, named_payer.score) == (MatchRule.INVOICE_NUMBER_FUZZY, 90)
    assert stranger.score == 75
    assert other_amount == []  # not in any pool read for this line: a typo alone finds nothing


def test_a_typo_that_is_another_invoices_number_is_never_applied() -> None:
    # Given RE-...41 (owing 500.00) and RE-...42 (owing 1,190.00); the payer pays 1,190.00 but typed 41
    books = MemoryBooks(
        invoices=[invoice("RE-2026-00041", 50000), invoice("RE-2026-00042", 119000)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )
    line = bank_line(remittance="RE-2026-00041", counterparty_iban=PAYER_IBAN)

    proposals = propose(line, books, today=TODAY)

    assert proposals[0].score < 90
    assert {"inv_RE-2026-00042"} in [ids(p) for p in proposals]


def test_a_typo_onto_another_invoice_of_an_unknown_payers_customer_is_never_applied() -> None:
    # Given the customer's IBAN is not on file: its invoices are read because the named one does not fit
    meant = replace(invoice("INV-000006", 1125578), amount_due=2000000)  # partly paid: not found by amount
    books = MemoryBooks(invoices=[meant, invoice("INV-000060", 193966)])
    line = bank_line(amount=1125578, remittance="INV-000060")

    proposals = propose(line, books, today=TODAY)

    assert proposals[0].score < 90
    assert {"inv_INV-000006"} in [ids(p) for p in proposals]
    assert books.calls["open_invoices_of"] == 1


def test_far_more_than_a_named_number_owes_is_not_an_overpayment() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 100000)])

    best = propose(bank_line(amount=250000, remittance="RE-2026-00042"), books, today=TODAY)[0]

    assert best.score == 80


def test_a_date_is_never_a_typo_of_an_invoice_number() -> None:
    books = MemoryBooks(invoices=[invoice("10026", 119000)])

    proposals = propose(bank_line(remittance="Abo Kopierer 10/2026"), books, today=TODAY)

    assert all(p.rule is not MatchRule.INVOICE_NUMBER_FUZZY for p in proposals)


def test_two_invoices_as_close_to_a_typo_are_both_only_suggestions() -> None:
    books = MemoryBooks(
        invoices=[invoice("RE-2026-00041", 119000), invoice("RE-2026-00043", 119000)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )
    line = bank_line(remittance="RE-2026-00042", counterparty_iban=PAYER_IBAN)

    proposals = propose(line, books, today=TODAY)

    assert all(p.score < 90 for p in proposals)


def test_several_invoices_named_in_one_transfer_summing_to_the_amount_score_95() -> None:
    books = MemoryBooks(
        invoices=[
            invoice("RE-2026-00042", 50000),
            invoice("RE-2026-00043", 60000),
            invoice("RE-2026-00044", 9000),
        ]
    )
    line = bank_line(amount=119000, remittance="Rechnungen RE-2026-00042, RE-2026-00043 und RE-2026-00044")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score) == (MatchRule.SEVERAL_INVOICES, 95)
    assert [(t.id, t.amount) for t in best.targets] == [
        ("inv_RE-2026-00042", 50000),
        ("inv_RE-2026-00043", 60000),
        ("inv_RE-2026-00044", 9000),
    ]


def test_several_invoices_short_by_skonto_are_split_in_proportion() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 50000), invoice("RE-2026-00043", 50000)])
    line = bank_line(amount=98000, remittance="RE-2026-00042 RE-2026-00043 abzgl. 2 % Skonto")

    best = propose(line, books, today=TODAY)[0]

    assert (best.rule, best.score) == (MatchRule.SEVERAL_INVOICES, 92)
    assert [t.amount for t in best.targets] == [49000, 49000]
    assert best.discrepancies[0].cause is ShortfallCause.EARLY_PAYMENT_DISCOUNT


def test_a_named_invoice_of_another_payer_is_not_applied() -> None:
    books = MemoryBooks(
        invoices=[invoice("RE-2026-00042", 119000, cp="cp_other", name="Schmidt Bau AG")],
        ibans={PAYER_IBAN: "cp_mueller"},
    )
    line = bank_line(remittance="RE-2026-00042", counterparty_iban=PAYER_IBAN)

    best = propose(line, books, today=TODAY)[0]

    assert best.score == 85


# --------------------------------------------------------------------------- the payer and the amount


def test_a_known_iban_with_one_open_invoice_of_the_amount_scores_92() -> None:
    books = MemoryBooks(
        invoices=[invoice("A-1001", 119000), invoice("A-1002", 5000)], ibans={PAYER_IBAN: "cp_mueller"}
    )

    best = propose(bank_line(counterparty_iban=PAYER_IBAN, remittance="Zahlung"), books, today=TODAY)[0]

    assert (best.rule, best.score, ids(best)) == (MatchRule.PAYER_IBAN, 92, {"inv_A-1001"})


def test_a_known_iban_with_two_open_invoices_of_the_amount_proposes_both_below_the_threshold() -> None:
    books = MemoryBooks(
        invoices=[invoice("A-1001", 119000, due_day=2), invoice("A-1002", 119000, due_day=1)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )

    proposals = propose(bank_line(counterparty_iban=PAYER_IBAN), books, today=TODAY)

    assert [p.score for p in proposals[:2]] == [60, 60]
    assert {frozenset(ids(p)) for p in proposals[:2]} == {
        frozenset({"inv_A-1001"}),
        frozenset({"inv_A-1002"}),
    }


def test_a_learned_remittance_pattern_with_one_open_invoice_of_the_amount_scores_93() -> None:
    text = "Wartungsvertrag Heizung Objekt Lindenstrasse 11/2026"
    books = MemoryBooks(
        invoices=[invoice("A-1001", 119000)], learned={remittance_key(text) or "": "cp_mueller"}
    )

    best = propose(bank_line(remittance=text, counterparty_name=None), books, today=TODAY)[0]

    assert (best.rule, best.score) == (MatchRule.LEARNED, 93)


def test_a_unique_combination_of_the_payers_open_invoices_scores_85() -> None:
    books = MemoryBooks(
        invoices=[invoice("A-1", 30000), invoice("A-2", 45000), invoice("A-3", 44000), invoice("A-4", 12345)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )

    best = propose(bank_line(amount=75000, counterparty_iban=PAYER_IBAN), books, today=TODAY)[0]

    assert (best.rule, best.score, ids(best)) == (MatchRule.COMBINATION, 85, {"inv_A-1", "inv_A-2"})


def test_one_invoice_of_the_amount_and_a_set_of_others_summing_to_it_are_for_a_person() -> None:
    books = MemoryBooks(
        invoices=[invoice("A-1", 10000), invoice("A-2", 5000), invoice("A-3", 5000)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )

    proposals = propose(bank_line(amount=10000, counterparty_iban=PAYER_IBAN), books, today=TODAY)

    assert [(p.rule, p.score) for p in proposals[:2]] == [
        (MatchRule.COMBINATION, 85),
        (MatchRule.PAYER_IBAN, 80),
    ]


def test_a_learned_text_from_a_payer_of_another_name_corroborates_nothing() -> None:
    text = "Abo Kopierer Standort Nord"
    books = MemoryBooks(
        invoices=[invoice("RE-2026-00042", 119000)], learned={remittance_key(text) or "": "cp_mueller"}
    )
    line = bank_line(remittance=f"{text} RE-2026-00024", counterparty_name="WOLF DRUCKEREI GMBH")

    proposals = propose(line, books, today=TODAY)

    assert all(p.score < 90 for p in proposals)


def test_several_combinations_are_shown_at_60_each() -> None:
    books = MemoryBooks(
        invoices=[invoice("A-1", 30000), invoice("A-2", 45000), invoice("A-3", 40000), invoice("A-4", 35000)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )

    proposals = propose(bank_line(amount=75000, counterparty_iban=PAYER_IBAN), books, today=TODAY)

    assert [p.score for p in proposals] == [60, 60]


def test_the_amount_alone_is_a_hint_stronger_with_the_payers_name() -> None:
    books = MemoryBooks(invoices=[invoice("A-1", 119000)])

    named = propose(bank_line(), books, today=TODAY)[0]
    unnamed = propose(bank_line(counterparty_name="J. DOE"), books, today=TODAY)[0]

    assert (named.rule, named.score) == (MatchRule.AMOUNT, 80)
    assert (unnamed.rule, unnamed.score) == (MatchRule.AMOUNT, 55)


def test_an_amount_owed_by_several_invoices_is_ambiguous() -> None:
    books = MemoryBooks(
        invoices=[
            invoice("A-1", 119000),
            invoice("B-1", 119000, cp="cp_b", name="Schmidt Bau AG"),
            invoice("C-1", 119000, cp="cp_c", name="Dupont SARL"),
        ]
    )

    proposals = propose(bank_line(counterparty_name="J. DOE"), books, today=TODAY)

    assert [p.score for p in proposals] == [40, 40, 40]


def test_the_payer_naming_one_invoice_holds_back_the_amount_rules_for_others() -> None:
    # A partial payment of A-1 whose amount happens to be what A-2 owes
    books = MemoryBooks(
        invoices=[invoice("RE-2026-00041", 119000), invoice("RE-2026-00042", 50000)],
        ibans={PAYER_IBAN: "cp_mueller"},
    )
    line = bank_line(amount=50000, remittance="Teilzahlung RE-2026-00041", counterparty_iban=PAYER_IBAN)

    proposals = propose(line, books, today=TODAY)

    assert ids(proposals[0]) == {"inv_RE-2026-00041"}
    assert all(p.score < 90 for p in proposals)


def test_a_reversal_credit_pays_no_invoice() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])

    assert propose(bank_line(remittance="RE-2026-00042", reversal=True), books, today=TODAY) == []
    assert propose(bank_line(remittance="RE-2026-00042", amount=0), books, today=TODAY) == []


def test_a_debit_is_left_to_the_debit_rules() -> None:
    # An invoice (receivable) is never what money going out pays
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])

    proposals = propose(bank_line(direction=Direction.DEBIT, remittance="RE-2026-00042"), books, today=TODAY)

    assert all(p.rule is not MatchRule.INVOICE_NUMBER for p in proposals)


def test_nothing_matching_proposes_nothing() -> None:
    books = MemoryBooks(invoices=[invoice("RE-2026-00042", 119000)])

    assert propose(bank_line(amount=4711, remittance="Erstattung Kaution"), books, today=TODAY) == []


def test_proposals_are_distinct_by_targets_best_first_and_at_most_five() -> None:
    invoices = [invoice(f"XY-{i}", 119000, cp=f"cp_{i}", name=f"Firma {i}") for i in range(8)]
    books = MemoryBooks(invoices=invoices)

    proposals = propose(bank_line(remittance="XY-3", counterparty_name=None), books, today=TODAY)

    assert len(proposals) == 5
    assert ids(proposals[0]) == {"inv_XY-3"}
    assert len({frozenset(ids(p)) for p in proposals}) == 5
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)


def test_a_processor_payout_is_proposed_for_a_credit() -> None:
    payout = KnownPayment(
        payment_id="pay_po1",
        kind="payout",
        source="stripe",
        amount=119000,
        currency="EUR",
        value_date=date(2026, 12, 3),
        reference="po_1Q2w3E4r5T6y",
        settled_gross=122000,
        fees=3000,
    )
    books = MemoryBooks(payments=[payout])

    best = propose(bank_line(remittance="STRIPE PAYOUT po_1Q2w3E4r5T6y"), books, today=TODAY)[0]

    assert best.rule is MatchRule.PROCESSOR_PAYOUT
    assert best.score >= 90


def test_lookups_per_line_do_not_grow_with_the_number_of_invoices() -> None:
    rng = random.Random(7)
    line = bank_line(
        remittance="Rechnung RE-2026-00005 Kd-Nr. 40123 vom 03.11.2026", counterparty_iban=PAYER_IBAN
    )
    calls = []
    for size in (10, 1000, 10000):
        invoices = [
            invoice(f"RE-2026-{i:05d}", rng.randrange(100, 10**7), cp=f"cp_{i % 97}") for i in range(size)
        ]
        books = MemoryBooks(invoices=invoices, ibans={PAYER_IBAN: "cp_1"})
        propose(line, books, today=TODAY)
        calls.append(books.total_calls)

    assert calls[0] == calls[1] == calls[2]
    assert calls[0] <= 30


# --------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("owed", "paid", "kind", "cause"),
    [
        (119000, 119000, None, None),
        (119000, 116620, DiscrepancyKind.UNDERPAID, ShortfallCause.EARLY_PAYMENT_DISCOUNT),  # 2 %
        (12345, 12098, DiscrepancyKind.UNDERPAID, ShortfallCause.EARLY_PAYMENT_DISCOUNT),  # 2 % = 246.9, up
        (12345, 12099, DiscrepancyKind.UNDERPAID, ShortfallCause.EARLY_PAYMENT_DISCOUNT),  # 2 % = 246.9, down
        (100000, 97500, DiscrepancyKind.UNDERPAID, ShortfallCause.EARLY_PAYMENT_DISCOUNT),  # 2.5 %
        (100000, 99250, DiscrepancyKind.UNDERPAID, ShortfallCause.BANK_FEES),
        (1000000, 997000, DiscrepancyKind.UNDERPAID, None),  # 30.00: more than fees look like
        (100000, 50000, DiscrepancyKind.UNDERPAID, None),
        (100000, 100500, DiscrepancyKind.OVERPAID, None),
    ],
)
def test_shortfall(owed: int, paid: int, kind: DiscrepancyKind | None, cause: ShortfallCause | None) -> None:
    found = shortfall(owed, paid, "EUR")
    assert (found.kind if found else None, found.cause if found else None) == (kind, cause)
    if found:
        assert found.amount == abs(owed - paid)


def test_fees_are_measured_in_the_currencys_own_unit() -> None:
    found = shortfall(100000, 99990, "JPY")  # 10 yen short of 100,000: fees
    assert found is not None and found.cause is ShortfallCause.BANK_FEES
    assert shortfall(100000, 99970, "JPY").cause is None  # type: ignore[union-attr]  # 30 yen: more than 25


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Miete Wohnung 3 / März 2026, RE 2026-17", "MIETE WOHNUNG"),
        ("Miete Wohnung 3 / April 2026", "MIETE WOHNUNG"),
        ("Rechnung 4711 vom 03.11.2026", None),
        ("RF18 5390 0754 7034", None),
        (
            "Wartungsvertrag Heizung Objekt Lindenstrasse 11/2026",
            "WARTUNGSVERTRAG HEIZUNG OBJEKT LINDENSTRASSE",
        ),
        ("", None),
    ],
)
def test_remittance_key(text: str, key: str | None) -> None:
    assert remittance_key(text) == key


def test_exact_subsets_finds_each_set_once_up_to_six_of_fifty() -> None:
    amounts = [10**i for i in range(6)] + [7 * 10**6 + i for i in range(44)]

    assert exact_subsets(amounts, 111111, limit=4) == [(0, 1, 2, 3, 4, 5)]
    assert exact_subsets(amounts, 11, limit=4) == [(0, 1)]
    assert exact_subsets([5, 5, 5], 10, limit=4) == [(0, 1), (0, 2), (1, 2)]
    assert exact_subsets(amounts, 3, limit=4) == []


def test_resemblance() -> None:
    assert similar_names("MUELLER HAUSTECHNIK GMB", "Müller Haustechnik GmbH")
    assert not similar_names("MUELLER BAU", "Müller Logistik GmbH")
    assert same_but_zeros("INV-000042", "inv 42")
    assert one_edit_apart("RE202600042", "RE202600024")
    assert not one_edit_apart("RE42", "RE43")  # too short to trust one character off
