"""The web dashboard in a real browser, at a fixed instant (the `dashboard_now` fixture: the API and
so the page count that day as today), at 1400 and 390 px wide.

Every panel is looked at and must have content: the summary cards (no figure overlapping another,
DSO explained, human method names, why "collected" and "received" differ), next payments, due per
week, aging, cash flow, the invoice list and its filters, collection campaigns and today's call
tasks. Every action is exercised: sign in (refused, then accepted), a week's bar, each chart's
currency, the invoice filters (and their refusals), More, Reset, the direction switch, Refresh, a
task's script, sign out. Any API answer of 4xx/5xx the step does not expect, or any console error,
fails the test; waits are bounded waits on conditions, never timings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.utils import Api, TestTenant, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.ddb]

# A bound on each wait for a condition, so a broken page fails instead of hanging; a correct page on
# a loaded machine meets the condition long before it.
WAIT_S = 60
WIDE, NARROW = 1400, 390
BERLIN = ZoneInfo("Europe/Berlin")
PANELS = [
    "cards-panel",
    "next-panel",
    "weeks-panel",
    "aging-panel",
    "cashflow-panel",
    "invoices-panel",
    "collection-panel",
    "tasks-panel",
]

COUNTERPARTIES = {
    "Nordwind AG": {"email": "ap@nordwind.example", "country": "DE"},
    "Havel Logistik GmbH": {
        "email": "buchhaltung@havel.example",
        "phone": "+49 331 1234567",
        "country": "DE",
    },
    "Sakura KK": {"email": "ap@sakura.example", "country": "JP"},
    "Bergbahnen Zermatt AG": {"email": "kreditoren@bergbahnen.example", "country": "CH"},
    "Stadtwerke Potsdam": {"country": "DE"},
    "Papier & Co": {"country": "DE"},
}
# (number, counterparty, days from today to the due date, days before the due date it was issued,
#  amount in minor units, currency)
RECEIVABLES = [
    ("R-1001", "Nordwind AG", 3, 30, 123456, "EUR"),
    ("R-1002", "Nordwind AG", 10, 30, 250000, "EUR"),
    ("R-1003", "Havel Logistik GmbH", 17, 30, 9999, "EUR"),
    ("R-0990", "Havel Logistik GmbH", -12, 30, 45000, "EUR"),
    # Issued long before the summary's period: EUR's outstanding then exceeds what the period billed.
    ("R-0950", "Havel Logistik GmbH", -100, 30, 1500000, "EUR"),
    ("R-1004", "Sakura KK", 24, 30, 120000, "JPY"),  # yen have no minor unit: 120000 is ¥120,000
    # A long CHF amount: CHF 987,654,321.01 must not run into the next figure of its card.
    ("R-1005", "Bergbahnen Zermatt AG", 5, 30, 98765432101, "CHF"),
    ("R-1006", "Bergbahnen Zermatt AG", -5, 30, 50000000000, "CHF"),
]
# Enough small invoices for the list to have a second page (it shows 25 at a time).
RECEIVABLES += [(f"R-20{i:02d}", "Nordwind AG", 30 + i, 30, 1000 + i, "EUR") for i in range(1, 21)]
PAYABLES = [
    ("B-501", "Stadtwerke Potsdam", 5, 30, 300000, "EUR"),
    ("B-502", "Papier & Co", 19, 30, 75000, "EUR"),
]
# (invoice number or None for money not applied to any invoice, method, amount, currency, days ago)
PAYMENTS = [
    ("R-1006", "card", 50000000000, "CHF", 2),  # R-1006 was due in the period: collected
    ("R-1001", "bank_transfer", 123456, "EUR", 1),  # received, but R-1001 is not due yet: not "collected"
    (None, "sepa_debit", 5000, "EUR", 1),
]


class Seeded:
    def __init__(self, tenant: TestTenant, today: date):
        self.tenant = tenant
        self.today = today
        self.parties: dict[str, str] = {}
        self.invoices: dict[str, str] = {}
        self.campaign_id = ""


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def _seed_invoices(api: Api, seeded: Seeded) -> None:
    for direction, rows in (("receivable", RECEIVABLES), ("payable", PAYABLES)):
        for number, name, due_in, issued_before, amount, currency in rows:
            due = seeded.today + timedelta(days=due_in)
            body = {
                "direction": direction,
                "counterparty": {"id": seeded.parties[name]},
                "number": number,
                "issue_date": (due - timedelta(days=issued_before)).isoformat(),
                "due_date": due.isoformat(),
                "currency": currency,
                "amount_due": amount,
            }
            invoice = _created(api.post("/v1/invoices", key=seeded.tenant.finance, json_body=body))
            seeded.invoices[number] = invoice["id"]


def _seed_payments(api: Api, seeded: Seeded) -> None:
    for number, method, amount, currency, days_ago in PAYMENTS:
        body: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "value_date": (seeded.today - timedelta(days=days_ago)).isoformat(),
            "method": method,
        }
        if number is not None:
            body["invoice_id"] = seeded.invoices[number]
        else:
            body["payer_name"] = "Unknown payer"
        _created(api.post("/v1/payments", key=seeded.tenant.finance, json_body=body))


def _seed_collection(api: Api, seeded: Seeded, now: datetime) -> None:
    """A campaign whose first step is a call: R-0990 enters it and its call falls due today."""
    from cashline.services.collections.context import dunning
    from cashline.services.collections.sweep import step_once
    from chalicelib.collection_runtime import api_collection_runtime

    tenant = seeded.tenant
    campaign = _created(
        api.post(
            "/v1/campaigns",
            key=tenant.admin,
            json_body={
                "name": "Standard reminders",
                "steps": [
                    {
                        "offset_days": 1,
                        "channel": "call_task",
                        "assignee": "calls@dashboard.example",
                        "send_on_weekends": True,  # due today whatever weekday the fixed instant is
                    },
                    {"offset_days": 30, "channel": "email"},
                ],
            },
        )
    )
    seeded.campaign_id = campaign["id"]
    started = api.post(
        f"/v1/invoices/{seeded.invoices['R-0990']}/collection",
        key=tenant.finance,
        json_body={"action": "start", "campaign_id": campaign["id"]},
    )
    assert started.status_code in {200, 201}, started.json()
    # The due step, taken as the sweep takes it (below the sweep: no shared schedule cursor moves).
    run = dunning.collection(tenant.tenant_id, seeded.invoices["R-0990"])
    assert run is not None
    step_once(run, api_collection_runtime(), now=now)


def _seed(api: Api, now: datetime) -> Seeded:
    seeded = Seeded(make_tenant("Dashboard Demo GmbH", now=now), now.astimezone(BERLIN).date())
    tenant = seeded.tenant
    for name, fields in COUNTERPARTIES.items():
        party = _created(
            api.post("/v1/counterparties", key=tenant.finance, json_body={"name": name, **fields})
        )
        seeded.parties[name] = party["id"]
    rates = {
        "date": seeded.today.isoformat(),
        "rates": [
            {"base": "EUR", "quote": "CHF", "rate": "0.9312"},
            {"base": "EUR", "quote": "JPY", "rate": "161.5"},
        ],
    }
    assert api.post("/v1/fx-rates", key=tenant.finance, json_body=rates).status_code in {200, 201}
    _seed_invoices(api, seeded)
    _seed_payments(api, seeded)
    _seed_collection(api, seeded, now)
    tasks = api.get(
        f"/v1/tasks?status=open&due_from={seeded.today}&due_to={seeded.today}", key=tenant.read_only
    ).json()
    assert len(tasks["data"]) == 1, tasks  # the page must have a call task to show today
    return seeded


# ------------------------------------------------------------------------------------ the browser side


class Watch:
    """What the page did, read after each step: every API answer (Chrome's network events) and the
    console. An answer of 400 or more, or a console error, fails unless the step expects it."""

    def __init__(self, driver: Any):
        self.driver = driver
        self.answers: list[tuple[str, int]] = []
        self.unexpected: list[str] = []

    def check(self, expected: Callable[[str, int], bool] = lambda _url, _status: False) -> None:
        import json

        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.responseReceived":
                continue
            response = message["params"]["response"]
            url, status = str(response["url"]), int(response["status"])
            self.answers.append((url, status))
            if status >= 400 and not expected(url, status):
                self.unexpected.append(f"HTTP {status} from {url}")
        for entry in self.driver.get_log("browser"):
            if entry["level"] != "SEVERE":
                continue
            text = str(entry.get("message", ""))
            # An expected failed request is also logged as "Failed to load resource": judged above.
            if entry.get("source") == "network" and any(
                expected(text.split(" ", 1)[0], status) for status in (401, 403, 404)
            ):
                continue
            self.unexpected.append(f"console: {text}")

    def paths_called(self) -> set[str]:
        from urllib.parse import urlparse

        return {urlparse(url).path for url, _ in self.answers}


def _wait(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A list re-rendered between finding its rows and reading them (a slow machine makes that window
    # wide) leaves stale elements: that is "not yet", so the wait polls again.
    return WebDriverWait(
        driver, WAIT_S, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    ).until(condition, message=what)


def _idle(driver: Any) -> bool:
    return bool(driver.execute_script('return !document.querySelector("[aria-busy=true]")'))


def _text(driver: Any, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def _all(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def _figure(driver: Any, currency: str, name: str = "outstanding", scope: str = "currency") -> Any:
    found = _all(driver, f'dd[data-figure="{name}"][data-scope="{scope}"][data-currency="{currency}"] .money')
    return found[0] if found else None


def _card_figure(driver: Any, currency: str, name: str) -> Any:
    found = _all(
        driver, f'.card.currency[aria-labelledby="card-currency-{currency}"] dd[data-figure="{name}"]'
    )
    return found[0] if found else None


def _loaded(driver: Any) -> bool:
    """Every panel done loading, none showing an error."""
    return _idle(driver) and not _all(driver, "#dashboard .status.error")


def _select(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


# A chart redraws itself a moment after the window changes width; until every drawn chart has been
# drawn for the window's width, reading a chart could read one that is being replaced.
CHARTS_CAUGHT_UP = """
const width = String(window.innerWidth);
const charts = [...document.querySelectorAll("[data-drawn-width]")];
return charts.every((chart) => chart.dataset.drawnWidth === width);
"""


def _resize(driver: Any, width: int) -> None:
    driver.set_window_size(width, 900)
    _wait(driver, lambda d: d.execute_script("return window.innerWidth") <= width, f"a {width} px window")
    _wait(driver, lambda d: d.execute_script(CHARTS_CAUGHT_UP), f"the charts drawn for a {width} px window")


# Each card's figures: the box of what each one shows (its text, wherever it ended up) must stay
# inside that figure's own cell, and no two figures' contents may intersect.
OVERLAPS = """
const problems = [];
const box = (node) => {
  const r = document.createRange();
  r.selectNodeContents(node);
  return r.getBoundingClientRect();
};
const meets = (a, b) =>
  a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
for (const card of document.querySelectorAll("#cards .card")) {
  const cardBox = card.getBoundingClientRect();
  const figures = [...card.querySelectorAll(".figure")].map((f) => ({
    name: `${card.getAttribute("aria-labelledby")}/${f.querySelector("dd").getAttribute("data-figure")}`,
    cell: f.getBoundingClientRect(),
    content: box(f),
  }));
  for (const f of figures) {
    const out = f.content.right > f.cell.right + 1 || f.content.left < f.cell.left - 1;
    if (out || f.content.right > cardBox.right) {
      problems.push(`${f.name} sticks out of its cell (${f.content.right} > ${f.cell.right})`);
    }
  }
  figures.forEach((a, i) => figures.slice(i + 1).forEach((b) => {
    if (meets(a.content, b.content)) problems.push(`${a.name} overlaps ${b.name}`);
  }));
}
return problems;
"""

# The invoice list on a narrow screen: amount, status and outstanding of every row on screen, and
# neither the page nor the list scrolls sideways.
LIST_SCROLLING = """
const width = window.innerWidth;
const problems = [];
const page = document.documentElement.scrollWidth;
if (page > width) problems.push(`page ${page} > ${width}`);
const wrap = document.querySelector("#invoice-list .table-wrap");
if (wrap && wrap.scrollWidth > wrap.clientWidth + 1) {
  problems.push(`list ${wrap.scrollWidth} > ${wrap.clientWidth}`);
}
for (const row of document.querySelectorAll("#invoice-list tbody tr")) {
  for (const col of ["amount", "status", "outstanding"]) {
    const cell = row.querySelector(`[data-col="${col}"]`);
    const r = cell.getBoundingClientRect();
    const content = document.createRange(); content.selectNodeContents(cell);
    const c = content.getBoundingClientRect();
    if (!(r.width > 0 && r.left >= 0 && r.right <= width && c.left >= 0 && c.right <= width)) {
      problems.push(`${row.getAttribute("data-id")} ${col} at ${c.left}..${c.right} of ${width}`);
    }
  }
}
return problems;
"""


# Tables that must fit a phone's width without scrolling inside their box (the aging matrix, one
# column per currency, may scroll).
TABLES_SCROLLING = """
return ["#by-method", "#next-payments", "#week-detail", "#tasks"]
  .flatMap((id) => [...document.querySelectorAll(`${id} .table-wrap`)].map((w) => [id, w]))
  .filter(([, w]) => w.scrollWidth > w.clientWidth + 1)
  .map(([id, w]) => `${id} ${w.scrollWidth} > ${w.clientWidth}`);
"""


def _check_panels(driver: Any, seeded: Seeded) -> None:
    """Every panel has content (whatever the width)."""
    for panel in PANELS:
        status = _all(driver, f"#{panel} > .status")
        assert status and "error" not in (status[0].get_attribute("class") or ""), (panel, status[0].text)
    assert {c.get_attribute("aria-labelledby") for c in _all(driver, "#cards .card")} == {
        "card-currency-CHF",
        "card-currency-EUR",
        "card-currency-JPY",
        "card-base-EUR",
    }
    assert _all(driver, "#by-method tbody tr") and _text(driver, "#by-method-note")
    assert _all(driver, "#next-payments tbody tr")
    bars = _all(driver, "#weeks-chart g.bar")
    assert len(bars) == 12 and any(int(b.get_attribute("data-amount")) > 0 for b in bars)
    assert _all(driver, "#aging-chart svg rect.segment") and len(_all(driver, "#aging-table tbody tr")) == 6
    assert len(_all(driver, "#cashflow-chart g.week")) == 12 and _all(driver, "#cashflow-basis details")
    assert len(_all(driver, "#invoice-list tbody tr")) >= 1
    campaign = _all(driver, f'#campaigns article.campaign[data-id="{seeded.campaign_id}"]')
    assert campaign and "Debtors entered" in campaign[0].text
    tasks = _all(driver, "#tasks li")
    assert len(tasks) == 1 and "Havel Logistik GmbH" in tasks[0].text and "+49 331 1234567" in tasks[0].text


def _overlaps(driver: Any) -> list[str]:
    return list(driver.execute_script(OVERLAPS))


def _list_scrolling(driver: Any) -> list[str]:
    return list(driver.execute_script(LIST_SCROLLING))


def _days(value: float) -> str:
    """As the page writes days in en-US: "1,234.5", "74" (at most one decimal)."""
    return f"{value:,.1f}".removesuffix(".0")


def _euros(minor: int) -> str:
    return f"€{minor / 100:,.2f}"


# ------------------------------------------------------------------------------------ the steps


def _sign_in(driver: Any, watch: Watch, live_server: str, seeded: Seeded) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server}/dashboard")
    _wait(driver, lambda d: d.find_element(By.ID, "api-key").is_displayed(), "the sign-in form")
    assert driver.title == "Cashline dashboard"
    watch.check()

    # A refused key stays on the form with a message (its 401 is the one failure expected here).
    driver.find_element(By.ID, "api-key").send_keys("clk_ten_nobody.key_nobody.wrong")
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: "refused" in _text(d, "#sign-in-message"), "the refused-key message")
    assert not driver.find_element(By.ID, "dashboard").is_displayed()
    watch.check(lambda url, status: status == 401 and url.endswith("/v1/tenant"))

    driver.find_element(By.ID, "api-key").send_keys(seeded.tenant.read_only)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: d.find_element(By.ID, "dashboard").is_displayed(), "the dashboard")
    _wait(driver, lambda d: _figure(d, "EUR") is not None and _loaded(d), "every panel")
    assert _text(driver, "#tenant-name") == "Dashboard Demo GmbH"
    watch.check()


def _check_cards(driver: Any, api: Api, seeded: Seeded) -> None:
    summary = api.get("/v1/reports/summary?direction=receivable", key=seeded.tenant.read_only).json()
    figures = {f["currency"]: f for f in summary["figures"]}
    assert summary["as_of"] == seeded.today.isoformat()  # the fixed instant's day, in the tenant's zone
    assert seeded.today.strftime("%Y") in _text(driver, "#as-of")
    eur = figures["EUR"]["outstanding"]
    assert eur == 250000 + 9999 + 45000 + 1500000 + sum(1000 + i for i in range(1, 21))  # R-1001 is paid
    shown = _figure(driver, "EUR")
    assert int(shown.get_attribute("data-amount")) == eur and shown.text == _euros(eur)
    assert _figure(driver, "JPY").text == "¥120,000"  # no decimals for yen: never assumed 2
    assert _figure(driver, "CHF").text.replace("\u00a0", " ") == "CHF 987,654,321.01"

    # DSO: EUR's outstanding exceeds what the period billed (R-0950 is old): "> N d" and why.
    days = (
        date.fromisoformat(summary["period"]["to"]) - date.fromisoformat(summary["period"]["from"])
    ).days + 1
    dso_eur = _card_figure(driver, "EUR", "dso_days")
    assert figures["EUR"]["dso_days"] > days
    assert dso_eur.get_attribute("data-reliable") == "false"
    assert dso_eur.text.startswith(f"> {days} d")
    assert "Not reliable" in dso_eur.text and f"{_days(figures['EUR']['dso_days'])} d" in dso_eur.text
    dso_chf = _card_figure(driver, "CHF", "dso_days")
    assert dso_chf.get_attribute("data-reliable") == "true"
    assert figures["CHF"]["dso_days"] < days
    assert dso_chf.text.startswith(f"{_days(figures['CHF']['dso_days'])} d")
    assert f"\u00d7 {days} days" in dso_chf.text  # how it is computed, said under the figure
    how = f"DSO = outstanding \u00f7 billed in the period \u00d7 {days} days"  # division and times signs
    assert dso_chf.get_attribute("title") == how

    # Collected (invoices due in the period) and received (payments by value date) differ, and say why.
    assert figures["EUR"]["collected_in_period"] == 0 and figures["CHF"]["collected_in_period"] == 50000000000
    methods = {(m["method"], m["currency"]): m["amount"] for m in summary["payments_by_method"]}
    assert methods == {
        ("card", "CHF"): 50000000000,
        ("bank_transfer", "EUR"): 123456,
        ("sepa_debit", "EUR"): 5000,
    }
    labels = {r.get_attribute("data-method"): r.text for r in _all(driver, "#by-method tbody tr")}
    assert labels["bank_transfer"].startswith("Bank transfer")
    assert labels["sepa_debit"].startswith("SEPA Direct Debit") and labels["card"].startswith("Card")
    assert "bank_transfer" not in _text(driver, "#by-method")
    note = _text(driver, "#by-method-note")
    assert "Collected this period" in note and "not yet applied to any invoice" in note
    collected = _card_figure(driver, "EUR", "collected_in_period")
    assert "of the invoices due in the period" in collected.text


def _check_week(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    due = seeded.today + timedelta(days=10)  # R-1002
    iso_year, iso_week, _ = due.isocalendar()
    period = f"{iso_year}-W{iso_week:02d}"
    monday = seeded.today - timedelta(days=seeded.today.weekday())
    weeks = f"from={monday}&to={monday + timedelta(days=83)}"
    periods = api.get(
        f"/v1/reports/upcoming?direction=receivable&group_by=week&{weeks}", key=seeded.tenant.read_only
    ).json()["periods"]
    week_total = sum(p["amount"] for p in periods if p["period"] == period and p["currency"] == "EUR")
    bar = _all(driver, f'#weeks-chart g.bar[data-period="{period}"]')[0]
    assert int(bar.get_attribute("data-amount")) == week_total > 0
    bar.click()
    _wait(
        driver,
        lambda d: _all(d, "#week-detail")[0].get_attribute("data-period") == period,
        "the week's payments",
    )
    assert bar.get_attribute("aria-pressed") == "true"
    listed = {row.get_attribute("data-id") for row in _all(driver, "#week-detail tbody tr")}
    expected = api.get(
        f"/v1/reports/upcoming?direction=receivable&period={period}", key=seeded.tenant.read_only
    )
    assert listed == {p["id"] for p in expected.json()["payments"]}
    assert "R-1002" in _text(driver, "#week-detail")
    watch.check()


def _check_chart_currencies(driver: Any, watch: Watch) -> None:
    """Each chart with several currencies offers them; choosing one redraws the chart in it."""
    _select(driver, "weeks-currency", "CHF")
    _wait(
        driver,
        lambda d: {b.get_attribute("data-currency") for b in _all(d, "#weeks-chart g.bar")} == {"CHF"},
        "the weeks in CHF",
    )
    _select(driver, "weeks-currency", "EUR")
    _select(driver, "aging-currency", "CHF")
    _wait(
        driver,
        lambda d: "CHF" in (_all(d, "#aging-chart svg")[0].get_attribute("aria-label") or ""),
        "aging in CHF",
    )
    _select(driver, "aging-currency", "EUR")
    _select(driver, "cashflow-currency", "CHF")
    _wait(
        driver,
        lambda d: "CHF" in (_all(d, "#cashflow-chart svg")[0].get_attribute("aria-label") or ""),
        "cash in CHF",
    )
    _select(driver, "cashflow-currency", "EUR")
    # The figures behind the cash-flow chart open as a table.
    _all(driver, "#cashflow-chart details.figures summary")[0].click()
    _wait(
        driver, lambda d: len(_all(d, "#cashflow-chart details[open] tbody tr")) == 12, "the weekly figures"
    )
    watch.check()


def _numbers(driver: Any) -> list[str]:
    return [r.text for r in _all(driver, "#invoice-list tbody th")]


def _apply(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "apply-filters").click()


def _check_filters(driver: Any, seeded: Seeded, watch: Watch) -> None:
    from selenium.webdriver.common.by import By

    receivables = len(RECEIVABLES)
    assert len(_numbers(driver)) == 25 and driver.find_element(By.ID, "invoices-more").is_displayed()
    driver.find_element(By.ID, "invoices-more").click()
    _wait(driver, lambda d: _idle(d) and len(_numbers(d)) == receivables, "the second page")
    assert not driver.find_element(By.ID, "invoices-more").is_displayed()

    _select(driver, "filter-status", "overdue")
    _apply(driver)
    _wait(driver, lambda d: _idle(d) and sorted(_numbers(d)) == ["R-0950", "R-0990"], "the overdue invoices")

    _select(driver, "filter-status", "")
    _select(driver, "filter-counterparty", seeded.parties["Bergbahnen Zermatt AG"])
    _apply(driver)
    _wait(
        driver,
        lambda d: _idle(d) and sorted(_numbers(d)) == ["R-1005", "R-1006"],
        "one counterparty's invoices",
    )

    _select(driver, "filter-counterparty", "")
    driver.find_element(By.ID, "filter-currency").send_keys("jpy")
    _apply(driver)
    _wait(driver, lambda d: _idle(d) and _numbers(d) == ["R-1004"], "the yen invoice")

    # Refused before any request: a currency that is not three letters, a range the wrong way round.
    driver.find_element(By.ID, "filter-currency").clear()
    driver.find_element(By.ID, "filter-currency").send_keys("E1")
    _apply(driver)
    _wait(driver, lambda d: "three letters" in _text(d, "#filters-message"), "the currency message")
    driver.find_element(By.ID, "filter-currency").clear()
    _set_date(driver, "filter-due-from", seeded.today + timedelta(days=5))
    _set_date(driver, "filter-due-to", seeded.today)
    _apply(driver)
    _wait(driver, lambda d: "before due from" in _text(d, "#filters-message"), "the range message")

    _set_date(driver, "filter-due-from", seeded.today)
    _set_date(driver, "filter-due-to", seeded.today + timedelta(days=10))
    _apply(driver)
    _wait(
        driver,
        lambda d: _idle(d) and sorted(_numbers(d)) == ["R-1001", "R-1002", "R-1005"],
        "a due-date range",
    )
    assert _text(driver, "#filters-message") == ""

    driver.find_element(By.ID, "reset-filters").click()
    _wait(driver, lambda d: _idle(d) and len(_numbers(d)) == 25, "every invoice again")
    watch.check()


def _set_date(driver: Any, element_id: str, day: date) -> None:
    # A date input's text depends on the browser's locale; its value is always ISO.
    driver.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
        " e.dispatchEvent(new Event('change', {bubbles: true}));",
        element_id,
        day.isoformat(),
    )


def _check_task_and_refresh(driver: Any, watch: Watch) -> None:
    from selenium.webdriver.common.by import By

    _all(driver, "#tasks li details summary")[0].click()
    _wait(
        driver,
        lambda d: _all(d, "#tasks li details[open] .script")[0].text.strip() != "",
        "the call's script",
    )
    driver.find_element(By.ID, "refresh").click()
    _wait(
        driver, lambda d: _loaded(d) and _all(d, "#tasks li") and _figure(d, "EUR") is not None, "a refresh"
    )
    watch.check()


def _check_payables(driver: Any, api: Api, seeded: Seeded, watch: Watch) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(
        By.XPATH, "//fieldset[contains(@class,'switch')]//label[input[@value='payable']]"
    ).click()
    summary = api.get("/v1/reports/summary?direction=payable", key=seeded.tenant.read_only).json()
    payables = next(f["outstanding"] for f in summary["figures"] if f["currency"] == "EUR")
    assert payables == 300000 + 75000
    _wait(
        driver,
        lambda d: _loaded(d) and (f := _figure(d, "EUR")) is not None and f.text == _euros(payables),
        "the payables' cards",
    )
    assert sorted(_numbers(driver)) == ["B-501", "B-502"]
    driver.find_element(
        By.XPATH, "//fieldset[contains(@class,'switch')]//label[input[@value='receivable']]"
    ).click()
    _wait(driver, lambda d: _loaded(d) and len(_numbers(d)) == 25, "the receivables again")
    watch.check()


def _sign_out(driver: Any, watch: Watch) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "sign-out").click()
    _wait(driver, lambda d: d.find_element(By.ID, "sign-in").is_displayed(), "the sign-in form again")
    assert driver.execute_script("return window.sessionStorage.length") == 0
    assert (
        _figure(driver, "EUR") is None
        and not _all(driver, "#invoice-list tr")
        and not _all(driver, "#tasks li")
    )
    assert "Signed out" in _text(driver, "#sign-in-message")
    watch.check()


def test_the_dashboard_in_a_browser(
    dashboard_now: datetime, api: Api, live_server: str, driver: Any, screenshot: Callable[[str], Any]
) -> None:
    seeded = _seed(api, dashboard_now)
    watch = Watch(driver)
    _resize(driver, WIDE)

    _sign_in(driver, watch, live_server, seeded)
    _check_panels(driver, seeded)
    assert _overlaps(driver) == []
    _check_cards(driver, api, seeded)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDE, min(int(height) + 140, 6000))
    screenshot("wide")
    _resize(driver, WIDE)

    _check_week(driver, api, seeded, watch)
    _check_chart_currencies(driver, watch)
    _check_filters(driver, seeded, watch)
    _check_task_and_refresh(driver, watch)
    _check_payables(driver, api, seeded, watch)

    # A phone: every panel still there, the cards' figures apart, the invoice list without sideways scrolling.
    _resize(driver, NARROW)
    _wait(driver, lambda d: _loaded(d) and not _list_scrolling(d), "the invoice list on a narrow screen")
    _check_panels(driver, seeded)
    assert _overlaps(driver) == []
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert driver.execute_script(TABLES_SCROLLING) == []
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(NARROW, min(int(height) + 140, 12000))
    screenshot("narrow")
    _resize(driver, NARROW)
    watch.check()

    _sign_out(driver, watch)

    called = watch.paths_called()
    for path in ("/v1/reports/summary", "/v1/reports/aging", "/v1/reports/cashflow", "/v1/reports/upcoming"):
        assert path in called
    for path in ("/v1/invoices", "/v1/campaigns", f"/v1/campaigns/{seeded.campaign_id}/stats", "/v1/tasks"):
        assert path in called
    assert watch.unexpected == [], watch.unexpected


def test_the_dashboard_files_are_public_typed_and_cached(api: Api) -> None:
    page = api.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.body.decode()
    for name, content_type in (("app.js", "text/javascript"), ("app.css", "text/css")):
        # Linked relative to the page (a deployed stage prefix still works), versioned by content.
        assert f'"dashboard/{name}?v=' in html
        asset = api.get(f"/dashboard/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"] == f"{content_type}; charset=utf-8"
        assert asset.headers["cache-control"] == "public, max-age=86400"
    listed = api.get("/v1/openapi.json").json()["paths"]
    assert listed["/dashboard"]["get"]["security"] == []
