"""The dashboard's subscriptions panel in a real browser, at a fixed instant (`dashboard_now`), at
1400 and 390 px wide.

A tenant gets the demo's subscription billing (infra/localcloud/demo_billing.py: a subscription on a
trial, one upgraded with a proration invoice, one yearly, one past due after a declined charge). The
panel must show every part the API's overview has: the count of each status, MRR per plan with its
interval and subscriptions and the total per currency, and the invoices of the next 30 days with
their customer, status and estimate; after a pause made elsewhere, Refresh shows the new figures;
signing out empties it. Nothing may make the page scroll sideways, any API answer of 4xx/5xx or any
console error fails, and waits are bounded waits on conditions, never timings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from localcloud.demo_billing import seed_billing
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

CUSTOMERS = {
    "Studio Lumière SARL": "FR",
    "Bäckerei Sonnenschein KG": "DE",
    "Alpine Logistics AG": "CH",
    "Harbour & Sons Ltd": "GB",
}
STATUS_LABELS = {
    "active": "Active",
    "trialing": "Trialing",
    "past_due": "Past due",
    "incomplete": "Incomplete",
    "paused": "Paused",
    "canceled": "Canceled",
}
INTERVAL_TEXT = {("month", 1): "Monthly", ("year", 1): "Yearly"}


def _seed(api: Api, now: datetime) -> tuple[TestTenant, dict[str, str], dict[str, str]]:
    tenant = make_tenant("Abo Demo GmbH", now=now)
    customers = {}
    for name, country in CUSTOMERS.items():
        body = {"name": name, "email": "ap@customer.example", "country": country}
        customers[name] = _created(api.post("/v1/counterparties", key=tenant.finance, json_body=body))["id"]
    billing = seed_billing(tenant.tenant_id, customers, now)
    return tenant, billing.subscriptions, {cp: name for name, cp in customers.items()}


def _overview(api: Api, tenant: TestTenant) -> dict[str, Any]:
    response = api.get("/v1/subscriptions/overview", key=tenant.read_only)
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def _short_day(iso: str) -> str:
    """As the page writes a short day in en-US: "Mar 23"."""
    day = date.fromisoformat(iso)
    return f"{day:%b} {day.day}"


def _panel_ready(driver: Any) -> bool:
    return _idle(driver) and bool(_all(driver, "#subscription-counts dd[data-status]"))


def _sign_in(driver: Any, watch: Watch, live_server: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server}/dashboard")
    _wait(driver, lambda d: d.find_element(By.ID, "api-key").is_displayed(), "the sign-in form")
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: _panel_ready(d) and _loaded(d), "the subscriptions panel")
    watch.check()


def _check_panel(driver: Any, overview: dict[str, Any], names: dict[str, str]) -> None:
    """Every part of the panel shows what the API's overview has."""
    status = _all(driver, "#subscriptions-panel > .status")[0]
    assert "error" not in (status.get_attribute("class") or "") and status.text == ""
    assert _text(driver, "#subscriptions-title") == "Subscriptions"

    # The count of every status, labelled, in the API's order of importance.
    shown = _all(driver, "#subscription-counts dd[data-status]")
    assert [dd.get_attribute("data-status") for dd in shown] == list(STATUS_LABELS)
    for dd in shown:
        key = dd.get_attribute("data-status")
        assert int(dd.get_attribute("data-count")) == overview["counts"][key] and dd.text == str(
            overview["counts"][key]
        )
    labels = [dt.text for dt in _all(driver, "#subscription-counts dt")]
    assert labels == list(STATUS_LABELS.values())

    # MRR: a row per plan (name, interval, subscriptions, amount), then the total per currency.
    assert _text(driver, "#subscription-mrr-title") == "MRR per plan"
    assert "a year's price / 12" in _text(driver, "#subscriptions-panel .subs-part .help")
    rows = _all(driver, "#subscription-mrr tbody tr.plan")
    assert [row.get_attribute("data-price") for row in rows] == [p["price_id"] for p in overview["mrr"]]
    for row, plan in zip(rows, overview["mrr"], strict=True):
        head = row.find_element("css selector", "th").text
        assert (
            plan["product_name"] in head and INTERVAL_TEXT[(plan["interval"], plan["interval_count"])] in head
        )
        subs = row.find_element("css selector", 'td[data-figure="subscriptions"]').text
        assert int(subs) == plan["subscriptions"]
        money = row.find_element("css selector", 'td[data-figure="mrr"] .money')
        assert int(money.get_attribute("data-amount")) == plan["mrr"] and money.text == _euros(plan["mrr"])
    totals = _all(driver, "#subscription-mrr tbody tr.total")
    assert [t.get_attribute("data-currency") for t in totals] == [
        t["currency"] for t in overview["mrr_total"]
    ]
    for row, total in zip(totals, overview["mrr_total"], strict=True):
        assert f"Total {total['currency']}" in row.text
        money = row.find_element("css selector", 'td[data-figure="mrr-total"] .money')
        assert int(money.get_attribute("data-amount")) == total["mrr"] and money.text == _euros(total["mrr"])

    # The next 30 days' invoices: day, customer with the subscription's status, estimate.
    assert _text(driver, "#subscription-upcoming-title") == "Invoices in the next 30 days"
    upcoming = _all(driver, "#subscription-upcoming tbody tr.upcoming")
    assert [r.get_attribute("data-id") for r in upcoming] == [
        u["subscription_id"] for u in overview["upcoming"]
    ]
    for row, expected in zip(upcoming, overview["upcoming"], strict=True):
        day = row.find_element("css selector", "time")
        assert day.get_attribute("datetime") == expected["invoice_date"]
        assert day.text == _short_day(expected["invoice_date"])
        assert row.find_element("css selector", ".customer").text == names[expected["counterparty_id"]]
        badge = row.find_element("css selector", ".badge")
        assert expected["status"] in (badge.get_attribute("class") or "")
        assert badge.text == STATUS_LABELS[expected["status"]]
        money = row.find_element("css selector", 'td[data-figure="estimate"] .money')
        assert int(money.get_attribute("data-amount")) == expected["amount_estimate"]
        assert money.text == _euros(expected["amount_estimate"])


# Neither the page nor the panel's tables may be wider than the window.
NO_SIDEWAYS = """
const width = window.innerWidth;
const problems = [];
const page = document.documentElement.scrollWidth;
if (page > width) problems.push(`page ${page} > ${width}`);
for (const node of document.querySelectorAll("#subscriptions-panel .table-wrap, #subscriptions-panel dl")) {
  const r = node.getBoundingClientRect();
  if (r.right > width + 0.5 || node.scrollWidth > node.clientWidth + 1) {
    problems.push(`${node.parentElement.id} ${node.scrollWidth} > ${node.clientWidth}`);
  }
}
return problems;
"""


def _fits(driver: Any) -> list[str]:
    return list(driver.execute_script(NO_SIDEWAYS))


def _full_screenshot(driver: Any, screenshot: Callable[[str], Any], width: int, name: str) -> None:
    driver.execute_script('document.getElementById("subscriptions-panel").scrollIntoView()')
    screenshot(name)


def test_the_subscriptions_panel_in_a_browser(
    dashboard_now: datetime, api: Api, live_server: str, driver: Any, screenshot: Callable[[str], Any]
) -> None:
    from selenium.webdriver.common.by import By

    tenant, subs, names = _seed(api, dashboard_now)
    overview = _overview(api, tenant)
    # What the demo makes, so the panel has each kind of row to show.
    assert {k: n for k, n in overview["counts"].items() if n} == {"trialing": 1, "active": 2, "past_due": 1}
    assert len(overview["mrr"]) == 2 and len(overview["upcoming"]) == 3
    assert {u["status"] for u in overview["upcoming"]} == {"active", "trialing", "past_due"}
    watch = Watch(driver)

    # Wide: MRR and the upcoming invoices side by side.
    _resize(driver, WIDE)
    _sign_in(driver, watch, live_server, tenant.read_only)
    _check_panel(driver, overview, names)
    parts = _all(driver, "#subscriptions-panel .subs-part")
    assert parts[0].rect["y"] == parts[1].rect["y"] and parts[0].rect["x"] < parts[1].rect["x"]
    assert _fits(driver) == []
    _full_screenshot(driver, screenshot, WIDE, "wide")
    watch.check()

    # A phone: one under the other, nothing wider than the screen.
    _resize(driver, NARROW)
    _wait(driver, lambda d: _loaded(d) and not _fits(d), "the panel on a narrow screen")
    parts = _all(driver, "#subscriptions-panel .subs-part")
    assert parts[1].rect["y"] > parts[0].rect["y"]
    _check_panel(driver, overview, names)
    _full_screenshot(driver, screenshot, NARROW, "narrow")

    # Paused elsewhere, the yearly subscription leaves MRR once the page is refreshed.
    paused = api.post(f"/v1/subscriptions/{subs['yearly']}/pause", key=tenant.finance)
    assert paused.status_code == 200, paused.json()
    after = _overview(api, tenant)
    assert after["counts"]["paused"] == 1 and len(after["mrr"]) == 1
    driver.find_element(By.ID, "refresh").click()
    _wait(
        driver,
        lambda d: _loaded(d) and len(_all(d, "#subscription-mrr tbody tr.plan")) == 1,
        "the refreshed panel",
    )
    _check_panel(driver, after, names)
    assert _fits(driver) == []
    watch.check()

    # Signing out empties the panel.
    driver.find_element(By.ID, "sign-out").click()
    _wait(driver, lambda d: d.find_element(By.ID, "sign-in").is_displayed(), "the sign-in form again")
    for box in ("subscription-counts", "subscription-mrr", "subscription-upcoming"):
        assert not _all(driver, f"#{box} *"), box
    watch.check()

    assert "/v1/subscriptions/overview" in watch.paths_called()
    assert watch.unexpected == [], watch.unexpected
    assert BERLIN.key == "Europe/Berlin"  # dashboard_now's day is Berlin's, as the demo's "today"
