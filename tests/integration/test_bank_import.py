"""Bank statement import over the API, against DynamoDB Local: every corpus file with the parser's
figures, the same statement twice refused, a line seen in an intraday report stored once, two imports
of one file racing, a crashed import resumed, accounts found or created from the file, CSV with the
account's saved mapping, and every malformed file refused naming the problem."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.dynamodb_meter import metered
from cashline.dal.bank_repository import TransactionFilter, bank
from cashline.domain.bank.camt import parse_camt
from cashline.domain.bank.model import BankStatement, EntryStatus
from cashline.domain.bank.mt940 import parse_mt940
from cashline.domain.byte_budget import MAX_DECOMPRESSED_BYTES
from cashline.errors import ConflictError
from cashline.services.bank import import_writes, imports
from tests.unit.test_bank_camt import balance, camt, entry, report
from tests.utils import Api, TestTenant, error_of

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bank"
SAMPLES = sorted(p for p in CORPUS.rglob("*") if p.suffix in {".xml", ".sta"})
IBAN = "DE89370400440532013000"
XML = {"Content-Type": "application/xml"}
BYTES = {"Content-Type": "application/octet-stream"}


def _import(api: Api, tenant: TestTenant, body: bytes, query: str = "", **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", XML if body.lstrip().startswith(b"<") else BYTES)
    return api.post(
        f"/v1/bank-statements{query}", key=tenant.finance, raw_body=body, headers=headers, **kwargs
    )


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.body
    body: dict[str, Any] = response.json()
    return body


def _lines(tenant: TestTenant, bank_account_id: str) -> list[Any]:
    page = bank.list_transactions(
        tenant.tenant_id, TransactionFilter(bank_account_id=bank_account_id), limit=100, starting_after=None
    )
    return list(page.items)


def _parsed(path: Path, currency: str | None = None) -> list[BankStatement]:
    data = path.read_bytes()
    return parse_camt(data) if path.suffix == ".xml" else parse_mt940(data, currency=currency)


def _figures(s: BankStatement) -> dict[str, Any]:
    return {
        "format": s.format,
        "kind": s.kind.value,
        "from_date": s.from_date.isoformat() if s.from_date else None,
        "to_date": s.to_date.isoformat() if s.to_date else None,
        "opening_balance": s.opening_balance,
        "closing_balance": s.closing_balance,
        "transaction_count": sum(1 for line in s.lines if line.status is EntryStatus.BOOKED),
        "credits_total": s.credits_total,
        "debits_total": s.debits_total,
        "balanced": s.balanced,
    }


# --- the corpus ---------------------------------------------------------------------------------


def test_corpus_is_present_so_the_parametrized_test_is_not_silently_empty() -> None:
    assert len(SAMPLES) >= 13, f"bank corpus missing at {CORPUS}"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_corpus_file_imports_with_the_parsers_figures_and_once_only(
    api: Api, tenant: TestTenant, path: Path
) -> None:
    data = path.read_bytes()
    query = ""
    expected = _parsed(path)
    if any(s.account_iban is None and s.account_other is None for s in expected):
        # A bare MT940 naming neither account nor currency: refused without an account, read with one.
        refused = _import(api, tenant, data)
        assert refused.status_code == 422 and error_of(refused)["field"] == "bank_account_id"
        account = api.post(
            "/v1/bank-accounts",
            key=tenant.finance,
            json_body={"name": "Sparkasse", "currency": "EUR", "account": "SPK-1"},
        ).json()
        query, expected = f"?bank_account_id={account['id']}", _parsed(path, currency="EUR")

    imported = _created(_import(api, tenant, data, query))

    assert imported["id"].startswith("bsi_") and imported["format"] == expected[0].format
    assert imported["matching"] == "done"
    got = imported["statements"]
    assert [{k: s[k] for k in _figures(expected[0])} for s in got] == [_figures(s) for s in expected]
    for statement, parsed in zip(got, expected, strict=True):
        assert statement["duplicate_lines"] == 0
        assert statement["matched"] + statement["unmatched"] == statement["transaction_count"]
        assert statement["account"] in {parsed.account_iban, parsed.account_other, "SPK-1"}
        read = api.get(f"/v1/bank-statements/{statement['id']}", key=tenant.read_only).json()
        assert len(read["lines"]) == statement["transaction_count"] and read["lines_cursor"] is None
        assert {line["statement_id"] for line in read["lines"]} <= {statement["id"]}
    accounts = {s["bank_account_id"] for s in got}
    lines_before = sum(len(_lines(tenant, a)) for a in accounts)
    assert lines_before == sum(s["transaction_count"] for s in got)

    again = _import(api, tenant, data, query)

    assert again.status_code == 409, again.body
    assert error_of(again)["existing_id"] == got[0]["id"]
    assert sum(len(_lines(tenant, a)) for a in accounts) == lines_before
    listed = api.get("/v1/bank-statements?limit=100", key=tenant.read_only).json()["data"]
    assert sorted(s["id"] for s in listed) == sorted(s["id"] for s in got)


def test_accounts_are_created_from_a_file_with_several_and_carry_the_latest_closing_balance(
    api: Api, tenant: TestTenant
) -> None:
    path = CORPUS / "mt940" / "betterplace-sepa_mt9401.sta"
    expected = _parsed(path)

    got = _created(_import(api, tenant, path.read_bytes()))["statements"]

    accounts = api.get("/v1/bank-accounts?limit=100", key=tenant.read_only).json()["data"]
    assert {a["account"] for a in accounts} == {s.account_other for s in expected}
    assert all(a["created_from_file"] and a["currency"] == "EUR" for a in accounts)
    by_account = {a["account"]: a for a in accounts}
    # 50880050/0194781300888 has two statements of the file: its balance is the later closing one.
    two = [s for s in expected if s.account_other == "50880050/0194781300888"]
    assert (
        by_account["50880050/0194781300888"]["balance"]
        == max(two, key=lambda s: (s.to_date, s.sequence)).closing_balance
    )
    assert len({s["bank_account_id"] for s in got}) == len(accounts)


# --- the same statement, the same line -----------------------------------------------------------


def _day(*entries: str, kind: str = "053", statement_id: str = "STMT-1", closing: str = "1250.00") -> bytes:
    header = (
        f"<Id>{statement_id}</Id><CreDtTm>2026-12-02T06:00:00Z</CreDtTm>"
        "<FrToDt><FrDtTm>2026-12-01T00:00:00+01:00</FrDtTm><ToDtTm>2026-12-01T23:59:59+01:00</ToDtTm></FrToDt>"
    )
    code = "CLBD" if kind == "053" else "ITBD"
    balances = balance("OPBD", "1000.00") + balance(code, closing)
    return camt(report(*entries, balances=balances, header=header), message=kind)


def _entry(amount: str, reference: str, indicator: str = "CRDT") -> str:
    return entry(amount, indicator).replace("BANKREF-1", reference)


def test_lines_of_an_intraday_report_are_not_stored_again_with_the_end_of_day_statement(
    api: Api, tenant: TestTenant
) -> None:
    intraday = _day(_entry("100.00", "REF-A"), _entry("100.00", "REF-B"), kind="052", closing="1200.00")
    statement = _day(
        _entry("100.00", "REF-A"), _entry("100.00", "REF-B"), _entry("50.00", "REF-C"), kind="053"
    )

    first = _created(_import(api, tenant, intraday))["statements"][0]
    second = _created(_import(api, tenant, statement))["statements"][0]

    assert (first["kind"], first["transaction_count"], first["duplicate_lines"]) == ("intraday", 2, 0)
    assert (second["kind"], second["transaction_count"], second["duplicate_lines"]) == ("statement", 1, 2)
    assert second["credits_total"] == 25000 and second["balanced"] is True  # the file's own figures
    assert second["bank_account_id"] == first["bank_account_id"]
    lines = _lines(tenant, first["bank_account_id"])
    assert sorted(line.bank_reference for line in lines) == ["REF-A", "REF-B", "REF-C"]
    account = api.get(f"/v1/bank-accounts/{first['bank_account_id']}", key=tenant.read_only).json()
    assert (account["balance"], account["balance_date"]) == (125000, "2026-12-01")


def test_two_identical_lines_of_one_statement_are_two_lines(api: Api, tenant: TestTenant) -> None:
    same = _entry("10.00", "REF-SAME")

    got = _created(_import(api, tenant, _day(same, same, closing="1020.00")))["statements"][0]

    assert (got["transaction_count"], got["duplicate_lines"]) == (2, 0)


def test_two_imports_of_one_file_at_once_store_it_once(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    tenant = tenant_factory()
    data = _day(*(_entry(f"{n}.00", f"REF-{n}") for n in range(1, 61)), closing=f"{1000 + 1830}.00")

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda _: _import(api, tenant, data), range(2)))

    assert sorted(r.status_code for r in responses) == [201, 409], [r.body for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()["statements"][0]
    loser = next(r for r in responses if r.status_code == 409)
    assert error_of(loser)["existing_id"] == winner["id"]
    lines = bank.list_transactions(
        tenant.tenant_id,
        TransactionFilter(bank_account_id=winner["bank_account_id"]),
        limit=100,
        starting_after=None,
    ).items
    assert len(lines) == 60 == winner["transaction_count"]
    assert len(api.get("/v1/bank-accounts", key=tenant.read_only).json()["data"]) == 1


def test_an_import_that_died_half_way_is_resumed_after_15_minutes(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _day(*(_entry(f"{n}.00", f"REF-{n}") for n in range(1, 101)), closing=f"{1000 + 5050}.00")
    start = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)
    real_write_chunk = import_writes._write_chunk
    written: list[int] = []

    def dies_after_two_chunks(*args: Any) -> Any:
        if len(written) == 2:
            raise RuntimeError("the Lambda timed out")
        written.append(1)
        return real_write_chunk(*args)

    monkeypatch.setattr(import_writes, "_write_chunk", dies_after_two_chunks)
    with pytest.raises(RuntimeError):
        imports.import_file(tenant.tenant_id, data, bank_account_id=None, actor="test", now=start)
    monkeypatch.setattr(import_writes, "_write_chunk", real_write_chunk)
    (account,) = bank.list_accounts(tenant.tenant_id, limit=10, starting_after=None).items
    assert len(_lines(tenant, account.bank_account_id)) == 80

    with pytest.raises(ConflictError) as soon:
        imports.import_file(
            tenant.tenant_id, data, bank_account_id=None, actor="test", now=start + timedelta(minutes=5)
        )
    assert "being imported" in soon.value.message
    resumed = imports.import_file(
        tenant.tenant_id, data, bank_account_id=None, actor="test", now=start + timedelta(minutes=16)
    )

    assert resumed.matching == "queued"  # the 80 lines written before the crash wait for the sweep
    (statement,) = resumed.statements
    assert statement.statement_id == soon.value.details["existing_id"]
    assert statement.transaction_count == 100 and statement.duplicate_lines == 0
    assert statement.matched + statement.unmatched == 100
    assert len(_lines(tenant, account.bank_account_id)) == 100
    with pytest.raises(ConflictError) as done:
        imports.import_file(
            tenant.tenant_id, data, bank_account_id=None, actor="test", now=start + timedelta(hours=1)
        )
    assert "imported already" in done.value.message


# --- which account ---------------------------------------------------------------------------------


def test_the_account_is_found_by_the_files_iban_or_named_and_checked(
    api: Api, tenant_factory: Callable[..., TestTenant]
) -> None:
    tenant, other = tenant_factory(), tenant_factory()
    mine = api.post(
        "/v1/bank-accounts", key=tenant.finance, json_body={"name": "Haus", "currency": "EUR", "iban": IBAN}
    ).json()
    elsewhere = api.post(
        "/v1/bank-accounts",
        key=tenant.finance,
        json_body={"name": "Zweit", "currency": "EUR", "iban": "GB82WEST12345698765432"},
    ).json()
    theirs = api.post(
        "/v1/bank-accounts", key=other.finance, json_body={"name": "X", "currency": "EUR", "iban": IBAN}
    ).json()
    data = _day(_entry("5.00", "REF-1"), closing="1005.00")

    wrong = _import(api, tenant, data, f"?bank_account_id={elsewhere['id']}")
    assert wrong.status_code == 422 and error_of(wrong)["field"] == "bank_account_id"
    foreign = _import(api, tenant, data, f"?bank_account_id={theirs['id']}")
    assert foreign.status_code == 404
    got = _created(_import(api, tenant, data))["statements"][0]
    assert got["bank_account_id"] == mine["id"]
    assert api.get(f"/v1/bank-statements/{got['id']}", key=other.read_only).status_code == 404
    assert (
        api.get(f"/v1/bank-statements?bank_account_id={mine['id']}", key=other.read_only).json()["data"] == []
    )


# --- CSV -------------------------------------------------------------------------------------------

CSV = (
    b"Buchungstag;Betrag;Verwendungszweck;Referenz\n"
    b"01.12.2026;1.234,56;RE-2026-001 Danke;R1\n"
    b"02.12.2026;-99,90;Miete Dezember;R2\n"
)


def test_csv_is_read_with_the_accounts_saved_mapping_only(api: Api, tenant: TestTenant) -> None:
    account = api.post(
        "/v1/bank-accounts", key=tenant.finance, json_body={"name": "Haus", "currency": "EUR", "iban": IBAN}
    ).json()
    headers = {"Content-Type": "text/csv"}

    no_account = _import(api, tenant, CSV, headers=headers)
    assert no_account.status_code == 422 and error_of(no_account)["field"] == "bank_account_id"
    no_mapping = _import(api, tenant, CSV, f"?bank_account_id={account['id']}", headers=headers)
    assert no_mapping.status_code == 422 and "csv_mapping" in error_of(no_mapping)["message"]
    mapping = {
        "booking_date": "Buchungstag",
        "amount": "Betrag",
        "currency": "EUR",
        "remittance": ["Verwendungszweck"],
        "bank_reference": "Referenz",
        "thousands_separator": ".",
    }
    saved = api.patch(
        f"/v1/bank-accounts/{account['id']}",
        key=tenant.finance,
        json_body={"version": account["version"], "csv_mapping": mapping},
    )
    assert saved.status_code == 200, saved.body

    got = _created(_import(api, tenant, CSV, f"?bank_account_id={account['id']}", headers=headers))

    (statement,) = got["statements"]
    assert got["format"] == "csv" and statement["bank_account_id"] == account["id"]
    assert (statement["transaction_count"], statement["credits_total"], statement["debits_total"]) == (
        2,
        123456,
        9990,
    )
    assert statement["balanced"] is None and statement["opening_balance"] is None
    # A longer export of the same days: a new statement, its known lines skipped.
    longer = CSV + b"02.12.2026;10,00;Nachzahlung;R3\n"
    more = _created(_import(api, tenant, longer, f"?bank_account_id={account['id']}", headers=headers))
    assert (more["statements"][0]["transaction_count"], more["statements"][0]["duplicate_lines"]) == (1, 2)
    assert _import(api, tenant, CSV, f"?bank_account_id={account['id']}", headers=headers).status_code == 409


# --- refused -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        (b"%PDF-1.7 not a statement", 422, "body", "not a bank statement format"),
        (b"<?xml version='1.0'?><Invoice xmlns='urn:x'/>", 422, "body", "camt"),
        (camt("<Id>S</Id>").replace(b"</Document>", b""), 422, "body", "well-formed"),
        (camt(report(entry("12.x4"))), 422, "body", "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]"),
        (
            b":20:REF\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261301EUR0,00\n:62F:C261301EUR0,00\n",
            422,
            "body",
            "line 4",
        ),
        (camt(report(entry()), report(entry())), 422, "body", "twice"),
        (b"", 400, "body", "empty"),
        (gzip.compress(camt(report())), 415, "body", "gzip"),
    ],
    ids=["prose", "other-xml", "broken-xml", "bad-amount", "mt940-bad-date", "twice", "empty", "gzip"],
)
def test_what_cannot_be_read_is_refused_naming_the_problem(
    api: Api, tenant: TestTenant, body: bytes, status: int, field: str, words: str
) -> None:
    response = _import(api, tenant, body, headers={"Content-Type": "application/octet-stream"})

    assert response.status_code == status, response.body
    error = error_of(response)
    assert error["field"] == field and words in error["message"], error
    assert api.get("/v1/bank-statements", key=tenant.read_only).json()["data"] == []
    assert api.get("/v1/bank-accounts", key=tenant.read_only).json()["data"] == []


def test_a_file_over_the_budget_is_413(api: Api, tenant: TestTenant) -> None:
    body = camt(report(entry())) + b" " * MAX_DECOMPRESSED_BYTES

    response = _import(api, tenant, body, headers={"Content-Type": "application/octet-stream"})

    assert response.status_code == 413 and error_of(response)["field"] == "body"


# --- the balance, matching left to the sweep, the cost -----------------------------------------------


def _dated(day: str, closing: str, statement_id: str) -> bytes:
    header = (
        f"<Id>{statement_id}</Id><CreDtTm>{day}T23:00:00Z</CreDtTm>"
        f"<FrToDt><FrDtTm>{day}T00:00:00+01:00</FrDtTm><ToDtTm>{day}T23:59:59+01:00</ToDtTm></FrToDt>"
    )
    closing_balance = balance("CLBD", closing).replace("2026-12-01", day)
    return camt(report(balances=balance("OPBD", closing) + closing_balance, header=header))


def test_an_earlier_days_statement_does_not_move_the_balance_back(api: Api, tenant: TestTenant) -> None:
    later = _created(_import(api, tenant, _dated("2026-12-02", "700.00", "S-2")))["statements"][0]
    _created(_import(api, tenant, _dated("2026-12-01", "500.00", "S-1")))

    account = api.get(f"/v1/bank-accounts/{later['bank_account_id']}", key=tenant.read_only).json()

    assert (account["balance"], account["balance_date"]) == (70000, "2026-12-02")


def test_lines_beyond_the_first_thousand_wait_for_the_sweep(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(imports, "MATCH_NOW", 2)
    monkeypatch.setattr(import_writes, "MATCH_NOW", 2)
    matched_now: list[str] = []
    monkeypatch.setattr(
        imports.matching,
        "match_lines",
        lambda tenant_id, txs, now: matched_now.extend(t.bank_reference or "" for t in txs),
    )
    data = _day(*(_entry(f"{n}.00", f"REF-{n}") for n in range(1, 6)), closing="1015.00")

    result = imports.import_file(tenant.tenant_id, data, bank_account_id=None, actor="test", now=now)

    assert result.matching == "queued" and matched_now == ["REF-1", "REF-2"]
    due = [tx for tx in bank.due_transactions(now, limit=1000) if tx.tenant_id == tenant.tenant_id]
    assert sorted(tx.bank_reference or "" for tx in due) == ["REF-3", "REF-4", "REF-5"]
    # The first two fall to the sweep only if the matching after the import never ran.
    later = bank.due_transactions(now + import_writes.RESUME_AFTER, limit=1000)
    assert len([tx for tx in later if tx.tenant_id == tenant.tenant_id]) == 5


def test_an_import_costs_a_few_calls_per_chunk_and_never_a_scan(
    tenant: TestTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports.matching, "match_lines", lambda tenant_id, txs, now: txs)  # the import alone
    now = datetime(2027, 3, 15, 10, 0, tzinfo=UTC)
    lines = 400
    data = _day(*(_entry(f"{n}.00", f"REF-{n}") for n in range(1, lines + 1)), closing=f"{1000 + 80200}.00")

    with metered() as meter:
        imports.import_file(tenant.tenant_id, data, bank_account_id=None, actor="test", now=now)

    print(f"\nimport of {lines} lines: {meter.describe()}; {meter.write_units / lines:.1f} WCU per line")
    assert "Scan" not in meter.calls
    assert (
        meter.calls["TransactWriteItems"] == lines // import_writes.CHUNK_LINES + 3
    )  # + import, account, balance
    assert meter.total_calls <= lines // import_writes.CHUNK_LINES + 20
