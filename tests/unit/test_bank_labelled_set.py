"""The matching engine against a labelled set: 500 bank lines, each with the invoices it truly pays
(or none), against 400 open invoices of 120 counterparties, generated deterministically.

Figures (seed 13; also in bench/results/bank_matching.md):
- automatic 316 of 500 (63.2 %; 68.7 % of the 460 lines that pay something)
- suggested 132 (26.4 %): the right answer is among the proposals below the threshold
- missed 12 (2.4 %); the 40 lines paying nothing are left alone
- wrong automatic matches: 0 (also over seeds 0-199, 100,000 lines: automatic 63.3 %, suggested
  27.2 %, missed 1.5 %)
- lookups per line: 7.4 on average, 22 at most, whatever the number of invoices

Automatic = the best proposal scores >= 90 (the default threshold) and pays exactly the labelled
invoices; suggested = not automatic, and one of the proposals pays exactly the labelled invoices;
a wrong automatic match (best >= 90, other targets than the label, or a line labelled "none") must
never happen.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from cashline.domain.bank.matching import propose, remittance_key
from cashline.domain.bank.reconciliation import (
    DEFAULT_AUTO_MATCH_THRESHOLD,
    BankTransaction,
    OpenInvoice,
    Proposal,
)
from cashline.domain.bank.resemblance import one_edit_apart
from cashline.domain.references import creditor_reference, normalize_invoice_number
from tests.bank_books import MemoryBooks, bank_line

SEED = 13
TODAY = date(2026, 12, 4)
COUNTERPARTIES = 120
INVOICES = 400
MAX_READS_PER_LINE = 40

# fmt: off
_SURNAMES = {
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
        "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
        "Braun", "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann",
    ),
    "en": (
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
        "Clarke",
    ),
    "fr": (
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
        "Vincent", "Fournier",
    ),
}
_TRADES = {
    "de": (
        "Haustechnik", "Bau", "Logistik", "Elektro", "Metallbau", "Druckerei", "Software", "Beratung",
        "Gartenbau", "Holzbau",
    ),
    "en": (
        "Engineering", "Logistics", "Consulting", "Supplies", "Digital", "Print", "Foods", "Builders",
    ),
    "fr": (
        "Électricité", "Bâtiment", "Transports", "Conseil", "Imprimerie", "Menuiserie", "Informatique",
    ),
}
# fmt: on
_LEGAL = {
    "de": ["GmbH", "GmbH & Co. KG", "AG", "e.K."],
    "en": ["Ltd", "Limited", "PLC"],
    "fr": ["SARL", "SAS"],
}
_SERIES = {"de": "RE-2026-{:05d}", "en": "INV-{:06d}", "fr": "FA2026-{:04d}"}
# Some German customers are invoiced from a system numbering plainly from 10000: such numbers also
# look like order numbers, postcodes and customer numbers in the text.
_PLAIN_SERIES = "{:05d}"
_COUNTRY = {"de": "DE", "en": "GB", "fr": "FR"}

_ONE = {
    "de": [
        "Rechnung {n}",
        "RE {n} vom {d}",
        "Rechnungsnr. {n} Kd-Nr. {c}",
        "SVWZ+{n} EREF+NOTPROVIDED",
        "{n}",
    ],
    "en": ["Invoice {n}", "Payment for invoice {n}", "{n} thank you", "Inv {n} customer {c}", "{n}"],
    "fr": ["Facture {n}", "Règlement facture {n} du {d}", "Virement fact. {n}", "Paiement {n} client {c}"],
}
_SKONTO = {
    "de": "Rechnung {n} abzgl. 2% Skonto",
    "en": "Invoice {n} less 2% early payment discount",
    "fr": "Facture {n} escompte 2%",
}
_PARTIAL = {
    "de": "Teilzahlung {k}/2 Rechnung {n}",
    "en": "Partial payment {k} of 2 invoice {n}",
    "fr": "Acompte {k} facture {n}",
}
_SEVERAL = {"de": "Rechnungen {ns}", "en": "Invoices {ns}", "fr": "Factures {ns}"}
_GENERIC = ["Zahlung", "Payment", "Überweisung", "Virement", "Danke", "Auftrag 7781", "Order PO-55812", ""]
_NOTHING = [
    "Erstattung Kaution Büro",
    "Refund order 55127",
    "Gutschrift Bonus 2026",
    "Rückzahlung Darlehen",
    "Remboursement trop-perçu",
    "Rechnung RE-2026-09{k:03d}",
    "Invoice INV-09{k:04d}",
    "Auftrag 10{k:03d} Lieferung",
    "Bestellung 10{k:03d}",
    "Miete Lager Dezember",
]
_LEARNED = [
    "Wartungsvertrag Heizung Objekt Lindenstrasse",
    "Miete Stellplatz Hof",
    "Abo Kopierer Standort Nord",
]


@dataclass(frozen=True)
class Party:
    counterparty_id: str
    name: str
    language: str
    iban: str
    iban_known: bool  # registered with the counterparty, so books.counterparty_of_iban finds it
    learned_text: str | None = None  # a pattern a person confirmed for this payer


@dataclass
class Labelled:
    kind: str
    line: BankTransaction
    label: frozenset[str]  # invoice ids, empty for "none"


@dataclass
class World:
    parties: list[Party]
    invoices: list[OpenInvoice]
    by_party: dict[str, list[OpenInvoice]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)  # next number per series


def _iban(rng: random.Random, country: str) -> str:
    bban = "".join(rng.choice(string.digits) for _ in range(18))
    digits = "".join(str(int(ch, 36)) for ch in f"{bban}{country}00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _parties(rng: random.Random) -> list[Party]:
    parties: list[Party] = []
    names: set[tuple[str, str]] = set()
    while len(parties) < COUNTERPARTIES:
        language = rng.choice(["de", "de", "en", "fr"])
        surname, trade = rng.choice(_SURNAMES[language]), rng.choice(_TRADES[language])
        name = f"{surname} {trade} {rng.choice(_LEGAL[language])}"
        # Two customers called "Schneider Elektro" (GmbH and e.K.) cannot be told apart by name: a
        # payer's name would corroborate either, so the set has distinct names.
        if (surname, trade) in names:
            continue
        names.add((surname, trade))
        index = len(parties)
        learned = _LEARNED[index % 3] + f" {name.split()[0]}" if index % 12 == 5 else None
        parties.append(
            Party(
                f"cp_{index:03d}", name, language, _iban(rng, _COUNTRY[language]), rng.random() < 0.6, learned
            )
        )
    return parties


def _amount(rng: random.Random) -> int:
    if rng.random() < 0.12:  # round prices many customers pay: the same amount on several invoices
        return rng.choice([11900, 59500, 119000, 238000, 50000])
    return rng.randrange(5_000, 2_000_000)


def _world(rng: random.Random) -> World:
    parties = _parties(rng)
    world = World(parties, [])
    for index in range(INVOICES):
        party = parties[index] if index < len(parties) else rng.choice(parties)
        plain = party.language == "de" and int(party.counterparty_id[3:]) % 4 == 1
        series = _PLAIN_SERIES if plain else _SERIES[party.language]
        world.numbers[series] = world.numbers.get(series, 10_000 if plain else 0) + rng.randint(1, 3)
        due = rng.randrange(TODAY.toordinal() - 60, TODAY.toordinal() + 30)
        amount_due = _amount(rng)
        outstanding = amount_due if rng.random() < 0.9 else rng.randrange(1_000, amount_due)
        invoice = OpenInvoice(
            invoice_id=f"inv_{index:04d}",
            number=series.format(world.numbers[series]),
            counterparty_id=party.counterparty_id,
            counterparty_name=party.name,
            direction="receivable",
            currency="EUR",
            amount_due=amount_due,
            outstanding=outstanding,
            issue_date=date.fromordinal(due - 30),
            due_date=date.fromordinal(due),
        )
        world.invoices.append(invoice)
        world.by_party.setdefault(party.counterparty_id, []).append(invoice)
    return world


# --------------------------------------------------------------------------- spellings and texts


def _bank_name(rng: random.Random, party: Party) -> str:
    """The payer's name as banks print it: often upper-case ASCII, sometimes cut at 27 characters."""
    name = party.name
    if rng.random() < 0.5:
        name = name.upper().translate(str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "É": "E", "Â": "A"}))
    return name[:27] if rng.random() < 0.3 else name


def _spaced(number: str, rng: random.Random) -> str:
    """Spaces, dashes or nothing between the groups, in any case: the same number, exactly."""
    groups = number.replace("-", " ").split()
    joiner = rng.choice([" ", "-", "", "/"])
    text = joiner.join(groups)
    return text.lower() if rng.random() < 0.3 else text


def _lost_zeros(number: str, rng: random.Random) -> str:
    head, _, last = number.rpartition("-") if "-" in number else (number[:-4], "", number[-4:])
    return f"{head}{rng.choice(['-', ' '])}{int(last)}"


def _typo(number: str, rng: random.Random) -> str:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    position = rng.choice(digits[1:])  # the payer got the series right, one digit wrong
    chars = list(number)
    action = rng.choice(["replace", "swap", "drop", "double"])
    if action == "replace":
        chars[position] = rng.choice([d for d in string.digits if d != chars[position]])
    elif action == "swap" and chars[position - 1].isdigit() and chars[position - 1] != chars[position]:
        chars[position - 1], chars[position] = chars[position], chars[position - 1]
    elif action == "drop":
        del chars[position]
    else:
        chars.insert(position, chars[position])
    typo = "".join(chars)
    return typo if typo != number else _typo(number, rng)


def _rf_printed(number: str) -> str:
    reference = creditor_reference(number)
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))


def _text(rng: random.Random, template: str, **values: str) -> str:
    return template.format(
        d=f"{rng.randint(1, 28):02d}.{rng.randint(1, 11):02d}.2026",
        c=str(rng.randint(40000, 49999)),
        **values,
    )


# --------------------------------------------------------------------------- lines


class _Lines:
    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.lines: list[Labelled] = []

    def add(
        self,
        kind: str,
        amount: int,
        text: str,
        label: list[OpenInvoice],
        payer: Party | None,
        **extra: str | None,
    ) -> None:
        rng = self.rng
        # A payer's own IBAN (books.counterparty_of_iban knows it when it is on file), or a new one.
        iban = payer.iban if payer is not None and extra.get("iban") != "new" else _iban(rng, "DE")
        line = bank_line(
            tenant_id="t_lab",
            transaction_id=f"btx_{len(self.lines):04d}",
            fingerprint=f"f{len(self.lines)}",
            amount=amount,
            booking_date=TODAY,
            value_date=TODAY,
            bank_reference=f"BR{rng.randrange(10**9)}",
            end_to_end_id=extra.get("e2e") or "NOTPROVIDED",
            creditor_reference=extra.get("creditor_reference"),
            remittance=text,
            counterparty_name=extra.get("name", _bank_name(rng, payer) if payer else None),
            counterparty_iban=iban,
            transaction_code="NTRF",
            created_at=datetime(2026, 12, 4, 8, 0),
            updated_at=datetime(2026, 12, 4, 8, 0),
        )
        self.lines.append(Labelled(kind, line, frozenset(i.invoice_id for i in label)))

    @property
    def issued(self) -> set[str]:
        return {normalize_invoice_number(invoice.number) for invoice in self.world.invoices}

    def party_of(self, invoice: OpenInvoice) -> Party:
        return next(p for p in self.world.parties if p.counterparty_id == invoice.counterparty_id)

    def invoice(self) -> tuple[OpenInvoice, Party]:
        invoice = self.rng.choice(self.world.invoices)
        return invoice, self.party_of(invoice)

    def one(self, kind: str, spelling: str) -> None:
        rng = self.rng
        invoice, party = self.invoice()
        while spelling in ("zeros", "spaced") and "-" not in invoice.number:  # no zeros, no groups
            invoice, party = self.invoice()
        number = {
            "exact": invoice.number,
            "spaced": _spaced(invoice.number, rng),
            "zeros": _lost_zeros(invoice.number, rng),
            "typo": _typo(invoice.number, rng),
        }[spelling]
        while spelling == "typo" and normalize_invoice_number(number) in self.issued:
            # A typo that is another open invoice's number is its own kind of line (typo_onto_another).
            number = _typo(invoice.number, rng)
        self.add(
            kind,
            invoice.outstanding,
            _text(rng, rng.choice(_ONE[party.language]), n=number),
            [invoice],
            party,
        )

    def reference(self) -> None:
        rng = self.rng
        invoice, party = self.invoice()
        if rng.random() < 0.5:
            reference = creditor_reference(invoice.number)
            self.add("rf", invoice.outstanding, "", [invoice], party, creditor_reference=reference)
        else:
            text = f"{_rf_printed(invoice.number)} {rng.choice(['', 'Danke', 'Merci'])}".strip()
            self.add("rf", invoice.outstanding, text, [invoice], party)

    def several(self) -> None:
        rng = self.rng
        party = rng.choice(
            [p for p in self.world.parties if len(self.world.by_party[p.counterparty_id]) >= 2]
        )
        own = self.world.by_party[party.counterparty_id]
        chosen = rng.sample(own, rng.randint(2, min(4, len(own))))
        joined = ", ".join(_spaced(i.number, rng) if rng.random() < 0.3 else i.number for i in chosen)
        text = _text(rng, _SEVERAL[party.language], ns=joined)
        self.add("several", sum(i.outstanding for i in chosen), text, chosen, party)

    def partial(self) -> None:
        rng = self.rng
        invoice, party = self.invoice()
        first = invoice.outstanding * rng.choice([30, 40, 50]) // 100
        for k, amount in ((1, first), (2, invoice.outstanding - first)):
            text = _text(rng, _PARTIAL[party.language], n=invoice.number, k=str(k))
            self.add("partial", amount, text, [invoice], party)

    def short(self, cause: str) -> None:
        rng = self.rng
        invoice, party = self.invoice()
        if cause == "skonto":
            paid = invoice.outstanding - (invoice.outstanding * 2 + 50) // 100  # 2 %, rounded half up
            text = _text(rng, _SKONTO[party.language], n=invoice.number)
        else:
            fee = rng.choice([150, 350, 500, 750, 1200, 1500])
            if fee * 1000 > invoice.outstanding * 15:
                return self.short(cause)
            paid = invoice.outstanding - fee
            text = _text(rng, rng.choice(_ONE[party.language]), n=invoice.number)
        self.add(cause, paid, text, [invoice], party)
        return None

    def overpaid(self) -> None:
        rng = self.rng
        invoice, party = self.invoice()
        extra = rng.choice([100, 1000, 5000, invoice.outstanding])
        use_rf = rng.random() < 0.5
        text = (
            _rf_printed(invoice.number)
            if use_rf
            else _text(rng, rng.choice(_ONE[party.language]), n=invoice.number)
        )
        self.add("overpaid", invoice.outstanding + extra, text, [invoice], party)

    def wrapped(self) -> None:
        """The bank cut the remittance into lines of 27 characters and the parser joined them with a
        space: the number may be split ("RE-2026-0 0042")."""
        rng = self.rng
        invoice, party = self.invoice()
        text = _text(rng, rng.choice(_ONE[party.language]), n=invoice.number)
        text = f"SVWZ+{text} EREF+{rng.randrange(10**9)}"
        cut = " ".join(text[i : i + 27] for i in range(0, len(text), 27))
        self.add("wrapped", invoice.outstanding, cut, [invoice], party)

    def typo_onto_another(self) -> None:
        """The payer's typo is another open invoice's number exactly (numbers are sequential)."""
        rng = self.rng
        while True:
            invoice, party = self.invoice()
            others = [
                other
                for other in self.world.invoices
                if other is not invoice
                and other.outstanding != invoice.outstanding  # else it is that invoice's payment
                and one_edit_apart(
                    normalize_invoice_number(other.number), normalize_invoice_number(invoice.number)
                )
            ]
            if others:
                break
        text = _text(rng, rng.choice(_ONE[party.language]), n=rng.choice(others).number)
        self.add("typo_onto_another", invoice.outstanding, text, [invoice], party)

    def wrong_party(self) -> None:
        """A known payer pays (and names) another counterparty's invoice: a group company paying
        for its sister, say. Right, but only a person can tell."""
        rng = self.rng
        invoice, party = self.invoice()
        payer = rng.choice([p for p in self.world.parties if p.iban_known and p != party])
        text = _text(rng, rng.choice(_ONE[payer.language]), n=invoice.number)
        self.add("wrong_party", invoice.outstanding, text, [invoice], payer)

    def payer_short(self) -> None:
        """A known payer takes 2 % skonto and writes no number."""
        rng = self.rng
        party = rng.choice([p for p in self.world.parties if p.iban_known])
        invoice = rng.choice(self.world.by_party[party.counterparty_id])
        paid = invoice.outstanding - (invoice.outstanding * 2 + 50) // 100
        self.add(
            "payer_short", paid, rng.choice(["Skonto 2%", "abzgl. Skonto", "less discount"]), [invoice], party
        )

    def by_payer(self) -> None:
        """A known payer (IBAN on file), no number in the text, the amount of one of its invoices."""
        rng = self.rng
        party = rng.choice([p for p in self.world.parties if p.iban_known])
        invoice = rng.choice(self.world.by_party[party.counterparty_id])
        self.add("payer_iban", invoice.outstanding, rng.choice(_GENERIC), [invoice], party)

    def combination(self) -> None:
        rng = self.rng
        party = rng.choice(
            [
                p
                for p in self.world.parties
                if p.iban_known and len(self.world.by_party[p.counterparty_id]) >= 3
            ]
        )
        own = self.world.by_party[party.counterparty_id]
        chosen = rng.sample(own, rng.randint(2, 3))
        self.add("combination", sum(i.outstanding for i in chosen), rng.choice(_GENERIC), chosen, party)

    def learned(self) -> None:
        rng = self.rng
        party = rng.choice([p for p in self.world.parties if p.learned_text])
        invoice = rng.choice(self.world.by_party[party.counterparty_id])
        self.add(
            "learned",
            invoice.outstanding,
            f"{party.learned_text} {rng.randint(1, 12)}/2026",
            [invoice],
            party,
        )

    def amount_only(self, with_name: bool) -> None:
        rng = self.rng
        invoice, party = self.invoice()
        name = _bank_name(rng, party) if with_name else "UNBEKANNT"
        kind = "amount_named" if with_name else "amount_only"
        self.add(kind, invoice.outstanding, rng.choice(_GENERIC), [invoice], party, name=name, iban="new")

    def ambiguous(self) -> None:
        rng = self.rng
        owing: dict[int, list[OpenInvoice]] = {}
        for invoice in self.world.invoices:
            owing.setdefault(invoice.outstanding, []).append(invoice)
        shared = [group for group in owing.values() if len({i.counterparty_id for i in group}) >= 2]
        invoice = rng.choice(rng.choice(shared))
        party = self.party_of(invoice)
        self.add("ambiguous", invoice.outstanding, rng.choice(_GENERIC), [invoice], party, iban="new")

    def learned_collision(self) -> None:
        """Another payer writes the very words a person confirmed for a customer, and pays an
        amount that customer owes: the words alone must not decide."""
        rng = self.rng
        learned = rng.choice([p for p in self.world.parties if p.learned_text])
        payer = rng.choice([p for p in self.world.parties if p != learned])
        invoice = rng.choice(self.world.by_party[learned.counterparty_id])
        text = f"{learned.learned_text} {rng.randint(1, 12)}/2026"
        self.add("learned_collision", invoice.outstanding, text, [], payer, iban="new")

    def nothing(self) -> None:
        rng = self.rng
        owed = {i.outstanding for i in self.world.invoices}
        amount = rng.randrange(1_000, 500_000)
        while amount in owed:
            amount += 1
        text = rng.choice(_NOTHING).format(k=rng.randint(0, 99))
        payer = rng.choice(self.world.parties) if rng.random() < 0.5 else None
        self.add("none", amount, text, [], payer, name=None if payer is None else "PRIVAT PERSON", iban="new")


_PLAN: list[tuple[str, int]] = [
    ("exact", 60),
    ("typo_onto_another", 10),
    ("wrapped", 20),
    ("wrong_party", 10),
    ("payer_short", 10),
    ("spaced", 30),
    ("rf", 40),
    ("zeros", 25),
    ("typo", 25),
    ("several", 30),
    ("partial", 15),  # two lines each: one invoice paid by two transfers
    ("skonto", 20),
    ("fees", 15),
    ("overpaid", 15),
    ("payer_iban", 30),
    ("combination", 20),
    ("learned", 10),
    ("amount_named", 20),
    ("amount_only", 20),
    ("ambiguous", 20),
    ("none", 35),
    ("learned_collision", 5),
]


def labelled_set(seed: int = SEED) -> tuple[MemoryBooks, list[Labelled]]:
    rng = random.Random(seed)
    world = _world(rng)
    lines = _Lines(rng, world)
    makers = {
        "exact": lambda: lines.one("exact", "exact"),
        "wrapped": lines.wrapped,
        "wrong_party": lines.wrong_party,
        "typo_onto_another": lines.typo_onto_another,
        "payer_short": lines.payer_short,
        "spaced": lambda: lines.one("spaced", "spaced"),
        "zeros": lambda: lines.one("zeros", "zeros"),
        "typo": lambda: lines.one("typo", "typo"),
        "rf": lines.reference,
        "several": lines.several,
        "partial": lines.partial,
        "skonto": lambda: lines.short("skonto"),
        "fees": lambda: lines.short("fees"),
        "overpaid": lines.overpaid,
        "payer_iban": lines.by_payer,
        "combination": lines.combination,
        "learned": lines.learned,
        "amount_named": lambda: lines.amount_only(True),
        "amount_only": lambda: lines.amount_only(False),
        "ambiguous": lines.ambiguous,
        "none": lines.nothing,
        "learned_collision": lines.learned_collision,
    }
    for kind, count in _PLAN:
        for _ in range(count):
            makers[kind]()
    order = list(range(len(lines.lines)))
    rng.shuffle(order)
    books = MemoryBooks(
        invoices=world.invoices,
        ibans={p.iban: p.counterparty_id for p in world.parties if p.iban_known},
        learned={
            remittance_key(p.learned_text) or "": p.counterparty_id for p in world.parties if p.learned_text
        },
    )
    return books, [lines.lines[i] for i in order]


# --------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    lines: int = 0
    automatic: int = 0
    suggested: int = 0
    wrong_automatic: int = 0
    held_back: int = 0  # right and >= 90, but the runner-up is within 5 points (not applied)
    missed: int = 0  # the right answer is not among the proposals
    none_left_alone: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)


def _targets(proposal: Proposal) -> frozenset[str]:
    return frozenset(t.id for t in proposal.targets)


def _applied(proposals: list[Proposal]) -> bool:
    """services.bank.matching's rule: best >= threshold, no runner-up with other targets within 5."""
    if not proposals or proposals[0].score < DEFAULT_AUTO_MATCH_THRESHOLD:
        return False
    best = proposals[0]
    return not any(p.score >= best.score - 5 and _targets(p) != _targets(best) for p in proposals[1:])


def score_set(books: MemoryBooks, lines: list[Labelled]) -> tuple[Tally, int]:
    tally = Tally()
    max_reads = 0
    for labelled in lines:
        before = books.total_calls
        proposals = propose(labelled.line, books, today=TODAY)
        max_reads = max(max_reads, books.total_calls - before)
        tally.lines += 1
        best = proposals[0] if proposals else None
        right_best = best is not None and _targets(best) == labelled.label
        if best is not None and best.score >= DEFAULT_AUTO_MATCH_THRESHOLD and not right_best:
            tally.wrong_automatic += 1
            tally.wrong.append(
                f"{labelled.kind}: {labelled.line.remittance!r} -> {best.rule} {best.score} {best.reason}"
            )
        elif right_best and _applied(proposals):
            tally.automatic += 1
            tally.by_kind[f"{labelled.kind}:auto"] += 1
        elif labelled.label and any(_targets(p) == labelled.label for p in proposals):
            tally.suggested += 1
            tally.held_back += int(best is not None and best.score >= DEFAULT_AUTO_MATCH_THRESHOLD)
            tally.by_kind[f"{labelled.kind}:suggested"] += 1
        elif labelled.label:
            tally.missed += 1
            tally.by_kind[f"{labelled.kind}:missed"] += 1
        else:
            tally.none_left_alone += 1
    return tally, max_reads


def test_the_labelled_set_is_matched_without_a_single_wrong_automatic_match() -> None:
    books, lines = labelled_set()
    assert len(lines) == 500
    assert len(books.invoices) == INVOICES

    tally, max_reads = score_set(books, lines)

    with_target = sum(1 for labelled in lines if labelled.label)
    print(
        f"\nlines {tally.lines} (with a target {with_target}); automatic {tally.automatic} "
        f"({tally.automatic / tally.lines:.1%}); suggested {tally.suggested} "
        f"({tally.suggested / tally.lines:.1%}); "
        f"missed {tally.missed}; none left alone {tally.none_left_alone}; held back {tally.held_back}; "
        f"wrong automatic {tally.wrong_automatic}; max reads per line {max_reads}"
    )
    print(sorted(tally.by_kind.items()))
    for wrong in tally.wrong:
        print("WRONG", wrong)
    assert tally.wrong_automatic == 0
    assert max_reads <= MAX_READS_PER_LINE
    assert tally.automatic / tally.lines >= 0.6
    assert (tally.automatic + tally.suggested) / with_target >= 0.95
