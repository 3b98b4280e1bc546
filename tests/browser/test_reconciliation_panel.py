"""The dashboard's reconciliation panel in a real browser, at a fixed instant (`dashboard_now`), at
1400 and 390 px wide.

A tenant with open invoices imports a camt.053 statement built here: two credits naming their
invoice (matched automatically), one paying an invoice by its creditor reference less a bank fee
(matched automatically, an underpaid discrepancy), a part payment naming its invoice (suggested) and
interest from the bank (unmatched). The panel must show every part the API has (balance per
account, the month's figures, the queue with the best candidates, the matched lines, the open
discrepancies); a read-only key's Accept is refused in the panel's status; with a finance key the
person accepts the suggestion, ignores the interest with a reason, resolves the bank fee's
discrepancy with a note, unmatches one automatic match
and matches it again by typing the invoice, and the API agrees after each step; an Unmatch of a line
someone else unmatched meanwhile is refused (409) in the panel's status. Any API answer of
4xx/5xx a step does not expect, or any console error, fails; waits are bounded waits on
conditions, never timings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import pytest

from cashline.domain.references import creditor_reference
from tests.browser.test_dashboard import (
    BERLIN,
    NARROW,
    WIDE,
    Watch,
    _all,
    _created,
    _euros,
    _idle,
    _loaded,
    _resize,
    _text,
    _wait,
)
from tests.utils import Api, TestTenant, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.ddb]

ACCOUNT_IBAN = "DE02120300000000202051"
OPENING_BALANCE = 1_000_000  # €10,000.00
PARTIES = {
    "Nordwind AG": "DE89370400440532013000",
    "Havel Logistik GmbH": "DE44500105175407324931",
    "Bergbahnen Zermatt AG": "DE75512108001245126199",
}
# (number, counterparty, amount due in cents)
INVOICES = [
    ("R-1001", "Nordwind AG", 123456),
    ("R-1002", "Nordwind AG", 250000),
    ("R-2003", "Havel Logistik GmbH", 500000),
    ("R-3004", "Bergbahnen Zermatt AG", 200000),
]
# A remittance text longer than any phone is wide, with a word that has no place to break: it wraps.
# (132 characters: within camt's 140 for one Ustrd.)
LONG_REMITTANCE = (
    "Teilzahlung zu Rechnung R-2003 Restbetrag folgt vielen Dank "
    "Lieferantenkontokorrentabstimmungsvermerk" + "X" * 30
)


@dataclass(frozen=True)
class Line:
    """One camt.053 entry (a credit): who paid, how much, what the remittance says."""

    key: str  # how the test names the line
    amount: int
    days_ago: int
    payer: str | None
    remittance: str = ""
    reference: str | None = None  # a structured creditor reference (RF)
    expected: str = "matched"  # the status the import must leave it in


def _lines() -> list[Line]:
    return [
        Line("auto_1001", 123456, 4, "Nordwind AG", "Rechnung R-1001"),
        Line("auto_1002", 250000, 4, "Nordwind AG", "Rechnung R-1002 vielen Dank"),
        # Short by €15.00 (0.75 %): looks like a bank fee, the reference still names the invoice.
        Line("fee_3004", 198500, 3, "Bergbahnen Zermatt AG", reference=creditor_reference("R-3004")),
        Line("part_2003", 400000, 2, "Havel Logistik GmbH", LONG_REMITTANCE, expected="suggested"),
        Line("interest", 1234, 1, None, "Habenzinsen laut Abrechnung", expected="unmatched"),
    ]


@dataclass
class Seeded:
    tenant: TestTenant
    today: date
    parties: dict[str, str] = field(default_factory=dict)
    invoices: dict[str, str] = field(default_factory=dict)
    account_id: str = ""
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> BankTransactionOutput

    def booking_day(self, days_ago: int) -> date:
        # Inside this month, so the month's figures count every line whatever day `today` is.
        return max(self.today - timedelta(days=days_ago), self.today.replace(day=1))


# ------------------------------------------------------------------------------------ the statement


def _party_xml(line: Line) -> str:
    if line.payer is None:
        return ""
    return (
        f"<RltdPties><Dbtr><Nm>{escape(line.payer)}</Nm></Dbtr>"
        f"<DbtrAcct><Id><IBAN>{PARTIES[line.payer]}</IBAN></Id></DbtrAcct></RltdPties>"
    )


def _remittance_xml(line: Line) -> str:
    parts = f"<Ustrd>{escape(line.remittance)}</Ustrd>" if line.remittance else ""
    if line.reference:
        parts += (
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
            f"<Ref>{line.reference}</Ref></CdtrRefInf></Strd>"
        )
    return f"<RmtInf>{parts}</RmtInf>"


def _euro_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _entry(seeded: Seeded, number: int, line: Line) -> str:
    day = seeded.booking_day(line.days_ago).isoformat()
    return f"""
    <Ntry>
      <Amt Ccy="EUR">{_euro_text(line.amount)}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
      <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>
      <AcctSvcrRef>BANKREF-{number:04d}</AcctSvcrRef>
      <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
      <NtryDtls><TxDtls>
        <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
        {_party_xml(line)}
        {_remittance_xml(line)}
      </TxDtls></NtryDtls>
    </Ntry>"""


def _camt053(seeded: Seeded, lines: list[Line]) -> bytes:
    first = min(seeded.booking_day(line.days_ago) for line in lines)
    last = seeded.today - timedelta(days=1) if seeded.today.day > 1 else seeded.today
    closing = OPENING_BALANCE + sum(line.amount for line in lines)
    entries = "".join(_entry(seeded, n, line) for n, line in enumerate(lines, start=1))

    def balance(code: str, cents: int, day: date) -> str:
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{_euro_text(cents)}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>"
        )

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>PANEL-{last:%Y%m%d}</MsgId><CreDtTm>{last.isoformat()}T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-{last:%Y%m%d}</Id><ElctrncSeqNb>{last:%j}</ElctrncSeqNb>
      <CreDtTm>{last.isoformat()}T18:00:00</CreDtTm>
      <FrToDt><FrDtTm>{first.isoformat()}T00:00:00</FrDtTm><ToDtTm>{last.isoformat()}T23:59:59</ToDtTm></FrToDt>
      <Acct><Id><IBAN>{ACCOUNT_IBAN}</IBAN></Id><Ccy>EUR</Ccy>
        <Svcr><FinInstnId><BIC>BYLADEM1001</BIC></FinInstnId></Svcr></Acct>
      {balance("OPBD", OPENING_BALANCE, first)}
      {balance("CLBD", closing, last)}
      {entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>""".encode()


# ------------------------------------------------------------------------------------ seeding


def _seed(api: Api, now: datetime) -> Seeded:
    seeded = Seeded(make_tenant("Abgleich Demo GmbH", now=now), now.astimezone(BERLIN).date())
    finance = seeded.tenant.finance
    for name, iban in PARTIES.items():
        fields = {"name": name, "iban": iban, "country": "DE"}
        seeded.parties[name] = _created(api.post("/v1/counterparties", key=finance, json_body=fields))["id"]
    for number, party, amount in INVOICES:
        body = {
            "direction": "receivable",
            "counterparty": {"id": seeded.parties[party]},
            "number": number,
            "issue_date": (seeded.today - timedelta(days=30)).isoformat(),
            "due_date": (seeded.today + timedelta(days=5)).isoformat(),
            "currency": "EUR",
            "amount_due": amount,
        }
        seeded.invoices[number] = _created(api.post("/v1/invoices", key=finance, json_body=body))["id"]
    account: dict[str, Any] = {
        "name": "Hausbank Girokonto",
        "currency": "EUR",
        "iban": ACCOUNT_IBAN,
        "operating": True,
    }
    seeded.account_id = _created(api.post("/v1/bank-accounts", key=finance, json_body=account))["id"]

    lines = _lines()
    statement_file = _camt053(seeded, lines)
    xml = {"Content-Type": "application/xml"}
    imported = _created(api.post("/v1/bank-statements", key=finance, raw_body=statement_file, headers=xml))
    assert imported["format"] == "camt.053.001.02", imported
    [statement] = imported["statements"]
    assert statement["bank_account_id"] == seeded.account_id and statement["transaction_count"] == 5
    detail = api.get(f"/v1/bank-statements/{statement['id']}", key=finance).json()
    by_amount = {tx["amount"]: tx for tx in detail["lines"]}
    for line in lines:
        tx = by_amount[line.amount]
        assert tx["status"] == line.expected, (line.key, tx["status"], tx["proposals"])
        seeded.lines[line.key] = tx
    return seeded


def _transaction(api: Api, seeded: Seeded, key: str) -> dict[str, Any]:
    response = api.get(f"/v1/bank-transactions/{seeded.lines[key]['id']}", key=seeded.tenant.read_only)
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def _outstanding(api: Api, seeded: Seeded, number: str) -> int:
    invoice = api.get(f"/v1/invoices/{seeded.invoices[number]}", key=seeded.tenant.read_only).json()
    return int(invoice["amount_outstanding"])


# ------------------------------------------------------------------------------------ the browser side


def _day_text(day: date) -> str:
    """As the page writes a day in en-US: "Mar 12, 2027"."""
    return f"{day:%b} {day.day}, {day.year}"


def _line_box(driver: Any, box: str, seeded: Seeded, key: str) -> Any:
    found = _all(driver, f'#{box} .bank-line[data-id="{seeded.lines[key]["id"]}"]')
    return found[0] if found else None


def _status(driver: Any) -> str:
    return _text(driver, "#reconciliation-panel > .status")


def _panel_ready(driver: Any) -> bool:
    return _idle(driver) and bool(_all(driver, "#bank-queue .bank-line, #bank-queue .empty"))


def _sign_in(driver: Any, watch: Watch, live_server: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server}/dashboard")
    _wait(driver, lambda d: d.find_element(By.ID, "api-key").is_displayed(), "the sign-in form")
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: _panel_ready(d) and _loaded(d), "the reconciliation panel")
    watch.check()


def _figure_count(driver: Any, name: str) -> int:
    return int(
        _all(driver, f'#reconciliation-report dd[data-figure="{name}"]')[0].get_attribute("data-count")
    )


def _check_panel(driver: Any, api: Api, seeded: Seeded) -> None:
    """Every part of the panel shows what the API has."""
    account = _all(driver, f'#bank-accounts .bank-account[data-id="{seeded.account_id}"]')[0]
    closing = OPENING_BALANCE + sum(line.amount for line in _lines())
    stored = api.get(f"/v1/bank-accounts/{seeded.account_id}", key=seeded.tenant.read_only).json()
    assert stored["balance"] == closing
    assert "Hausbank Girokonto" in account.text and "DE02 1203 0000 0000 2020 51" in account.text
    balance = account.find_element("css selector", 'dd[data-figure="balance"] .money')
    assert int(balance.get_attribute("data-amount")) == closing and balance.text == _euros(closing)
    assert _day_text(date.fromisoformat(stored["balance_date"])) in account.text

    month = f"from={seeded.today.replace(day=1)}&to={seeded.today}"
    report = api.get(f"/v1/reports/reconciliation?{month}", key=seeded.tenant.read_only).json()
    [figures] = report["accounts"]
    assert figures["lines"] == 5
    assert int(_text(driver, '#reconciliation-report dd[data-figure="lines"]')) == figures["lines"]
    for name in ("matched_auto", "matched_person", "ignored", "open"):
        assert _figure_count(driver, name) == figures[name]["count"], name
    credits = _all(driver, '#reconciliation-report dd[data-figure="credits"] .money')[0]
    assert int(credits.get_attribute("data-amount")) == figures["credits"]

    # The queue: what the API has waiting, with each line's best candidates.
    waiting = [
        tx["id"]
        for status in ("suggested", "unmatched")
        for tx in api.get(f"/v1/bank-transactions?status={status}", key=seeded.tenant.read_only).json()[
            "data"
        ]
    ]
    shown = [row.get_attribute("data-id") for row in _all(driver, "#bank-queue .bank-line")]
    assert shown == waiting

    # The matched lines the API lists, and the open discrepancies.
    matched = api.get("/v1/bank-transactions?status=matched", key=seeded.tenant.read_only).json()["data"]
    shown_matched = {row.get_attribute("data-id") for row in _all(driver, "#bank-matched .bank-line")}
    assert shown_matched == {tx["id"] for tx in matched}
    open_ones = api.get("/v1/bank-discrepancies?status=open", key=seeded.tenant.read_only).json()["data"]
    shown_open = {row.get_attribute("data-id") for row in _all(driver, "#bank-discrepancies li")}
    assert shown_open == {d["id"] for d in open_ones}


def _check_first_view(driver: Any, api: Api, seeded: Seeded) -> None:
    """The import's lines as a person first sees them."""
    _check_panel(driver, api, seeded)
    part = _line_box(driver, "bank-queue", seeded, "part_2003")
    assert part.get_attribute("data-status") == "suggested"
    assert _day_text(seeded.booking_day(2)) in part.text and "+€4,000.00" in part.text
    assert "Havel Logistik GmbH" in part.text and LONG_REMITTANCE in part.text.replace("\n", " ")
    best = part.find_element("css selector", '.proposal[data-index="0"]')
    proposal = seeded.lines["part_2003"]["proposals"][0]
    assert best.get_attribute("data-rule") == proposal["rule"]
    assert int(best.get_attribute("data-score")) == proposal["score"] < 90
    assert "R-2003" in best.text and _euros(400000) in best.text
    assert {
        b.get_attribute("data-action") for b in part.find_elements("css selector", ".line-actions button")
    } == {
        "accept",
        "choose",
        "ignore",
    }
    accept = part.find_element("css selector", 'button[data-action="accept"]')
    assert "R-2003" in (accept.get_attribute("title") or "")  # says which candidate it applies
    interest = _line_box(driver, "bank-queue", seeded, "interest")
    assert interest.get_attribute("data-status") == "unmatched" and "Habenzinsen" in interest.text
    assert "No candidate found" in interest.text and "Unknown party" in interest.text

    for key, number in (("auto_1001", "R-1001"), ("auto_1002", "R-1002"), ("fee_3004", "R-3004")):
        row = _line_box(driver, "bank-matched", seeded, key)
        assert row.get_attribute("data-matched-by") == "auto" and number in row.text, key
    fee = _line_box(driver, "bank-matched", seeded, "fee_3004")
    assert fee.find_elements("css selector", '[data-kind="underpaid"]') and _euros(1500) in fee.text
    underpaid = _all(driver, '#bank-discrepancies li[data-kind="underpaid"]')
    assert underpaid and _euros(1500) in underpaid[0].text


def _act(driver: Any, line: Any, action: str) -> None:
    line.find_element("css selector", f'button[data-action="{action}"]').click()


def _submit(driver: Any, form_id: str, reason: str | None = None) -> None:
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.ID, form_id)
    _wait(driver, lambda _d: form.is_displayed(), f"the form {form_id}")
    if reason is not None:
        form.find_element(By.NAME, "reason").send_keys(reason)
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()


def _after_action(driver: Any, words: str) -> None:
    _wait(driver, lambda d: _idle(d) and words in _status(d), f'the status "{words}"')


def _check_read_only_refused(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    """A read-only key sees the queue; its Accept is refused, said in the panel, nothing changes."""
    _act(driver, _line_box(driver, "bank-queue", seeded, "part_2003"), "accept")
    _wait(driver, lambda d: _idle(d) and "HTTP 403" in _status(d), "the refusal in the panel's status")
    assert "error" in (_all(driver, "#reconciliation-panel > .status")[0].get_attribute("class") or "")
    assert "Could not match the line" in _status(driver)
    assert _line_box(driver, "bank-queue", seeded, "part_2003") is not None
    assert _transaction(api, seeded, "part_2003")["status"] == "suggested"
    watch.check(lambda url, status: status == 403 and url.endswith("/match"))


def _sign_out(driver: Any, watch: Watch) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "sign-out").click()
    _wait(driver, lambda d: d.find_element(By.ID, "sign-in").is_displayed(), "the sign-in form again")
    assert not _all(driver, "#bank-queue .bank-line") and not _all(driver, "#bank-accounts li")
    watch.check()


def _accept(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    _act(driver, _line_box(driver, "bank-queue", seeded, "part_2003"), "accept")
    _after_action(driver, "Matched the €4,000.00 from Havel Logistik GmbH")
    assert "R-2003" in _status(driver)
    assert "done" in (_all(driver, "#reconciliation-panel > .status")[0].get_attribute("class") or "")
    row = _line_box(driver, "bank-matched", seeded, "part_2003")
    assert row is not None and row.get_attribute("data-matched-by") == "person"
    assert _line_box(driver, "bank-queue", seeded, "part_2003") is None
    tx = _transaction(api, seeded, "part_2003")
    assert tx["status"] == "matched" and tx["matched_by"] != "auto" and tx["payment_ids"]
    assert [t["id"] for t in tx["match"]["targets"]] == [seeded.invoices["R-2003"]]
    assert _outstanding(api, seeded, "R-2003") == 500000 - 400000
    watch.check()


def _ignore(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    from selenium.webdriver.common.by import By

    interest = _line_box(driver, "bank-queue", seeded, "interest")
    _act(driver, interest, "ignore")
    form_id = f"ignore-{seeded.lines['interest']['id']}"
    _submit(driver, form_id)  # no reason: refused in the form, before any request
    _wait(
        driver,
        lambda d: "Reason" in d.find_element(By.CSS_SELECTOR, f"#{form_id} .message").text,
        "the reason",
    )
    _submit(driver, form_id, "Interest credited by our bank")
    _after_action(driver, "Ignored the €12.34")
    assert "Interest credited by our bank" in _status(driver)
    assert _line_box(driver, "bank-queue", seeded, "interest") is None
    tx = _transaction(api, seeded, "interest")
    assert tx["status"] == "ignored" and tx["ignore_reason"] == "Interest credited by our bank"
    watch.check()


def _resolve(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    """The bank fee's underpaid discrepancy resolved with a note: it leaves the open list."""
    [item] = [
        li for li in _all(driver, '#bank-discrepancies li[data-kind="underpaid"]') if _euros(1500) in li.text
    ]
    discrepancy_id = item.get_attribute("data-id")
    _act(driver, item, "resolve")
    _submit(driver, f"resolve-{discrepancy_id}", "Bank fee, agreed with Bergbahnen Zermatt")
    _after_action(driver, "Resolved the underpaid discrepancy of €15.00")
    assert "Bank fee, agreed with Bergbahnen Zermatt" in _status(driver)
    assert not _all(driver, f'#bank-discrepancies li[data-id="{discrepancy_id}"]')
    resolved = api.get("/v1/bank-discrepancies?status=resolved", key=seeded.tenant.read_only).json()["data"]
    [done] = [d for d in resolved if d["id"] == discrepancy_id]
    assert done["note"] == "Bank fee, agreed with Bergbahnen Zermatt" and done["resolved_at"]
    watch.check()


def _unmatch(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    line = _line_box(driver, "bank-matched", seeded, "auto_1002")
    payments = _transaction(api, seeded, "auto_1002")["payment_ids"]
    assert payments and _outstanding(api, seeded, "R-1002") == 0
    _act(driver, line, "unmatch")
    _submit(driver, f"unmatch-{seeded.lines['auto_1002']['id']}", "Paid twice, returned to the customer")
    _after_action(driver, "Unmatched the €2,500.00 from Nordwind AG")
    assert _line_box(driver, "bank-matched", seeded, "auto_1002") is None
    back = _line_box(driver, "bank-queue", seeded, "auto_1002")
    tx = _transaction(api, seeded, "auto_1002")
    assert tx["status"] in {"suggested", "unmatched"} and back.get_attribute("data-status") == tx["status"]
    assert _outstanding(api, seeded, "R-1002") == 250000  # the payment it created was reversed
    watch.check()


def _choose(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    """The line back in the queue, matched by typing the invoice's id and the amount."""
    from selenium.webdriver.common.by import By

    line = _line_box(driver, "bank-queue", seeded, "auto_1002")
    _act(driver, line, "choose")
    form = driver.find_element(By.ID, f"choose-{seeded.lines['auto_1002']['id']}")
    _wait(driver, lambda _d: form.is_displayed(), "the choose form")
    form.find_element(By.CSS_SELECTOR, 'input[value="other"]').click()
    form.find_element(By.NAME, "target_id").send_keys(seeded.invoices["R-1002"])
    amount = form.find_element(By.NAME, "amount")
    assert amount.get_attribute("value") == "2500.00"
    amount.clear()
    amount.send_keys("2500.001")  # more decimals than euros have: refused in the form
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    _wait(driver, lambda _d: "Amount" in form.find_element(By.CSS_SELECTOR, ".message").text, "the amount")
    amount.clear()
    amount.send_keys("2500,00")
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    _after_action(driver, "Matched the €2,500.00 from Nordwind AG")
    row = _line_box(driver, "bank-matched", seeded, "auto_1002")
    assert row is not None and row.get_attribute("data-matched-by") == "person"
    tx = _transaction(api, seeded, "auto_1002")
    assert tx["status"] == "matched" and tx["match"]["targets"][0]["id"] == seeded.invoices["R-1002"]
    assert tx["match"]["targets"][0]["amount"] == 250000
    assert _outstanding(api, seeded, "R-1002") == 0
    watch.check()


def _check_refused(driver: Any, watch: Watch, status: int, path_end: str) -> None:
    """Watch.check for a step whose request the API refuses with `status`: Chrome logs that answer
    as a console error ("Failed to load resource"); that one entry is expected, any other fails."""

    def expected(url: str, answered: int) -> bool:
        return answered == status and url.endswith(path_end)

    for entry in driver.get_log("browser"):
        text = str(entry.get("message", ""))
        network = entry.get("source") == "network" and expected(text.split(" ", 1)[0], status)
        if entry["level"] == "SEVERE" and not network:
            watch.unexpected.append(f"console: {text}")
    watch.check(expected)


def _unmatch_behind_the_page(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    """Someone else unmatched the line meanwhile: the page's Unmatch is refused (409), said in the
    panel's status, and the reloaded panel shows the line back in the queue."""
    line_id = seeded.lines["auto_1002"]["id"]
    done = api.post(
        f"/v1/bank-transactions/{line_id}/unmatch",
        key=seeded.tenant.finance,
        json_body={"reason": "elsewhere"},
    )
    assert done.status_code == 200, done.json()
    _act(driver, _line_box(driver, "bank-matched", seeded, "auto_1002"), "unmatch")
    _submit(driver, f"unmatch-{line_id}")
    _wait(driver, lambda d: _idle(d) and "HTTP 409" in _status(d), "the conflict in the panel's status")
    assert "Could not unmatch the line" in _status(driver)
    assert _line_box(driver, "bank-matched", seeded, "auto_1002") is None
    assert _line_box(driver, "bank-queue", seeded, "auto_1002") is not None
    assert _transaction(api, seeded, "auto_1002")["status"] in {"suggested", "unmatched"}
    _check_refused(driver, watch, 409, "/unmatch")


# The page must not scroll sideways; a long remittance text wraps inside its line.
NO_SIDEWAYS = """
const width = window.innerWidth;
const problems = [];
const page = document.documentElement.scrollWidth;
if (page > width) problems.push(`page ${page} > ${width}`);
const panel = "#reconciliation-panel";
for (const node of document.querySelectorAll(`${panel} .bank-line, ${panel} .remittance`)) {
  const r = node.getBoundingClientRect();
  const overflows = node.scrollWidth > node.clientWidth + 1;
  if (r.right > width + 0.5 || overflows) problems.push(`${node.className} ${r.right} of ${width}`);
}
return problems;
"""


def _fits(driver: Any) -> list[str]:
    return list(driver.execute_script(NO_SIDEWAYS))


def _full_screenshot(driver: Any, screenshot: Callable[[str], Any], width: int, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 140, 12000))
    screenshot(name)
    _resize(driver, width)


def test_the_reconciliation_panel_in_a_browser(
    dashboard_now: datetime, api: Api, live_server: str, driver: Any, screenshot: Callable[[str], Any]
) -> None:
    seeded = _seed(api, dashboard_now)
    watch = Watch(driver)
    _resize(driver, WIDE)

    _sign_in(driver, watch, live_server, seeded.tenant.read_only)
    _check_first_view(driver, api, seeded)
    assert _fits(driver) == []
    _check_read_only_refused(driver, api, seeded, watch)
    _sign_out(driver, watch)

    _sign_in(driver, watch, live_server, seeded.tenant.finance)
    _check_first_view(driver, api, seeded)
    _full_screenshot(driver, screenshot, WIDE, "wide")
    _accept(driver, api, seeded, watch)
    _ignore(driver, api, seeded, watch)
    _resolve(driver, api, seeded, watch)
    _check_panel(driver, api, seeded)

    # A phone: the same panel without sideways scrolling; the rest of the work done there.
    _resize(driver, NARROW)
    _wait(driver, lambda d: _loaded(d) and not _fits(d), "the panel on a narrow screen")
    _unmatch(driver, api, seeded, watch)
    assert _fits(driver) == []
    _choose(driver, api, seeded, watch)
    _unmatch_behind_the_page(driver, api, seeded, watch)
    _check_panel(driver, api, seeded)
    assert _figure_count(driver, "matched_person") == 1 and _figure_count(driver, "open") == 1
    assert _figure_count(driver, "ignored") == 1 and _figure_count(driver, "matched_auto") == 2
    assert _fits(driver) == []
    _full_screenshot(driver, screenshot, NARROW, "narrow")
    watch.check()

    called = watch.paths_called()
    for path in (
        "/v1/bank-accounts",
        "/v1/bank-transactions",
        "/v1/bank-discrepancies",
        "/v1/reports/reconciliation",
    ):
        assert path in called
    assert watch.unexpected == [], watch.unexpected
