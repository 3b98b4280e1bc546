"""The web dashboard in a real browser: sign in with a read-only key, read the cards, open a week's
payments from the chart, filter the invoice list, switch to payables, sign out; the page must log
no console error (the only failed requests allowed are the ones the step expects)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from tests.utils import Api, TestTenant, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.ddb]

WAIT_S = 15

# (number, counterparty, days from today to the due date, amount in minor units, currency)
RECEIVABLES = [
    ("R-1001", "Nordwind AG", 3, 123456, "EUR"),
    ("R-1002", "Nordwind AG", 10, 250000, "EUR"),
    ("R-1003", "Havel Logistik GmbH", 17, 9999, "EUR"),
    ("R-0990", "Havel Logistik GmbH", -12, 45000, "EUR"),
    ("R-1004", "Sakura KK", 24, 120000, "JPY"),  # yen have no minor unit: 120000 is ¥120,000
]
PAYABLES = [
    ("B-501", "Stadtwerke Potsdam", 5, 300000, "EUR"),
    ("B-502", "Papier & Co", 19, 75000, "EUR"),
]


def _seed(api: Api) -> tuple[TestTenant, date]:
    tenant = make_tenant("Dashboard Demo GmbH")
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    for direction, rows in (("receivable", RECEIVABLES), ("payable", PAYABLES)):
        for number, name, due_in, amount, currency in rows:
            due = today + timedelta(days=due_in)
            created = api.post(
                "/v1/invoices",
                key=tenant.finance,
                json_body={
                    "direction": direction,
                    "counterparty": {"name": name, "external_reference": name.lower().replace(" ", "-")},
                    "number": number,
                    "issue_date": (due - timedelta(days=30)).isoformat(),
                    "due_date": due.isoformat(),
                    "currency": currency,
                    "amount_due": amount,
                },
            )
            assert created.status_code == 201, created.json()
    campaign = api.post(
        "/v1/campaigns",
        key=tenant.admin,
        json_body={
            "name": "Standard reminders",
            "steps": [{"offset_days": 3, "channel": "email"}, {"offset_days": 14, "channel": "call_task"}],
        },
    )
    assert campaign.status_code == 201, campaign.json()
    return tenant, today


def _outstanding(summary: dict[str, Any], direction: str, currency: str) -> int:
    """What the API says: the detailed figures when the summary has them, else its cards."""
    if isinstance(summary.get("figures"), list):
        return int(next(f["outstanding"] for f in summary["figures"] if f["currency"] == currency))
    return int(
        next(
            c["outstanding"]
            for c in summary["cards"]
            if c["direction"] == direction and c["currency"] == currency
        )
    )


def _missing_routes(api: Api, key: str) -> set[str]:
    """Report routes still being built elsewhere: the page shows "not available" for them."""
    probes = ["/v1/reports/aging?direction=receivable", "/v1/reports/cashflow?weeks=12"]
    return {urlparse(p).path for p in probes if api.get(p, key=key).status_code == 404}


class Console:
    """The browser's log, read after each step; SEVERE entries fail unless the step expects them."""

    def __init__(self, driver: Any, missing_routes: set[str]):
        self.driver = driver
        self.missing_routes = missing_routes
        self.unexpected: list[dict[str, Any]] = []

    def _route_not_there(self, entry: dict[str, Any]) -> bool:
        message = entry.get("message", "")
        if entry.get("source") != "network" or "status of 404" not in message:
            return False
        url = message.split(" ", 1)[0]
        return urlparse(url).path in self.missing_routes

    def check(self, expected: Callable[[dict[str, Any]], bool] = lambda _: False) -> None:
        for entry in self.driver.get_log("browser"):
            if entry["level"] != "SEVERE" or expected(entry) or self._route_not_there(entry):
                continue
            self.unexpected.append(entry)


def _wait(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition, message=what)


def _idle(driver: Any) -> bool:
    return bool(driver.execute_script('return !document.querySelector("[aria-busy=true]")'))


def _text(driver: Any, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def _figure(driver: Any, currency: str) -> Any:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(
        By.CSS_SELECTOR,
        f'dd[data-figure="outstanding"][data-scope="currency"][data-currency="{currency}"] .money',
    )
    return found[0] if found else None


OVERFLOWING = """
const width = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth <= width) return [];
return [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > width + 1 && !e.closest(".table-wrap"))
  .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.getAttribute("class") || ""}`)
  .slice(0, 10);
"""


def _overflowing(driver: Any) -> list[str]:
    """Elements sticking out on the right (wide tables scroll inside their own box: allowed)."""
    return list(driver.execute_script(OVERFLOWING))


def _euros(minor: int) -> str:
    return f"€{minor / 100:,.2f}"


def test_the_dashboard_in_a_browser(
    api: Api, live_server: str, driver: Any, screenshot: Callable[[str], Any]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    started = time.monotonic()
    tenant, today = _seed(api)
    console = Console(driver, _missing_routes(api, tenant.read_only))

    driver.get(f"{live_server}/dashboard")
    _wait(driver, lambda d: d.find_element(By.ID, "api-key").is_displayed(), "the sign-in form")
    assert driver.title == "Cashline dashboard"
    console.check()

    # A refused key stays on the form with a message (the 401 is the one failure expected here).
    driver.find_element(By.ID, "api-key").send_keys("clk_ten_nobody.key_nobody.wrong")
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: "refused" in _text(d, "#sign-in-message"), "the refused-key message")
    assert not driver.find_element(By.ID, "dashboard").is_displayed()
    console.check(
        lambda e: e.get("source") == "network" and "/v1/tenant" in e["message"] and "401" in e["message"]
    )

    # Sign in with the read-only key: the cards say what the API says.
    driver.find_element(By.ID, "api-key").send_keys(tenant.read_only)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: d.find_element(By.ID, "dashboard").is_displayed(), "the dashboard")
    _wait(driver, lambda d: _figure(d, "EUR") is not None and _idle(d), "the summary cards")
    assert _text(driver, "#tenant-name") == "Dashboard Demo GmbH"
    summary = api.get("/v1/reports/summary?direction=receivable", key=tenant.read_only).json()
    eur = _outstanding(summary, "receivable", "EUR")
    assert eur == 123456 + 250000 + 9999 + 45000
    shown = _figure(driver, "EUR")
    assert int(shown.get_attribute("data-amount")) == eur
    assert shown.text == _euros(eur)  # "€4,284.55" in en-US
    assert _figure(driver, "JPY").text == "¥120,000"  # no decimals for yen: never assumed 2
    screenshot("signed-in")
    console.check()

    # The week chart: the bar of R-1002's week holds what the API says; clicking lists its payments.
    due = today + timedelta(days=10)
    iso_year, iso_week, _ = due.isocalendar()
    period = f"{iso_year}-W{iso_week:02d}"
    monday = today - timedelta(days=today.weekday())
    periods = api.get(
        f"/v1/reports/upcoming?direction=receivable&group_by=week&from={monday}"
        f"&to={monday + timedelta(days=83)}",
        key=tenant.read_only,
    ).json()["periods"]
    week_total = sum(p["amount"] for p in periods if p["period"] == period and p["currency"] == "EUR")
    bar = driver.find_element(By.CSS_SELECTOR, f'#weeks-chart g.bar[data-period="{period}"]')
    assert int(bar.get_attribute("data-amount")) == week_total > 0
    bar.click()
    _wait(
        driver,
        lambda d: d.find_element(By.ID, "week-detail").get_attribute("data-period") == period,
        "the week's payments",
    )
    assert bar.get_attribute("aria-pressed") == "true"
    listed = {
        row.get_attribute("data-id") for row in driver.find_elements(By.CSS_SELECTOR, "#week-detail tbody tr")
    }
    expected = api.get(
        f"/v1/reports/upcoming?direction=receivable&period={period}", key=tenant.read_only
    ).json()
    assert listed == {p["id"] for p in expected["payments"]}
    assert "R-1002" in _text(driver, "#week-detail")
    console.check()

    # The invoice list, filtered by status: only the overdue one is left.
    def statuses(d: Any) -> list[str]:
        return [
            r.get_attribute("data-status") for r in d.find_elements(By.CSS_SELECTOR, "#invoice-list tbody tr")
        ]

    assert len(set(statuses(driver))) > 1  # before filtering: several statuses
    Select(driver.find_element(By.ID, "filter-status")).select_by_value("overdue")
    driver.find_element(By.ID, "apply-filters").click()
    _wait(driver, lambda d: _idle(d) and statuses(d) == ["overdue"], "only the overdue invoice")
    numbers = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#invoice-list tbody th")]
    assert numbers == ["R-0990"]
    screenshot("week-and-filter")

    # The whole page at 1280 wide, for a look at every panel.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 140, 4000))
    screenshot("full-page")
    console.check()

    # Payables: the cards follow the switch.
    driver.set_window_size(1280, 800)
    driver.find_element(
        By.XPATH, "//fieldset[contains(@class,'switch')]//label[input[@value='payable']]"
    ).click()
    payables = _outstanding(
        api.get("/v1/reports/summary?direction=payable", key=tenant.read_only).json(), "payable", "EUR"
    )
    assert payables == 300000 + 75000
    _wait(
        driver,
        lambda d: _idle(d) and (f := _figure(d, "EUR")) is not None and f.text == _euros(payables),
        "the payables' cards",
    )
    console.check()

    # A narrow screen: one column, nothing wider than the screen.
    driver.set_window_size(390, 844)
    try:
        _wait(driver, lambda d: not _overflowing(d), "no horizontal scrolling on a narrow screen")
    except Exception:
        pytest.fail(f"wider than a narrow screen: {_overflowing(driver)}")
    driver.execute_script("window.scrollTo(0, 0)")
    screenshot("narrow")
    driver.execute_script('document.getElementById("weeks-panel").scrollIntoView()')
    screenshot("narrow-chart")
    driver.set_window_size(1280, 800)

    # Sign out: back to the form, the key gone from the tab, the figures gone from the page.
    driver.find_element(By.ID, "sign-out").click()
    _wait(driver, lambda d: d.find_element(By.ID, "sign-in").is_displayed(), "the sign-in form again")
    assert driver.execute_script("return window.sessionStorage.length") == 0
    assert _figure(driver, "EUR") is None
    assert "Signed out" in _text(driver, "#sign-in-message")
    console.check()

    assert console.unexpected == [], f"console errors: {console.unexpected}"
    assert time.monotonic() - started < 60


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
