"""Generated bank files for the import bench (bench/bank_import.py): one account's statement of N lines
as camt.053.001.02 and as MT940, the same lines in both.

Every tenth line is a customer paying one of the statement's `targets` (its number in the remittance
text, its exact amount, the payer's IBAN); four in ten are credits nothing in the books explains
(unknown payers, amounts no invoice owes); three in ten debits (card, rent, supplier transfers with no
bill on file); two in ten credits from payers with an IBAN but no words that name an invoice. Lines are
booked over 20 days in date order; every line has its own bank reference and end-to-end id, so none is
a duplicate of another; the balances add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

ACCOUNT_IBAN = "DE89370400440532013000"
DAYS = 20


@dataclass(frozen=True)
class Target:
    """An invoice a line of the file pays: its number and amount (minor units)."""

    number: str
    amount: int


@dataclass(frozen=True)
class Line:
    amount: int  # minor units, positive
    credit: bool
    day: date
    reference: str
    end_to_end: str
    name: str
    iban: str
    remittance: str


def iban(n: int) -> str:
    """A valid German IBAN (ISO 13616 check digits) for account number `n`."""
    bban = f"37040044{n:010d}"
    check = 98 - int(bban + "131400") % 97  # "DE" is 13 14, then "00"
    return f"DE{check:02d}{bban}"


def targets(file_no: int, count: int) -> list[Target]:
    """The invoices the file's paying lines name; amounts below 1,000,000 and unique, so they never
    equal a filler invoice's (bench.bank_costs.seed_open_invoices: 1,000,000 and up)."""
    return [Target(f"BI-{file_no}-{k:06d}", 100_000 + file_no * 100_000 + k * 7) for k in range(count)]


def lines(file_no: int, count: int, first_day: date) -> list[Line]:
    paid = targets(file_no, (count + 9) // 10)
    out: list[Line] = []
    for i in range(count):
        kind = i % 10
        day = first_day + timedelta(days=i * DAYS // count)
        ref, e2e = f"R{file_no}X{i:07d}", f"E2E-{file_no}-{i}"
        if kind == 0:
            target = paid[i // 10]
            who = i % 300
            out.append(
                Line(target.amount, True, day, ref, e2e, f"Kunde {who} GmbH", iban(10_000 + who),
                     f"Rechnung {target.number} vielen Dank")
            )  # fmt: skip
        elif kind <= 4:
            out.append(
                Line(1_000 + 3 * i + kind, True, day, ref, e2e, f"Unbekannt {i}", iban(500_000 + i),
                     f"Zahlung {i} Auftrag {i * 7 % 9973}")
            )  # fmt: skip
        elif kind <= 7:
            name, text = [("Kartenzahlung", "POS 4711"), ("Vermieter KG", "Miete Lager"),
                          ("Lieferant AG", "Bestellung")][kind - 5]  # fmt: skip
            out.append(Line(2_000 + 5 * i, False, day, ref, e2e, name, iban(900_000 + kind), f"{text} {i}"))
        else:
            who = i % 300
            out.append(
                Line(3_000 + 11 * i, True, day, ref, e2e, f"Kunde {who} GmbH", iban(10_000 + who),
                     f"Gutschrift {i}")
            )  # fmt: skip
    return out


def _decimal(minor: int, sep: str = ".") -> str:
    return f"{minor // 100}{sep}{minor % 100:02d}"


def camt053(file_no: int, count: int, first_day: date) -> bytes:
    """A camt.053.001.02 statement of `count` entries with transaction details."""
    entries = lines(file_no, count, first_day)
    closing = sum(e.amount if e.credit else -e.amount for e in entries)
    last = first_day + timedelta(days=DAYS - 1)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>BENCH-{file_no}</MsgId><CreDtTm>{last}T20:00:00Z</CreDtTm></GrpHdr>"
        f"<Stmt><Id>BENCH-STMT-{file_no}</Id><ElctrncSeqNb>{file_no}</ElctrncSeqNb>"
        f"<CreDtTm>{last}T20:00:00Z</CreDtTm>"
        f"<FrToDt><FrDtTm>{first_day}T00:00:00Z</FrDtTm><ToDtTm>{last}T23:59:59Z</ToDtTm></FrToDt>"
        f"<Acct><Id><IBAN>{ACCOUNT_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>",
        _camt_balance("OPBD", 0, first_day),
        _camt_balance("CLBD", closing, last),
    ]
    parts += [_camt_entry(e) for e in entries]
    parts.append("</Stmt></BkToCstmrStmt></Document>")
    return "".join(parts).encode()


def _camt_balance(code: str, amount: int, day: date) -> str:
    sign = "CRDT" if amount >= 0 else "DBIT"
    return (
        f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{_decimal(abs(amount))}</Amt>'
        f"<CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
    )


def _camt_entry(e: Line) -> str:
    party, account = ("Dbtr", "DbtrAcct") if e.credit else ("Cdtr", "CdtrAcct")
    family = "RCDT" if e.credit else "ICDT"
    return (
        f'<Ntry><Amt Ccy="EUR">{_decimal(e.amount)}</Amt><CdtDbtInd>{"CRDT" if e.credit else "DBIT"}'
        f"</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{e.day}</Dt></BookgDt><ValDt><Dt>{e.day}</Dt></ValDt>"
        f"<AcctSvcrRef>{e.reference}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd>"
        "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls>"
        f"<Refs><EndToEndId>{e.end_to_end}</EndToEndId></Refs>"
        f"<RltdPties><{party}><Nm>{e.name}</Nm></{party}><{account}><Id><IBAN>{e.iban}</IBAN></Id>"
        f"</{account}></RltdPties><RmtInf><Ustrd>{e.remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def mt940(file_no: int, count: int, first_day: date) -> bytes:
    """The same lines as one MT940 message with German structured `:86:` fields."""
    entries = lines(file_no, count, first_day)
    closing = sum(e.amount if e.credit else -e.amount for e in entries)
    last = first_day + timedelta(days=DAYS - 1)
    out = [
        f":20:BENCH-STMT-{file_no}",
        f":25:{ACCOUNT_IBAN}",
        f":28C:{file_no}/1",
        f":60F:C{first_day:%y%m%d}EUR0,00",
    ]
    for e in entries:
        mark = "C" if e.credit else "D"
        gvc = "166" if e.credit else "177"
        out.append(f":61:{e.day:%y%m%d%m%d}{mark}{_decimal(e.amount, ',')}NTRF{e.end_to_end}//{e.reference}")
        out.append(
            f":86:{gvc}?00{'GUTSCHRIFT' if e.credit else 'UEBERWEISUNG'}?20EREF+{e.end_to_end}"
            f"?21SVWZ+{e.remittance[:22]}?22{e.remittance[22:]}?30COBADEFFXXX?31{e.iban}?32{e.name[:27]}"
        )
    sign = "C" if closing >= 0 else "D"
    out += [f":62F:{sign}{last:%y%m%d}EUR{_decimal(abs(closing), ',')}", "-"]
    return ("\r\n".join(out) + "\r\n").encode()
