"""The demo tenant's bank: its operating EUR account and one camt.053 statement made from the demo's
own open invoices and bills, imported through the API's import (`services.bank.imports.import_file`),
so the dashboard's reconciliation panel shows every part of it.

The statement's lines, what matching makes of each (docs/api.md "Matching"):
- RE-2026-1011 paid in full with its RF creditor reference: matched automatically (99);
- RE-2026-1017 paid in full, its number in the remittance text: matched automatically (97);
- RE-2026-1027 paid with its RF reference less a 2 % skonto: matched (92), underpaid flagged as an
  early-payment discount;
- a part of RE-2026-1001 with its number in the text: suggested (80), waiting for a person;
- a transfer from a payer nobody knows: unmatched;
- the bank's account fees (a debit): suggested as bank fees (60);
- the supplier bill SW-88790 paid from the account: matched to the bill (97).

Idempotent for a tenant: the account is looked up by its IBAN before it is created, and the same
statement again is the import's 409, which is what a second run expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape

from cashline.domain.bank.reconciliation import BankAccount
from cashline.domain.invoices import Invoice
from cashline.domain.references import creditor_reference
from cashline.errors import ConflictError
from cashline.services.bank import accounts
from cashline.services.bank.imports import import_file

ACCOUNT_IBAN = "DE41500105170123456789"
ACCOUNT_BIC = "INGDDEFFXXX"
OPENING_BALANCE = 4_250_000  # EUR 42,500.00
ACTOR = "system:demo-seed"


@dataclass(frozen=True, slots=True)
class Entry:
    """One camt.053 entry: a credit (a payer paid us) or a debit (we paid someone, or the bank)."""

    amount: int
    credit: bool
    days_ago: int
    party: str | None = None
    party_iban: str | None = None
    remittance: str = ""
    reference: str | None = None  # a structured creditor reference (RF)
    code: str = "PMNT/RCDT/ESCT"  # camt Domn/Fmly/SubFmly


@dataclass(frozen=True, slots=True)
class DemoBank:
    bank_account_id: str
    statement_id: str | None  # None when the statement had been imported before (the 409)


def seed_bank(
    tenant_id: str, invoices: dict[str, Invoice], parties: dict[str, str | None], now: datetime
) -> DemoBank:
    """The operating account and the statement for the demo tenant; `invoices` by number as they are
    now, `parties` the IBAN of each counterparty by name (None where it has none)."""
    account = _operating_account(tenant_id, now)
    body = camt053(entries(invoices, parties), now.date())
    try:
        result = import_file(tenant_id, body, bank_account_id=account.bank_account_id, actor=ACTOR, now=now)
    except ConflictError:  # the same statement again: a second run of the seed for this tenant
        return DemoBank(account.bank_account_id, None)
    return DemoBank(account.bank_account_id, result.statements[0].statement_id)


def _operating_account(tenant_id: str, now: datetime) -> BankAccount:
    fields = {
        "name": "Sparkasse operating EUR",
        "currency": "EUR",
        "iban": ACCOUNT_IBAN,
        "bic": ACCOUNT_BIC,
        "operating": True,
    }
    try:
        return accounts.create_account(tenant_id, fields, now=now)
    except ConflictError as taken:  # a second run: the IBAN names the account made the first time
        return accounts.get_account(tenant_id, str(taken.details["existing_id"]))


def entries(invoices: dict[str, Invoice], parties: dict[str, str | None]) -> list[Entry]:
    """The statement's lines, from the open invoices and bills named in the module docstring."""

    def owed(number: str) -> int:
        return invoices[number].amount_outstanding

    def payer(number: str) -> tuple[str, str | None]:
        name = invoices[number].counterparty_name
        return name, parties.get(name)

    lumiere, lumiere_iban = payer("RE-2026-1011")
    baeckerei, baeckerei_iban = payer("RE-2026-1017")
    supplier, supplier_iban = payer("SW-88790")
    skonto = owed("RE-2026-1027") * 2 // 100
    partial = owed("RE-2026-1001") // 2
    return [
        Entry(owed("RE-2026-1011"), True, 4, lumiere, lumiere_iban, reference=_rf("RE-2026-1011")),
        Entry(owed("RE-2026-1017"), True, 3, baeckerei, baeckerei_iban, "Rechnung RE-2026-1017 danke"),
        Entry(
            owed("RE-2026-1027") - skonto,
            True,
            2,
            lumiere,
            lumiere_iban,
            "Paiement sous deduction escompte 2%",
            _rf("RE-2026-1027"),
        ),
        Entry(partial, True, 2, baeckerei, baeckerei_iban, "Teilzahlung RE-2026-1001 Rest folgt"),
        Entry(48_000, True, 1, "M. Unbekannt", "DE21500105170532013001", "Ueberweisung Auftrag 7781"),
        Entry(2_390, False, 1, None, None, "Kontofuehrung Entgelt Abschluss", code="ACMT/MDOP/CHRG"),
        Entry(owed("SW-88790"), False, 1, supplier, supplier_iban, "SW-88790", code="PMNT/ICDT/ESCT"),
    ]


def _rf(number: str) -> str:
    return creditor_reference(number)


def _day(today: date, days_ago: int) -> date:
    # Inside this month, so the panel's month figures count every line whatever day today is.
    return max(today - timedelta(days=days_ago), today.replace(day=1))


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _entry_xml(today: date, number: int, entry: Entry) -> str:
    day = _day(today, entry.days_ago).isoformat()
    role = "Dbtr" if entry.credit else "Cdtr"
    party = ""
    if entry.party is not None:
        account = (
            f"<{role}Acct><Id><IBAN>{entry.party_iban}</IBAN></Id></{role}Acct>" if entry.party_iban else ""
        )
        party = f"<RltdPties><{role}><Nm>{escape(entry.party)}</Nm></{role}>{account}</RltdPties>"
    remittance = f"<Ustrd>{escape(entry.remittance)}</Ustrd>" if entry.remittance else ""
    if entry.reference:
        remittance += (
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
            f"<Ref>{entry.reference}</Ref></CdtrRefInf></Strd>"
        )
    domain, family, sub = entry.code.split("/")
    return f"""
    <Ntry>
      <Amt Ccy="EUR">{_money(entry.amount)}</Amt><CdtDbtInd>{"CRDT" if entry.credit else "DBIT"}</CdtDbtInd>
      <Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>
      <AcctSvcrRef>DEMO-{today:%Y%m%d}-{number:03d}</AcctSvcrRef>
      <BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>
      <NtryDtls><TxDtls>
        <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
        {party}
        <RmtInf>{remittance}</RmtInf>
      </TxDtls></NtryDtls>
    </Ntry>"""


def camt053(lines: list[Entry], today: date) -> bytes:
    """A camt.053.001.02 end-of-day statement of the operating account for `today`, balanced."""
    first = min(_day(today, entry.days_ago) for entry in lines)
    closing = OPENING_BALANCE + sum(entry.amount if entry.credit else -entry.amount for entry in lines)
    body = "".join(_entry_xml(today, n, entry) for n, entry in enumerate(lines, start=1))

    def balance(code: str, cents: int, day: date) -> str:
        sign = "CRDT" if cents >= 0 else "DBIT"
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{_money(abs(cents))}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
            f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>"
        )

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>DEMO-{today:%Y%m%d}</MsgId><CreDtTm>{today.isoformat()}T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>DEMO-STMT-{today:%Y%m%d}</Id><ElctrncSeqNb>{today:%j}</ElctrncSeqNb>
      <CreDtTm>{today.isoformat()}T18:00:00</CreDtTm>
      <FrToDt><FrDtTm>{first.isoformat()}T00:00:00</FrDtTm><ToDtTm>{today.isoformat()}T23:59:59</ToDtTm></FrToDt>
      <Acct><Id><IBAN>{ACCOUNT_IBAN}</IBAN></Id><Ccy>EUR</Ccy>
        <Svcr><FinInstnId><BIC>{ACCOUNT_BIC}</BIC></FinInstnId></Svcr></Acct>
      {balance("OPBD", OPENING_BALANCE, first)}
      {balance("CLBD", closing, today)}
      {body}
    </Stmt>
  </BkToCstmrStmt>
</Document>""".encode()
