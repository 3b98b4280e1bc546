"""ISO 20022 camt.052/053/054 parsing: the real corpus (read in place from `../shared/corpus/bank/camt`,
checked against an independent parse), hand-written messages of every version and kind, and the
files that must be refused with the XPath of the problem."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from cashline.domain.bank.camt import parse_camt
from cashline.domain.bank.model import BankFileError, Direction, EntryStatus, ReportKind
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES
from cashline.domain.money import currency_exponent

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bank" / "camt"
SAMPLES = sorted(p for p in CORPUS.glob("*.xml") if p.is_file())

_MESSAGE = {
    "052": ("BkToCstmrAcctRpt", "Rpt"),
    "053": ("BkToCstmrStmt", "Stmt"),
    "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}


# --- builders ----------------------------------------------------------------------------------


def entry(
    amount: str = "100.00",
    indicator: str = "CRDT",
    *,
    ccy: str = "EUR",
    status: str = "<Sts>BOOK</Sts>",
    dates: str = "<BookgDt><Dt>2026-12-01</Dt></BookgDt><ValDt><Dt>2026-12-02</Dt></ValDt>",
    extra: str = "",
    details: str = "",
) -> str:
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{extra}{status}{dates}'
        "<AcctSvcrRef>BANKREF-1</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"{details}</Ntry>"
    )


def balance(code: str, amount: str, indicator: str = "CRDT", ccy: str = "EUR") -> str:
    return (
        f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{amount}</Amt>'
        f"<CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>"
    )


def report(
    *entries: str,
    balances: str = "",
    account: str = "<Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy>",
    header: str = "<Id>STMT-1</Id><ElctrncSeqNb>42</ElctrncSeqNb><CreDtTm>2026-12-02T06:00:00Z</CreDtTm>"
    "<FrToDt><FrDtTm>2026-12-01T00:00:00+01:00</FrDtTm><ToDtTm>2026-12-01T23:59:59+01:00</ToDtTm></FrToDt>",
) -> str:
    return f"{header}<Acct>{account}</Acct>{balances}{''.join(entries)}"


def camt(*reports: str, message: str = "053", version: str = "02", namespace: str | None = None) -> bytes:
    outer, inner = _MESSAGE[message]
    ns = (
        namespace if namespace is not None else f"urn:iso:std:iso:20022:tech:xsd:camt.{message}.001.{version}"
    )
    body = "".join(f"<{inner}>{r}</{inner}>" for r in reports)
    xmlns = f' xmlns="{ns}"' if ns else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document{xmlns}><{outer}><GrpHdr><MsgId>M1</MsgId>'
        f"<CreDtTm>2026-12-02T06:00:00Z</CreDtTm></GrpHdr>{body}</{outer}></Document>"
    ).encode()


def tx(
    *,
    refs: str = "<EndToEndId>E2E-1</EndToEndId><MndtId>MANDATE-7</MndtId>",
    parties: str = "",
    agents: str = "",
    remittance: str = "",
) -> str:
    return f"<TxDtls><Refs>{refs}</Refs><RltdPties>{parties}</RltdPties>{agents}{remittance}</TxDtls>"


def details(*transactions: str, batch: str = "") -> str:
    return f"<NtryDtls>{batch}{''.join(transactions)}</NtryDtls>"


# --- the corpus --------------------------------------------------------------------------------


def independent_totals(data: bytes) -> tuple[int, int, int]:
    """(entries, credits, debits) in minor units, by plain ElementTree and Decimal, no parser code."""
    root = ET.fromstring(data)
    count, sums = 0, Counter[str]()
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "Ntry":
            continue
        count += 1
        amount = next(c for c in element if c.tag.endswith("}Amt") or c.tag == "Amt")
        indicator = next(c for c in element if c.tag.endswith("CdtDbtInd")).text
        value = Decimal(amount.text or "").scaleb(currency_exponent(amount.get("Ccy") or ""))
        assert value == value.to_integral_value(), "the corpus has no sub-minor-unit amounts"
        sums[indicator or ""] += int(value)
    return count, sums["CRDT"], sums["DBIT"]


def test_corpus_is_present_so_the_parametrized_tests_are_not_silently_empty() -> None:
    assert CORPUS.is_dir(), f"camt corpus missing at {CORPUS}"
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_corpus_file_parses_with_the_counts_and_totals_of_an_independent_parse(path: Path) -> None:
    data = path.read_bytes()
    statements = parse_camt(data)
    assert statements
    lines = [line for statement in statements for line in statement.lines]
    assert (
        len(lines),
        sum(s.credits_total for s in statements),
        sum(s.debits_total for s in statements),
    ) == (independent_totals(data))
    for statement in statements:
        assert statement.account_iban or statement.account_other
        assert statement.format.startswith(("camt.052.", "camt.053.", "camt.054."))
        assert all(line.raw_location.startswith("/Document/BkToCstmr") for line in statement.lines)


def test_corpus_balances_add_up_where_the_file_states_them_in_the_account_currency() -> None:
    first, second = parse_camt((CORPUS / "camt053.v2.multi.statement.xml").read_bytes())
    assert (first.opening_balance, first.credits_total, first.closing_balance, first.balanced) == (
        1815,
        885,
        2700,
        True,
    )
    assert (second.opening_balance, second.debits_total, second.closing_balance, second.balanced) == (
        2700,
        700,
        2000,
        True,
    )
    # No FrToDt in the second statement: the period is its entries' booking day.
    assert (second.from_date, second.to_date) == (first.lines[0].booking_date, second.lines[0].booking_date)
    # These test files close an EUR account at "27.00 SEK" (DBIT): not a balance in EUR cents, so unknown.
    for name in ("camt053.v2.minimal.xml", "camt053.v4.xml", "camt053.v8.xml"):
        (statement,) = parse_camt((CORPUS / name).read_bytes())
        assert (statement.opening_balance, statement.closing_balance, statement.balanced) == (
            1815,
            None,
            None,
        )


def test_corpus_v8_status_code_datetime_booking_and_iban_in_other_id() -> None:
    (statement,) = parse_camt((CORPUS / "camt053.v8.xml").read_bytes())
    (line,) = statement.lines
    assert statement.format == "camt.053.001.08"
    assert (statement.account_iban, statement.account_other, statement.account_name) == (
        "NL26VAYB8060476890",
        None,
        "FINPETROL",
    )
    assert (line.status, str(line.booking_date), line.end_to_end_id) == (
        EntryStatus.BOOKED,
        "2014-12-31",
        "MUELL/FINP/RA12345",
    )
    assert (line.counterparty_name, line.counterparty_iban, line.transaction_code) == (
        "NAME NAME",
        "NL56AGDH9619008421",
        "PMNT/RCDT/BOOK",
    )


def test_corpus_camt054_notification_without_balances_or_dates() -> None:
    (statement,) = parse_camt((CORPUS / "camt054.v2.with-account-name.xml").read_bytes())
    assert (statement.kind, statement.currency, statement.account_name) == (
        ReportKind.NOTIFICATION,
        "SEK",
        "Account Owner Name",
    )
    assert (statement.opening_balance, statement.balanced, statement.debits_total) == (None, None, 20_000_000)
    assert statement.lines[0].booking_date is None


# --- versions and kinds ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["02", "03", "04", "05", "06", "07", "08", "10"])
def test_every_camt053_version_namespace_is_read_and_named(version: str) -> None:
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version >= "08" else "<Sts>BOOK</Sts>"
    data = camt(
        report(entry(status=status), balances=balance("OPBD", "10.00") + balance("CLBD", "110.00")),
        version=version,
    )
    (statement,) = parse_camt(data)
    assert statement.format == f"camt.053.001.{version}"
    assert (statement.kind, statement.sequence, statement.statement_id) == (
        ReportKind.STATEMENT,
        "42",
        "STMT-1",
    )
    assert (statement.from_date, statement.to_date) == (statement.lines[0].booking_date,) * 2
    assert (statement.opening_balance, statement.closing_balance, statement.balanced) == (1000, 11000, True)


def test_camt052_intraday_report_with_a_pending_line_and_an_interim_balance() -> None:
    data = camt(
        report(
            entry("50.00"),
            entry("20.00", status="<Sts>PDNG</Sts>"),
            balances=balance("PRCD", "0.00") + balance("ITBD", "50.00"),
        ),
        message="052",
        version="08",
    )
    (statement,) = parse_camt(data)
    assert (statement.format, statement.kind) == ("camt.052.001.08", ReportKind.INTRADAY)
    assert [line.status for line in statement.lines] == [EntryStatus.BOOKED, EntryStatus.PENDING]
    assert (statement.credits_total, statement.balanced) == (7000, True)  # the pending line moves no balance


def test_camt054_notification_kind() -> None:
    (statement,) = parse_camt(camt(report(entry("5.00", "DBIT")), message="054", version="04"))
    assert (statement.format, statement.kind, statement.debits_total) == (
        "camt.054.001.04",
        ReportKind.NOTIFICATION,
        500,
    )


@pytest.mark.parametrize("status", ["<Sts>PDNG</Sts>", "<Sts>INFO</Sts>", "<Sts><Cd>PDNG</Cd></Sts>"])
def test_pending_and_information_entries_are_pending(status: str) -> None:
    (statement,) = parse_camt(camt(report(entry(status=status))))
    assert statement.lines[0].status is EntryStatus.PENDING


def test_a_reversal_keeps_the_direction_it_is_booked_in() -> None:
    (statement,) = parse_camt(camt(report(entry("30.00", "DBIT", extra="<RvslInd>true</RvslInd>"))))
    (line,) = statement.lines
    assert (line.reversal, line.direction, line.amount) == (True, Direction.DEBIT, 3000)


def test_a_batch_booking_is_one_line_with_its_count_and_no_single_payer() -> None:
    batch = details(
        tx(refs="<EndToEndId>A</EndToEndId>"),
        tx(refs="<EndToEndId>B</EndToEndId>"),
        tx(refs="<EndToEndId>C</EndToEndId>"),
        batch="<Btch><NbOfTxs>3</NbOfTxs></Btch>",
    )
    (statement,) = parse_camt(
        camt(report(entry("300.00", details=batch, extra="<AddtlNtryInf>SAMMEL-LS</AddtlNtryInf>")))
    )
    (line,) = statement.lines
    assert (line.batch_count, line.end_to_end_id, line.remittance) == (3, None, "SAMMEL-LS")


def test_a_credit_with_rf_reference_debtor_party_wrapper_and_agent_bic() -> None:
    transaction = tx(
        parties="<Dbtr><Pty><Nm>Kunde AG</Nm></Pty></Dbtr>"
        "<DbtrAcct><Id><IBAN>FR76 3000 6000 0112 3456 7890 189</IBAN></Id></DbtrAcct>"
        "<Cdtr><Pty><Nm>Us GmbH</Nm></Pty></Cdtr>",
        agents="<RltdAgts><DbtrAgt><FinInstnId><BICFI>AGRIFRPP</BICFI></FinInstnId></DbtrAgt></RltdAgts>",
        remittance="<RmtInf><Ustrd>Invoice INV-0042</Ustrd><Ustrd>and INV-43</Ustrd>"
        "<Strd><CdtrRefInf><Tp><CdOrPrtry>"
        "<Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>",
    )
    (statement,) = parse_camt(camt(report(entry(details=details(transaction))), version="08"))
    (line,) = statement.lines
    assert (line.creditor_reference, line.remittance) == ("RF18539007547034", "Invoice INV-0042 and INV-43")
    assert (line.counterparty_name, line.counterparty_iban, line.counterparty_bic) == (
        "Kunde AG",
        "FR7630006000011234567890189",
        "AGRIFRPP",
    )
    assert (line.end_to_end_id, line.mandate_id, line.bank_reference, line.transaction_code) == (
        "E2E-1",
        "MANDATE-7",
        "BANKREF-1",
        "PMNT/RCDT/ESCT",
    )
    assert line.raw_location == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]"


def test_a_debit_names_the_creditor_with_another_account_id_and_drops_notprovided() -> None:
    transaction = tx(
        refs="<EndToEndId>NOTPROVIDED</EndToEndId>",
        parties="<Dbtr><Nm>Us GmbH</Nm></Dbtr><Cdtr><Nm>Supplier Ltd</Nm></Cdtr>"
        "<CdtrAcct><Id><Othr><Id>12345678</Id></Othr></Id></CdtrAcct>",
    )
    (statement,) = parse_camt(camt(report(entry("9.99", "DBIT", details=details(transaction)))))
    (line,) = statement.lines
    assert (
        line.counterparty_name,
        line.counterparty_iban,
        line.counterparty_account,
        line.end_to_end_id,
    ) == (
        "Supplier Ltd",
        None,
        "12345678",
        None,
    )


def test_missing_balances_and_dates_are_accepted() -> None:
    header = "<Id>S</Id><CreDtTm>2026-12-03T09:00:00+01:00</CreDtTm>"
    (statement,) = parse_camt(camt(report(entry(dates=""), header=header)))
    assert (statement.opening_balance, statement.closing_balance, statement.balanced) == (None, None, None)
    assert statement.lines[0].booking_date is None and statement.lines[0].value_date is None
    assert str(statement.from_date) == str(statement.to_date) == "2026-12-03"  # the creation day


def test_several_statements_and_several_accounts_in_one_file() -> None:
    chf = "<Id><IBAN>CH9300762011623852957</IBAN></Id><Ccy>CHF</Ccy>"
    data = camt(
        report(entry("1.00")),
        report(entry("2.00")),
        report(entry("3.00", ccy="CHF"), account=chf),
    )
    statements = parse_camt(data)
    assert [(s.account_iban, s.currency, s.credits_total) for s in statements] == [
        ("DE89370400440532013000", "EUR", 100),
        ("DE89370400440532013000", "EUR", 200),
        ("CH9300762011623852957", "CHF", 300),
    ]
    assert statements[2].lines[0].raw_location == "/Document/BkToCstmrStmt/Stmt[3]/Ntry[1]"


def test_an_account_identified_otherwise_and_a_file_without_namespace() -> None:
    account = (
        "<Id><Othr><Id>0532013000</Id></Othr></Id><Ccy>EUR</Ccy>"
        "<Svcr><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></Svcr>"
    )
    (statement,) = parse_camt(camt(report(entry(), account=account), namespace=""))
    assert (statement.format, statement.account_iban, statement.account_other, statement.account_bic) == (
        "camt.053",
        None,
        "0532013000",
        "COBADEFFXXX",
    )


def test_a_message_inside_a_bank_envelope_is_found_and_located() -> None:
    inner = camt(report(entry())).split(b"?>", 1)[1]
    (statement,) = parse_camt(b"<Envelope><Header/><Body>" + inner + b"</Body></Envelope>")
    assert statement.lines[0].raw_location == "/Envelope/Body/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]"


@pytest.mark.parametrize(
    ("written", "currency", "minor"),
    [
        ("8.8500", "EUR", 885),
        ("12.345", "EUR", 1234),
        ("12.355", "EUR", 1236),
        ("12.34501", "EUR", 1235),
        ("5.5", "JPY", 6),
        ("1.2345", "BHD", 1234),
    ],
)
def test_extra_decimals_round_half_even_to_the_minor_unit(written: str, currency: str, minor: int) -> None:
    account = f"<Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>{currency}</Ccy>"
    (statement,) = parse_camt(camt(report(entry(written, ccy=currency), account=account)))
    assert statement.lines[0].amount == minor


# --- refused -----------------------------------------------------------------------------------


def refused(data: bytes) -> BankFileError:
    with pytest.raises(BankFileError) as caught:
        parse_camt(data)
    return caught.value


def test_a_dtd_or_entity_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<Document>&b;</Document>"
    )
    assert "DTD" in str(refused(bomb))
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document>&x;</Document>'
    )
    assert "DTD" in str(refused(xxe))


def test_an_oversize_file_is_refused_before_parsing() -> None:
    data = camt(report(entry()))
    oversize = data + b" " * (MAX_DECOMPRESSED_BYTES - len(data) + 1)
    assert "MB" in str(refused(oversize))


@pytest.mark.parametrize(
    "garbage", [b"", b"hello, bank", b"\x00\xff\xfe<Document", b"<Document><BkToCstmrStmt>"]
)
def test_garbage_is_refused_as_not_well_formed(garbage: bytes) -> None:
    assert "not well-formed" in str(refused(garbage))


def test_xml_that_is_not_camt_is_refused_naming_the_root() -> None:
    error = refused(
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>'
    )
    assert error.where == "/Document" and "camt" in str(error)


def test_a_foreign_or_mismatched_namespace_is_refused() -> None:
    assert "namespace" in str(refused(camt(report(entry()), namespace="urn:example:camt")))
    mismatched = camt(report(entry()), namespace="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02")
    assert refused(mismatched).where == "/Document/BkToCstmrStmt"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (camt(report(entry(), account="")), "/Document/BkToCstmrStmt/Stmt[1]/Acct/Id"),
        (camt("<Id>S</Id>" + entry()), "/Document/BkToCstmrStmt/Stmt[1]/Acct"),
        (camt(report(entry("12,50"))), "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt"),
        (camt(report(entry("-1.00"))), "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt"),
        (camt(report(entry(), entry(ccy="EUX"))), "/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt/@Ccy"),
        (camt(report(entry("1.00", "CR"))), "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/CdtDbtInd"),
        (
            camt(report(entry(dates="<BookgDt><Dt>31.12.2026</Dt></BookgDt>"))),
            "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/BookgDt",
        ),
        (
            camt(report(entry(extra="<RvslInd>maybe</RvslInd>"))),
            "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/RvslInd",
        ),
        (camt(report(entry(), balances=balance("CLBD", "x"))), "/Document/BkToCstmrStmt/Stmt[1]/Bal[1]/Amt"),
        (camt(), "/Document/BkToCstmrStmt"),
    ],
    ids=[
        "no-account-id",
        "no-account",
        "comma-amount",
        "negative",
        "unknown-currency",
        "indicator",
        "date",
        "reversal",
        "balance",
        "empty",
    ],
)
def test_what_cannot_be_understood_is_refused_naming_the_xpath(data: bytes, where: str) -> None:
    assert refused(data).where == where
