"""Bank file format detection from the first bytes: every corpus file, and the look-alikes refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cashline.domain.bank.detect import SNIFF_BYTES, detect_format
from cashline.domain.bank.model import BankFileError

BANK = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bank"
CAMT = sorted((BANK / "camt").glob("*.xml"))
MT940 = sorted((BANK / "mt940").glob("*.sta"))

CAMT_053 = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!-- exported -->\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt/></Document>'
)


def test_corpus_is_present() -> None:
    assert len(CAMT) >= 5 and len(MT940) >= 8


@pytest.mark.parametrize("path", CAMT, ids=lambda p: p.name)
def test_every_camt_corpus_file_is_camt(path: Path) -> None:
    assert detect_format(path.read_bytes()) == "camt"


@pytest.mark.parametrize("path", MT940, ids=lambda p: p.name)
def test_every_mt940_corpus_file_is_mt940(path: Path) -> None:
    assert detect_format(path.read_bytes()) == "mt940"


@pytest.mark.parametrize(
    "data",
    [
        CAMT_053.encode(),
        CAMT_053.encode("utf-16"),
        b"\xef\xbb\xbf" + CAMT_053.encode(),
        b'<c:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">'
        b"<c:BkToCstmrAcctRpt/></c:Document>",
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.054.001.04'/>",
    ],
    ids=["053-v8", "utf-16", "bom", "prefixed-052", "054-single-quotes"],
)
def test_camt_by_the_root_elements_namespace(data: bytes) -> None:
    assert detect_format(data) == "camt"


def test_only_the_first_kilobytes_are_read() -> None:
    # The root's namespace is in the sniffed window; what follows is never looked at.
    assert detect_format(CAMT_053.encode() + b"\xff" * (SNIFF_BYTES * 4)) == "camt"


def test_mt942_by_its_fields_and_mt940_when_balances_are_there() -> None:
    mt942 = b":20:I1\n:25:DE89370400440532013000\n:28C:1/1\n:34F:EURC0,00\n:13D:2612061015+0100\n"
    assert detect_format(mt942) == "mt942"
    assert detect_format(b"{1:F01ABNANL2AXXX}{4:\r\n" + mt942.replace(b"\n", b"\r\n")) == "mt942"
    assert detect_format(b":20:S1\n:25:X\n:60F:C261201EUR0,00\n:62F:C261201EUR0,00\n") == "mt940"
    assert detect_format(b":20:S1:25:X:60F:C261201EUR0,00:62F:C261201EUR0,00") == "mt940"  # no line breaks


@pytest.mark.parametrize(
    "data",
    [
        b"Buchungstag;Valuta;Betrag;Verwendungszweck\n01.12.2026;01.12.2026;119,00;RE 2026-0042\n"
        b"02.12.2026;02.12.2026;-5,00;Gebuehr\n",
        b"Konto: DE89370400440532013000\nZeitraum: 01.12.2026 - 31.12.2026\n\n"
        b"Datum;Betrag;Text\n01.12.2026;1,00;a\n02.12.2026;2,00;b\n03.12.2026;3,00;c\n",
        b'date,amount,description\n2026-12-01,119.00,"Invoice 42, thanks"\n2026-12-02,-5.00,fee\n',
        b"date\tamount\tdescription\n2026-12-01\t119.00\tInvoice 42\n",
    ],
    ids=["semicolon", "with-preamble", "comma-quoted", "tab"],
)
def test_delimited_text_is_csv(data: bytes) -> None:
    assert detect_format(data) == "csv"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>',
        b'<Wrapper><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/></Wrapper>',
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        gzip.compress(b":20:S1\n:25:X\n:60F:C261201EUR0,00\n"),
        b"Dear customer, your statement is attached.\nKind regards\n",
        b"",
    ],
    ids=["pain-001", "camt-not-root", "pdf", "gzip", "prose", "empty"],
)
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(BankFileError, match="not a bank statement format Cashline reads"):
        detect_format(data)
