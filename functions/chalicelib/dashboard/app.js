// Cashline's web dashboard: plain JavaScript over the public API, no framework, no build step.
// Every panel loads on its own; a failure shows in that panel (a 404 as "not available"), a 401
// anywhere returns to the sign-in form. Charts are inline SVG drawn below. Text from the API is
// always set as text (never parsed as HTML).
"use strict";

(() => {
  const KEY_STORAGE = "cashline.dashboard.apiKey";
  // "/dashboard" locally, "/api/dashboard" behind a deployed stage: the API lives beside the page.
  const API_BASE = window.location.pathname.replace(/\/dashboard\/?$/, "");
  const LOCALE = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const WEEKS = 12;
  const PALETTE_SIZE = 6;
  const BUCKET_LABELS = {
    current: "Not yet due",
    "1_30": "1–30 days",
    "31_60": "31–60 days",
    "61_90": "61–90 days",
    over_90: "Over 90 days",
  };
  const SHORT_BUCKET_LABELS = { current: "Not due", "1_30": "1–30", "31_60": "31–60", "61_90": "61–90", over_90: "> 90" };
  const CHANNEL_LABELS = { email: "E-mail", sms: "SMS", letter: "Letter", call_task: "Call task" };
  // The API's payment methods (schemas/payment_events.py PaymentMethod) as people say them.
  const METHOD_LABELS = {
    card: "Card",
    sepa_debit: "SEPA Direct Debit",
    bacs_debit: "Bacs Direct Debit",
    ach_debit: "ACH Direct Debit",
    becs_debit: "BECS Direct Debit",
    autogiro: "Autogiro",
    bank_transfer: "Bank transfer",
    paypal: "PayPal",
    cash: "Cash",
    cheque: "Cheque",
    other: "Other",
  };
  const STATUS_LABELS = {
    draft: "Draft",
    open: "Open",
    partially_paid: "Partially paid",
    paid: "Paid",
    overdue: "Overdue",
    disputed: "Disputed",
    void: "Void",
    written_off: "Written off",
  };

  const state = {
    key: null,
    tenant: null,
    today: null,
    direction: "receivable",
    invoiceCursor: null,
    invoiceQuery: {},
    selectedWeek: null,
    weeks: null, // {currency: [{period, first_day, amount, count}]}
    aging: null,
    cashflow: null,
    tokens: {},
    signingOut: false,
  };

  // ---------------------------------------------------------------- small DOM helpers

  const $ = (selector, root = document) => root.querySelector(selector);

  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    setAttrs(element, attrs);
    append(element, children);
    return element;
  }

  function s(tag, attrs, ...children) {
    const element = document.createElementNS(SVG_NS, tag);
    setAttrs(element, attrs);
    append(element, children);
    return element;
  }

  function setAttrs(element, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") element.textContent = String(value);
      else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(element, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function clear(element) {
    element.replaceChildren();
    return element;
  }

  // A chart is drawn for one window width; it records that width so a resize redraws only the charts
  // drawn for another one (and so a test can tell when every chart has caught up with the window).
  function chartBox(id) {
    const box = clear($(`#${id}`));
    box.dataset.drawnWidth = String(window.innerWidth);
    return box;
  }

  // A data table in its own scrolling box: a wide one scrolls sideways, the page never does.
  function table(caption, headers, rows, options = {}) {
    return h("div", { class: "table-wrap" }, h(
      "table",
      { class: options.className || "data" },
      caption ? h("caption", { class: options.captionHidden ? "sr-only" : null, text: caption }) : null,
      h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col", class: header.numeric ? "num" : null, text: header.label || header })))),
      h("tbody", {}, rows),
    ));
  }

  function cell(content, numeric = false, attrs = {}) {
    return h("td", { class: numeric ? "num" : null, ...attrs }, content);
  }

  // ---------------------------------------------------------------- formatting

  const currencyFormats = new Map();

  function currencyFormat(currency, compact = false) {
    const key = `${currency}|${compact}`;
    if (!currencyFormats.has(key)) {
      let format = null;
      try {
        format = new Intl.NumberFormat(LOCALE, compact
          ? { style: "currency", currency, notation: "compact", maximumFractionDigits: 1 }
          : { style: "currency", currency });
      } catch (error) {
        format = null; // not an ISO 4217 code this browser knows: shown as a plain number below
      }
      currencyFormats.set(key, format);
    }
    return currencyFormats.get(key);
  }

  // The currency's minor-unit digits as Intl knows them (JPY 0, EUR 2, BHD 3): never assume 2.
  function minorDigits(currency) {
    const format = currencyFormat(currency);
    return format ? format.resolvedOptions().maximumFractionDigits : 0;
  }

  function toMajor(amount, currency) {
    return Number(amount) / 10 ** minorDigits(currency);
  }

  function money(amount, currency, compact = false) {
    if (amount === null || amount === undefined) return "—";
    const format = currencyFormat(currency, compact);
    if (!format) return `${amount} ${currency}`;
    return format.format(toMajor(amount, currency));
  }

  // `breakable`: a long amount may wrap after the currency code and at the thousands separators
  // (a <wbr> there) instead of running into the next figure; the text itself stays the same.
  function moneyNode(amount, currency, { breakable = false, ...attrs } = {}) {
    const node = h("span", { class: breakable ? "money breakable" : "money", "data-amount": amount, "data-currency": currency, ...attrs });
    const format = currencyFormat(currency);
    if (!breakable || !format || amount === null || amount === undefined) {
      node.textContent = money(amount, currency);
      return node;
    }
    for (const part of format.formatToParts(toMajor(amount, currency))) {
      node.append(part.value);
      if (part.type === "group" || part.type === "literal") node.append(document.createElement("wbr"));
    }
    return node;
  }

  const percentFormat = new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 1 });
  const decimalFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });
  const integerFormat = new Intl.NumberFormat(LOCALE);
  const dateFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeZone: "UTC" });
  const shortDateFormat = new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short", timeZone: "UTC" });

  const percent = (value) => (value === null || value === undefined ? "—" : percentFormat.format(value));
  const days = (value) => (value === null || value === undefined ? "—" : `${decimalFormat.format(value)} d`);
  const count = (value) => (value === null || value === undefined ? "—" : integerFormat.format(value));

  function parseDay(iso) {
    return new Date(`${iso}T00:00:00Z`);
  }

  function formatDay(iso, short = false) {
    if (!iso) return "—";
    const day = parseDay(iso);
    if (Number.isNaN(day.getTime())) return String(iso);
    return (short ? shortDateFormat : dateFormat).format(day);
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function addDays(iso, n) {
    const day = parseDay(iso);
    day.setUTCDate(day.getUTCDate() + n);
    return isoDay(day);
  }

  function mondayOf(iso) {
    const day = parseDay(iso);
    return addDays(iso, -((day.getUTCDay() + 6) % 7));
  }

  function isoWeek(iso) {
    const thursday = parseDay(addDays(mondayOf(iso), 3));
    const year = thursday.getUTCFullYear();
    const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / 86400000 / 7);
    return `${year}-W${String(week).padStart(2, "0")}`;
  }

  function todayIn(timeZone) {
    try {
      const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
        .formatToParts(new Date());
      const part = (type) => parts.find((p) => p.type === type).value;
      return `${part("year")}-${part("month")}-${part("day")}`;
    } catch (error) {
      return isoDay(new Date());
    }
  }

  const directionLabel = (direction) => (direction === "payable" ? "Payables" : "Receivables");
  // A method this page does not know yet still reads as words: "direct_debit_x" -> "Direct debit x".
  const methodLabel = (method) => METHOD_LABELS[method]
    || (method ? String(method).charAt(0).toUpperCase() + String(method).slice(1).replace(/_/g, " ") : "Unknown");
  const kindLabel = (kind) => (kind === "installment" ? "Installment" : kind === "invoice" ? "Invoice" : kind || "—");

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, message, type) {
      super(message);
      this.status = status;
      this.type = type;
    }
  }

  // `send`: a POST's JSON body (and its Idempotency-Key); without it a GET.
  async function api(path, params = {}, send = null) {
    const url = new URL(API_BASE + path, window.location.origin);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
    }
    const key = state.key;
    const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };
    const init = { headers, cache: "no-store" };
    if (send) {
      init.method = "POST";
      init.body = JSON.stringify(send.body);
      headers["Content-Type"] = "application/json";
      if (send.idempotencyKey) headers["Idempotency-Key"] = send.idempotencyKey;
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(0, "the API could not be reached (network error)");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const detail = body && body.error ? body.error : {};
      const error = new ApiError(response.status, detail.message || `HTTP ${response.status}`, detail.type);
      if (response.status === 401 && key === state.key && state.key !== null) {
        signOut("Your API key was refused (missing, unknown, revoked or expired). Sign in again.");
      }
      throw error;
    }
    if (body === null) throw new ApiError(response.status, "the API's answer is not JSON");
    return body;
  }

  function describe(error) {
    if (error instanceof ApiError) {
      if (error.status === 0) return `Could not load: ${error.message}.`;
      return `Could not load (HTTP ${error.status}): ${error.message}`;
    }
    return `Could not show this: ${error && error.message ? error.message : error}`;
  }

  function setStatus(panel, text, kind = "info") {
    const status = $(".status", panel);
    status.textContent = text || "";
    status.className = `status ${text ? kind : ""}`.trim();
  }

  // Loads one panel (or several fed by one request): `load` fetches and returns a function that
  // renders; a stale answer (the direction changed meanwhile) is dropped, an error is shown in the
  // panels, a 404 (a route this API does not have yet) as "not available".
  async function loadPanel(panelIds, load, clearOnError = []) {
    const ids = Array.isArray(panelIds) ? panelIds : [panelIds];
    const panels = ids.map((id) => document.getElementById(id));
    const tokenName = ids[0];
    const token = (state.tokens[tokenName] || 0) + 1;
    state.tokens[tokenName] = token;
    const current = () => state.tokens[tokenName] === token && state.key !== null;
    for (const panel of panels) {
      panel.setAttribute("aria-busy", "true");
      setStatus(panel, "Loading…");
    }
    try {
      const render = await load();
      if (!current()) return;
      for (const panel of panels) setStatus(panel, "");
      render();
    } catch (error) {
      if (!current()) return;
      for (const id of clearOnError) clear(document.getElementById(id));
      const notThere = error instanceof ApiError && error.status === 404;
      for (const panel of panels) {
        setStatus(panel, notThere ? "Not available: this API does not offer it yet." : describe(error), notThere ? "muted" : "error");
      }
    } finally {
      if (state.tokens[tokenName] === token) {
        for (const panel of panels) panel.setAttribute("aria-busy", "false");
      }
    }
  }

  // ---------------------------------------------------------------- sign in and out

  function showSignIn(message, kind = "error") {
    $("#dashboard").hidden = true;
    $("#session").hidden = true;
    $("#sign-in").hidden = false;
    const target = $("#sign-in-message");
    target.textContent = message || "";
    target.className = `message ${kind}`;
    $("#api-key").value = "";
    $("#api-key").focus();
  }

  function signOut(message, kind = "error") {
    state.key = null;
    state.tenant = null;
    // Whatever is still on its way belongs to the old key: every pending answer becomes stale.
    for (const name of Object.keys(state.tokens)) state.tokens[name] += 1;
    for (const panel of document.querySelectorAll("#dashboard .panel")) panel.setAttribute("aria-busy", "false");
    state.weeks = null;
    state.aging = null;
    state.cashflow = null;
    state.invoiceCursor = null;
    $("#invoices-more").hidden = true;
    $("#invoice-filters").reset();
    clear($("#filter-counterparty")).append(h("option", { value: "", text: "Any" }));
    for (const tools of document.querySelectorAll(".chart-tools")) tools.hidden = true;
    try {
      window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (error) {
      // storage blocked: nothing was kept
    }
    for (const id of ["cards", "cards-notes", "by-method", "next-payments", "weeks-chart", "week-detail", "aging-chart", "aging-table",
      "cashflow-chart", "cashflow-basis", "invoice-list", "campaigns", "tasks", ...RECONCILIATION_BOXES, ...SUBSCRIPTION_BOXES]) {
      delete clear(document.getElementById(id)).dataset.drawnWidth;
    }
    for (const status of document.querySelectorAll("#dashboard .status, #filters-message")) status.textContent = "";
    showSignIn(message, kind);
  }

  async function signIn(key) {
    state.key = key;
    const button = $("#sign-in-button");
    button.disabled = true;
    const message = $("#sign-in-message");
    message.className = "message info";
    message.textContent = "Signing in…";
    try {
      const tenant = await api("/v1/tenant");
      if (state.key !== key) return;
      try {
        window.sessionStorage.setItem(KEY_STORAGE, key);
      } catch (error) {
        // private mode without storage: the key lives until the page is left
      }
      start(tenant);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        signOut("That API key was refused: it is missing, unknown, revoked or expired.");
      } else {
        state.key = null;
        showSignIn(describe(error));
      }
    } finally {
      button.disabled = false;
    }
  }

  function start(tenant) {
    state.tenant = tenant;
    // Until the summary says which day the API counts as today, the browser's own day in the
    // tenant's zone; the summary's `as_of` then replaces it (loadAll).
    state.today = todayIn(tenant.timezone);
    $("#tenant-name").textContent = tenant.name;
    $("#sign-in").hidden = true;
    $("#sign-in-message").textContent = "";
    $("#session").hidden = false;
    $("#dashboard").hidden = false;
    $("#filter-direction").value = state.direction;
    loadAll();
    loadCounterparties();
  }

  // The weeks, the cash flow's weeks, days past due and today's tasks depend on which day it is:
  // they load once the summary has said which day the API counts as today, so a browser whose clock
  // or zone is off shows the same days as the figures (and a test can pin the day on the server).
  const DAY_PANELS = ["weeks-panel", "cashflow-panel", "invoices-panel", "tasks-panel", "reconciliation-panel"];

  function loadAll() {
    $("#as-of").textContent = `Today: ${formatDay(state.today)} (${state.tenant.timezone})`;
    for (const id of DAY_PANELS) document.getElementById(id).setAttribute("aria-busy", "true");
    const dayKnown = loadSummary();
    loadAging();
    loadCollection();
    loadSubscriptions();
    readInvoiceFilters();
    dayKnown.then(() => {
      if (state.key === null) return;
      loadWeeks();
      loadCashflow();
      loadInvoices(false);
      loadTasks();
      loadReconciliation();
    });
  }

  // ---------------------------------------------------------------- summary cards

  function loadSummary() {
    const direction = state.direction;
    return loadPanel(["cards-panel", "next-panel"], async () => {
      const summary = await api("/v1/reports/summary", { direction });
      if (summary.as_of) state.today = summary.as_of;
      return () => {
        renderCards(summary, direction);
        renderNextPayments(summary);
      };
    }, ["cards", "cards-notes", "by-method", "next-payments"]);
  }

  function figure(label, value, attrs = {}, note = null) {
    return h("div", { class: "figure" },
      h("dt", { text: label }),
      h("dd", attrs, value, note ? h("small", { class: "note", text: note }) : null));
  }

  // Days in the summary's period, both ends included (as the API counts them for DSO).
  function periodDays(period) {
    if (!period || !period.from || !period.to) return null;
    return Math.round((parseDay(period.to) - parseDay(period.from)) / 86400000) + 1;
  }

  // DSO = outstanding today / billed in the period x the period's days. When less was billed in the
  // period than is outstanding, the ratio runs past the period's own length (945.7 d after a quiet
  // quarter): the period's billing cannot tell how long customers take, only that it is longer than
  // the period. The card then says "> N d" and why, instead of a precise-looking figure.
  function dsoFigure(figures, receivable, period, currency) {
    const name = receivable ? "DSO" : "DPO";
    const span = periodDays(period);
    const billed = receivable ? "billed" : "billed to you";
    const how = `Outstanding ÷ ${billed} in the period × ${span === null ? "its days" : `${count(span)} days`}`;
    const attrs = { "data-figure": "dso_days", title: `${name} = ${how.toLowerCase()}` };
    const value = figures.dso_days;
    if (value === null || value === undefined) {
      return figure(name, "—", { ...attrs, "data-reliable": "false" }, `Nothing ${billed} in the period, so no ${name}.`);
    }
    if (span !== null && value > span) {
      return figure(name, `> ${count(span)} d`, { ...attrs, "data-reliable": "false", "data-value": value },
        `Not reliable: more is outstanding (${money(figures.outstanding, currency)}) than was ${billed} in the period `
        + `(${money(figures.billed_in_period, currency)}); the ratio would say ${days(value)}.`);
    }
    return figure(name, days(value), { ...attrs, "data-reliable": "true", "data-value": value }, how);
  }

  function figureCard(title, figures, currency, direction, scope, period) {
    const receivable = direction === "receivable";
    const amount = (name, label, note = null) => figure(label, moneyNode(figures[name], currency, { breakable: true }), {
      "data-figure": name, "data-scope": scope, "data-currency": currency,
    }, note);
    const id = `card-${scope}-${currency}`;
    return h("article", { class: `card ${scope}`, "aria-labelledby": id },
      h("h3", { id, text: title }),
      h("dl", {},
        amount("outstanding", "Outstanding"),
        amount("overdue", receivable ? "Overdue" : "Past due"),
        amount("due_next_30_days", "Due in the next 30 days"),
        "open_count" in figures ? figure("Open items", count(figures.open_count), { "data-figure": "open_count" }) : null,
        "average_days_past_due" in figures
          ? figure("Average days past due", days(figures.average_days_past_due), { "data-figure": "average_days_past_due" },
            figures.weighted_days_past_due === undefined ? null : `weighted by amount: ${days(figures.weighted_days_past_due)}`)
          : null,
        "dso_days" in figures ? dsoFigure(figures, receivable, period, currency) : null,
        "collection_rate" in figures
          ? figure(receivable ? "Collection rate" : "Payment rate", percent(figures.collection_rate), { "data-figure": "collection_rate" })
          : null,
        "billed_in_period" in figures ? amount("billed_in_period", receivable ? "Billed this period" : "Billed to you this period") : null,
        "collected_in_period" in figures
          ? amount("collected_in_period", receivable ? "Collected this period" : "Paid this period", "of the invoices due in the period")
          : null,
      ));
  }

  function renderCards(summary, direction) {
    const container = clear($("#cards"));
    const notes = [];
    let figures = Array.isArray(summary.figures) ? summary.figures : null;
    if (figures === null) {
      // An API without the detailed figures: the per-direction cards it has always had.
      figures = (summary.cards || [])
        .filter((c) => c.direction === direction)
        .map((c) => ({ currency: c.currency, outstanding: c.outstanding, overdue: c.overdue_or_past_due, due_next_30_days: c.due_next_30_days }));
      notes.push("Days past due, DSO and collection rate are not available from this API yet.");
    }
    for (const f of figures) {
      container.append(figureCard(f.currency, f, f.currency, direction, "currency", summary.period));
    }
    if (summary.base && summary.base_currency) {
      container.append(figureCard(`All currencies in ${summary.base_currency}`, summary.base, summary.base_currency, direction, "base", summary.period));
    }
    if (!figures.length) {
      container.append(h("p", { class: "empty", text: `No open ${directionLabel(direction).toLowerCase()}.` }));
    }
    if (Array.isArray(summary.missing_rates) && summary.missing_rates.length) {
      notes.push(`No exchange rate for ${summary.missing_rates.join(", ")}: left out of the ${summary.base_currency || "base currency"} total.`);
    }
    if (summary.as_of) $("#as-of").textContent = `As of ${formatDay(summary.as_of)} (${state.tenant.timezone})`;
    clear($("#cards-notes")).append(...notes.map((note) => h("p", { class: "note", text: note })));

    const byMethod = clear($("#by-method"));
    const methods = summary.payments_by_method || [];
    if (methods.length) {
      const receivable = direction === "receivable";
      const span = summary.period ? ` (${formatDay(summary.period.from)} – ${formatDay(summary.period.to)})` : "";
      byMethod.append(table(
        `${receivable ? "Received" : "Paid"} this period by method${span}`,
        ["Method", { label: "Payments", numeric: true }, { label: "Amount", numeric: true }],
        methods.map((m) => h("tr", { "data-method": m.method },
          cell(methodLabel(m.method)), cell(count(m.count), true), cell(moneyNode(m.amount, m.currency, { breakable: true }), true))),
      ));
      // The two figures answer different questions (services/insight.py): say so where both show.
      const collected = receivable ? "Collected this period" : "Paid this period";
      byMethod.append(h("p", { id: "by-method-note", class: "note" },
        `Why this differs from “${collected}”: that figure takes the invoices due in the period and counts what is `
        + "no longer owed on them, whenever it was paid, including what was credited or written off. This table counts "
        + "every payment with a value date in the period, whichever invoice it paid (also ones due before or after the "
        + "period) and money not yet applied to any invoice, less refunds and chargebacks."));
    }
  }

  function renderNextPayments(summary) {
    const container = clear($("#next-payments"));
    const payments = summary.next_payments || [];
    if (!payments.length) {
      container.append(h("p", { class: "empty", text: "Nothing falls due in the next 30 days." }));
      return;
    }
    container.append(paymentsTable("The next payments due", payments));
  }

  function paymentsTable(caption, payments) {
    return table(caption, ["Due", "Kind", "Invoice or plan", { label: "Amount", numeric: true }],
      payments.map((p) => h("tr", { "data-kind": p.kind, "data-id": p.id },
        cell(h("time", { datetime: p.due_date, text: formatDay(p.due_date) })),
        cell(kindLabel(p.kind)),
        cell(p.label || p.id),
        cell(moneyNode(p.amount, p.currency, { breakable: true }), true))), { captionHidden: true });
  }

  // ---------------------------------------------------------------- chart helpers

  // An axis from 0 to at least `value` (minor units) in `ticks` or fewer round steps (1, 2 or 5 x 10^n).
  function niceScale(value, currency, ticks = 4) {
    if (!(value > 0)) {
      const unit = 10 ** minorDigits(currency);
      return { max: ticks * unit, step: unit };
    }
    const raw = value / ticks;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw);
    return { max: step * Math.ceil(value / step - 1e-9), step };
  }

  function chartWidth(container) {
    return Math.max(280, Math.min(900, Math.floor(container.clientWidth || 600)));
  }

  function currencyChoice(toolsSelectId, currencies, preferred, onChange) {
    const select = document.getElementById(toolsSelectId);
    const tools = select.closest(".chart-tools");
    const current = currencies.includes(select.value) ? select.value
      : currencies.includes(preferred) ? preferred : currencies[0];
    clear(select);
    for (const currency of currencies) select.append(h("option", { value: currency, text: currency }));
    select.value = current || "";
    tools.hidden = currencies.length < 2;
    select.onchange = onChange;
    return current;
  }

  function yAxis(svg, { left, top, plotHeight, plotWidth, max, min = 0, step, currency }) {
    const ticks = Math.round((max - min) / step);
    for (let i = 0; i <= ticks; i += 1) {
      const value = min + step * i;
      const y = top + plotHeight - ((value - min) / (max - min)) * plotHeight;
      svg.append(
        s("line", { class: value === 0 ? "axis zero" : "grid", x1: left, x2: left + plotWidth, y1: y, y2: y }),
        s("text", { class: "tick", x: left - 6, y: y + 4, "text-anchor": "end", text: money(Math.round(value), currency, true) }),
      );
    }
  }

  function legend(items) {
    return h("ul", { class: "legend" }, items.map(([className, label]) =>
      h("li", {}, h("span", { class: `swatch ${className}`, "aria-hidden": "true" }), label)));
  }

  // ---------------------------------------------------------------- due per week

  function weekList() {
    const monday = mondayOf(state.today);
    return Array.from({ length: WEEKS }, (_, i) => {
      const first = addDays(monday, 7 * i);
      return { period: isoWeek(first), first_day: first };
    });
  }

  function loadWeeks() {
    const direction = state.direction;
    const weeks = weekList();
    clear($("#week-detail"));
    state.selectedWeek = null;
    return loadPanel("weeks-panel", async () => {
      const answer = await api("/v1/reports/upcoming", {
        direction, group_by: "week", from: weeks[0].first_day, to: addDays(weeks[weeks.length - 1].first_day, 6),
      });
      return () => {
        const byCurrency = {};
        for (const p of answer.periods || []) {
          (byCurrency[p.currency] = byCurrency[p.currency] || []).push(p);
        }
        state.weeks = { direction, weeks, byCurrency };
        renderWeeks();
      };
    }, ["weeks-chart"]);
  }

  function renderWeeks() {
    const container = chartBox("weeks-chart");
    if (!state.weeks) return;
    const { weeks, byCurrency, direction } = state.weeks;
    const currencies = Object.keys(byCurrency).sort();
    const base = state.tenant.base_currency;
    const currency = currencyChoice("weeks-currency", currencies, base, renderWeeks) || base;
    const rows = new Map(weeks.map((w) => [w.period, { ...w, amount: 0, count: 0 }]));
    for (const p of byCurrency[currency] || []) {
      const row = rows.get(p.period) || { period: p.period, first_day: p.first_day, amount: 0, count: 0 };
      row.amount += p.amount;
      row.count += p.count || 0;
      rows.set(p.period, row);
    }
    const bars = [...rows.values()].sort((a, b) => (a.first_day < b.first_day ? -1 : 1));
    const width = chartWidth(container);
    const height = 240;
    const margin = { left: 64, right: 8, top: 12, bottom: 40 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const { max, step } = niceScale(Math.max(...bars.map((b) => b.amount), 0), currency);
    const slot = plotWidth / bars.length;
    const svg = s("svg", {
      class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
      "aria-label": `${directionLabel(direction)} due per week in ${currency}`,
    });
    yAxis(svg, { left: margin.left, top: margin.top, plotHeight, plotWidth, max, step, currency });
    const labelEvery = slot < 34 ? 2 : 1;
    bars.forEach((bar, i) => {
      const x = margin.left + i * slot;
      const barHeight = (bar.amount / max) * plotHeight;
      const label = `Week ${bar.period} from ${formatDay(bar.first_day)}: ${money(bar.amount, currency)}, ${count(bar.count)} payment${bar.count === 1 ? "" : "s"}`;
      const selected = state.selectedWeek === bar.period;
      const group = s("g", {
        class: `bar${selected ? " selected" : ""}`, role: "button", tabindex: 0, "aria-label": label,
        "aria-pressed": selected ? "true" : "false", "data-period": bar.period, "data-amount": bar.amount, "data-currency": currency,
        onclick: () => selectWeek(bar.period, bar.first_day),
        onkeydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            selectWeek(bar.period, bar.first_day);
          }
        },
      },
      s("title", { text: label }),
      s("rect", { class: "hit", x: x + 1, y: margin.top, width: Math.max(1, slot - 2), height: plotHeight }),
      s("rect", { class: "fill", x: x + slot * 0.15, y: margin.top + plotHeight - barHeight, width: Math.max(1, slot * 0.7), height: Math.max(barHeight, bar.amount > 0 ? 1 : 0) }));
      svg.append(group);
      if (i % labelEvery === 0) {
        svg.append(
          s("text", { class: "tick", x: x + slot / 2, y: height - 24, "text-anchor": "middle", text: `W${bar.period.split("-W")[1] || bar.period}` }),
          s("text", { class: "tick minor", x: x + slot / 2, y: height - 10, "text-anchor": "middle", text: formatDay(bar.first_day, true) }),
        );
      }
    });
    container.append(svg);
    if (!bars.some((b) => b.amount > 0)) {
      container.append(h("p", { class: "empty", text: `Nothing due in the next ${WEEKS} weeks.` }));
    }
  }

  async function selectWeek(period, firstDay) {
    const direction = state.direction;
    state.selectedWeek = period;
    for (const bar of document.querySelectorAll("#weeks-chart g.bar")) {
      const on = bar.getAttribute("data-period") === period;
      bar.classList.toggle("selected", on);
      bar.setAttribute("aria-pressed", on ? "true" : "false");
    }
    const detail = clear($("#week-detail"));
    const title = `Week ${period} (${formatDay(firstDay)} – ${formatDay(addDays(firstDay, 6))})`;
    detail.append(h("h3", { text: title }), h("p", { class: "status info", text: "Loading…" }));
    const token = (state.tokens.week || 0) + 1;
    state.tokens.week = token;
    try {
      const answer = await api("/v1/reports/upcoming", { direction, period });
      if (state.tokens.week !== token) return;
      const payments = answer.payments || [];
      clear(detail).append(
        h("h3", { text: title }),
        payments.length
          ? paymentsTable(`Payments due in week ${period}`, payments)
          : h("p", { class: "empty", text: "No payments due that week." }),
      );
      detail.setAttribute("data-period", period);
    } catch (error) {
      if (state.tokens.week !== token || state.key === null) return;
      clear(detail).append(h("h3", { text: title }), h("p", { class: "status error", text: describe(error) }));
    }
  }

  // ---------------------------------------------------------------- aging

  function loadAging() {
    const direction = state.direction;
    return loadPanel("aging-panel", async () => {
      const aging = await api("/v1/reports/aging", { direction });
      return () => {
        state.aging = aging;
        renderAging();
      };
    }, ["aging-chart", "aging-table"]);
  }

  function renderAging() {
    const container = chartBox("aging-chart");
    const tableBox = clear($("#aging-table"));
    const aging = state.aging;
    if (!aging) return;
    const buckets = aging.buckets || Object.keys(BUCKET_LABELS);
    const totals = aging.totals || [];
    const currencies = totals.map((t) => t.currency).sort();
    if (!currencies.length) {
      container.append(h("p", { class: "empty", text: "Nothing outstanding." }));
      return;
    }
    const currency = currencyChoice("aging-currency", currencies, state.tenant.base_currency, renderAging);
    const total = totals.find((t) => t.currency === currency) || {};
    // Stacks: the five counterparties owing most in this currency, then everyone else.
    const parties = (aging.counterparties || []).filter((c) => c.currency === currency).sort((a, b) => b.total - a.total);
    const top = parties.slice(0, PALETTE_SIZE - 1);
    const series = top.map((c, i) => ({ name: c.name, className: `s${i}`, values: c }));
    const rest = {};
    for (const bucket of buckets) {
      rest[bucket] = (total[bucket] || 0) - top.reduce((sum, c) => sum + (c[bucket] || 0), 0);
    }
    if (buckets.some((b) => rest[b] > 0)) {
      series.push({ name: top.length ? "Others" : "All counterparties", className: `s${PALETTE_SIZE - 1}`, values: rest });
    }

    const width = chartWidth(container);
    const height = 240;
    const margin = { left: 64, right: 8, top: 12, bottom: 28 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const { max, step } = niceScale(Math.max(...buckets.map((b) => total[b] || 0), 0), currency);
    const slot = plotWidth / buckets.length;
    const svg = s("svg", {
      class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Aging of ${directionLabel(state.direction).toLowerCase()} in ${currency}, by days past due: ${buckets.map((b) => `${BUCKET_LABELS[b] || b} ${money(total[b] || 0, currency)}`).join(", ")}`,
    });
    yAxis(svg, { left: margin.left, top: margin.top, plotHeight, plotWidth, max, step, currency });
    buckets.forEach((bucket, i) => {
      const x = margin.left + i * slot + slot * 0.15;
      let y = margin.top + plotHeight;
      const group = s("g", { class: "stack", "data-bucket": bucket });
      for (const serie of series) {
        const value = Math.max(0, serie.values[bucket] || 0);
        if (!value) continue;
        const segment = (value / max) * plotHeight;
        y -= segment;
        group.append(s("rect", { class: `segment ${serie.className}`, x, y, width: slot * 0.7, height: Math.max(segment, 1) },
          s("title", { text: `${BUCKET_LABELS[bucket] || bucket}, ${serie.name}: ${money(value, currency)}` })));
      }
      const label = slot < 80 ? SHORT_BUCKET_LABELS[bucket] || bucket : BUCKET_LABELS[bucket] || bucket;
      svg.append(group, s("text", { class: "tick", x: margin.left + i * slot + slot / 2, y: height - 8, "text-anchor": "middle", text: label }));
    });
    container.append(svg, legend(series.map((serie) => [serie.className, serie.name])));

    // One row per bucket, one column per currency (and the base currency's total): few columns.
    const columns = totals.map((t) => ({ label: t.currency, figures: t, currency: t.currency }));
    if (aging.base && aging.base.currency) {
      columns.push({ label: `All in ${aging.base.currency}`, figures: aging.base, currency: aging.base.currency });
    }
    const rows = [...buckets, "total"].map((bucket) => h("tr", { "data-bucket": bucket, class: bucket === "total" ? "total" : null },
      h("th", { scope: "row", text: bucket === "total" ? "Total" : BUCKET_LABELS[bucket] || bucket }),
      columns.map((column) => cell(moneyNode(column.figures[bucket] || 0, column.currency), true))));
    tableBox.append(table("Totals by days past due", ["Days past due", ...columns.map((c) => ({ label: c.label, numeric: true }))], rows));
  }

  // ---------------------------------------------------------------- cash flow

  function loadCashflow() {
    return loadPanel("cashflow-panel", async () => {
      const cashflow = await api("/v1/reports/cashflow", { weeks: WEEKS });
      return () => {
        state.cashflow = cashflow;
        renderCashflow();
      };
    }, ["cashflow-chart", "cashflow-basis"]);
  }

  function renderCashflow() {
    const container = chartBox("cashflow-chart");
    const basisBox = clear($("#cashflow-basis"));
    const cashflow = state.cashflow;
    if (!cashflow) return;
    const all = cashflow.weeks || [];
    const currencies = [...new Set(all.map((w) => w.currency))].sort();
    if (!currencies.length) {
      container.append(h("p", { class: "empty", text: "No payments expected." }));
      return;
    }
    const currency = currencyChoice("cashflow-currency", currencies, state.tenant.base_currency, renderCashflow);
    // Every one of the weeks, also those the API left out because nothing is expected in them.
    const byWeek = new Map(weekList().map((w) => [w.period, { week: w.period, first_day: w.first_day, expected_in: 0, expected_out: 0, net: 0 }]));
    for (const w of all.filter((x) => x.currency === currency)) byWeek.set(w.week, w);
    const weeks = [...byWeek.values()].sort((a, b) => (a.first_day < b.first_day ? -1 : 1));
    const width = chartWidth(container);
    const height = 260;
    const margin = { left: 64, right: 8, top: 12, bottom: 28 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const { max: extent, step } = niceScale(Math.max(...weeks.flatMap((w) => [w.expected_in, w.expected_out, Math.abs(w.net)]), 0), currency, 2);
    const y = (value) => margin.top + plotHeight / 2 - (value / extent) * (plotHeight / 2);
    const slot = plotWidth / Math.max(weeks.length, 1);
    const svg = s("svg", {
      class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Expected cash in and out per week in ${currency}; the table below the chart gives the figures`,
    });
    yAxis(svg, { left: margin.left, top: margin.top, plotHeight, plotWidth, max: extent, min: -extent, step, currency });
    const points = [];
    weeks.forEach((w, i) => {
      const x = margin.left + i * slot;
      const barWidth = slot * 0.6;
      const label = `${w.week}: in ${money(w.expected_in, currency)}, out ${money(w.expected_out, currency)}, net ${money(w.net, currency)}`;
      svg.append(s("g", { class: "week", "data-week": w.week },
        s("title", { text: label }),
        s("rect", { class: "in", x: x + slot * 0.2, y: y(w.expected_in), width: barWidth, height: Math.max(0, y(0) - y(w.expected_in)) }),
        s("rect", { class: "out", x: x + slot * 0.2, y: y(0), width: barWidth, height: Math.max(0, y(-w.expected_out) - y(0)) })));
      points.push([x + slot / 2, y(w.net)]);
      if (i % (slot < 34 ? 2 : 1) === 0) {
        svg.append(s("text", { class: "tick", x: x + slot / 2, y: height - 8, "text-anchor": "middle", text: `W${(w.week || "").split("-W")[1] || ""}` }));
      }
    });
    if (points.length) {
      svg.append(s("polyline", { class: "net", points: points.map((p) => p.join(",")).join(" ") }));
      for (const [px, py] of points) svg.append(s("circle", { class: "net-dot", cx: px, cy: py, r: 3 }));
    }
    container.append(svg, legend([["in", "Expected in"], ["out", "Expected out"], ["net", "Net"]]));
    container.append(h("details", { class: "figures" },
      h("summary", { text: "Figures per week" }),
      table(`Expected cash flow in ${currency}`, ["Week", { label: "In", numeric: true }, { label: "Out", numeric: true }, { label: "Net", numeric: true }],
        weeks.map((w) => h("tr", {}, h("th", { scope: "row", text: `${w.week} (${formatDay(w.first_day, true)})` }),
          cell(moneyNode(w.expected_in, currency), true), cell(moneyNode(w.expected_out, currency), true), cell(moneyNode(w.net, currency), true))))));
    const basis = cashflow.basis || [];
    if (basis.length) {
      basisBox.append(h("details", { class: "figures" },
        h("summary", { text: `Based on how ${count(basis.length)} counterparties paid until now` }),
        table("Payment habits used for the forecast", ["Counterparty", { label: "Average delay", numeric: true }, { label: "Paid invoices", numeric: true }],
          basis.map((b) => h("tr", {}, cell(b.name), cell(days(b.average_delay_days), true), cell(count(b.paid_invoices), true))))));
    }
  }

  // ---------------------------------------------------------------- invoices

  function readInvoiceFilters() {
    const form = $("#invoice-filters");
    const query = {};
    for (const [name, value] of new FormData(form).entries()) {
      const text = String(value).trim();
      if (text) query[name] = name === "currency" ? text.toUpperCase() : text;
    }
    state.invoiceQuery = query;
    return query;
  }

  function invoiceFilterProblem(query) {
    if (query.currency && !/^[A-Z]{3}$/.test(query.currency)) return "Currency: three letters, like EUR.";
    if (query.due_from && query.due_to && query.due_to < query.due_from) return "Due to is before due from.";
    return null;
  }

  function loadInvoices(more) {
    const query = state.invoiceQuery;
    const problem = invoiceFilterProblem(query);
    $("#filters-message").textContent = problem || "";
    if (problem) return Promise.resolve();
    const cursor = more ? state.invoiceCursor : null;
    return loadPanel("invoices-panel", async () => {
      const page = await api("/v1/invoices", { ...query, limit: 25, starting_after: cursor });
      return () => renderInvoices(page, more);
    }, more ? [] : ["invoice-list"]);
  }

  // The invoice list's columns. On a narrow screen the rows become cards (app.css, `table.invoices`):
  // every cell then shows its column's name from `data-label`, and amount, status and outstanding
  // stay on screen without scrolling sideways.
  const INVOICE_COLUMNS = [
    { key: "number", label: "Number" },
    { key: "party", label: "Counterparty" },
    { key: "direction", label: "Direction" },
    { key: "due", label: "Due" },
    { key: "status", label: "Status" },
    { key: "dpd", label: "Days past due", numeric: true },
    { key: "amount", label: "Amount", numeric: true },
    { key: "outstanding", label: "Outstanding", numeric: true },
  ];

  function invoiceRow(invoice) {
    const column = (key) => INVOICE_COLUMNS.find((c) => c.key === key);
    const labelled = (key, content) => cell(content, Boolean(column(key).numeric), { "data-col": key, "data-label": column(key).label });
    return h("tr", { "data-id": invoice.id, "data-status": invoice.status },
      h("th", { scope: "row", "data-col": "number", text: invoice.number }),
      labelled("party", invoice.counterparty_name || "—"),
      labelled("direction", invoice.direction === "payable" ? "Payable" : invoice.direction === "receivable" ? "Receivable" : "—"),
      labelled("due", h("time", { datetime: invoice.due_date, text: formatDay(invoice.due_date) })),
      labelled("status", h("span", { class: `badge ${invoice.status}`, text: STATUS_LABELS[invoice.status] || invoice.status })),
      labelled("dpd", count(daysPastDue(invoice))),
      labelled("amount", moneyNode(invoice.amount_due, invoice.currency)),
      labelled("outstanding", moneyNode(invoice.amount_outstanding, invoice.currency)));
  }

  function renderInvoices(page, more) {
    const container = $("#invoice-list");
    let body = $("tbody", container);
    if (!more || !body) {
      clear(container);
      const t = table("Invoices and bills matching the filters", INVOICE_COLUMNS, [], { captionHidden: true, className: "data invoices" });
      container.append(t);
      body = $("tbody", t);
    }
    for (const invoice of page.data || []) body.append(invoiceRow(invoice));
    if (!body.childElementCount) {
      clear(container).append(h("p", { class: "empty", text: "No invoice matches these filters." }));
    }
    state.invoiceCursor = page.has_more ? page.next_cursor : null;
    $("#invoices-more").hidden = !state.invoiceCursor;
  }

  // The list's summaries may leave days_past_due out: then it is counted here from the due date.
  function daysPastDue(invoice) {
    if (invoice.days_past_due !== null && invoice.days_past_due !== undefined) return invoice.days_past_due;
    const unpaid = ["open", "partially_paid", "overdue", "disputed"].includes(invoice.status);
    if (!unpaid || !invoice.due_date || invoice.due_date >= state.today) return null;
    return Math.round((parseDay(state.today) - parseDay(invoice.due_date)) / 86400000);
  }

  async function loadCounterparties() {
    const select = $("#filter-counterparty");
    try {
      const page = await api("/v1/counterparties", { limit: 100 });
      if (state.key === null) return;
      const chosen = select.value;
      clear(select).append(h("option", { value: "", text: "Any" }));
      const parties = [...(page.data || [])].sort((a, b) => String(a.name).localeCompare(String(b.name), LOCALE));
      for (const party of parties) select.append(h("option", { value: party.id, text: party.name }));
      select.value = chosen;
    } catch (error) {
      if (state.key === null) return;
      $("#filters-message").textContent = `Counterparties for the filter: ${describe(error)}`;
    }
  }

  // ---------------------------------------------------------------- collection

  function loadCollection() {
    return loadPanel("collection-panel", async () => {
      const campaigns = (await api("/v1/campaigns", { limit: 20 })).data || [];
      const stats = await Promise.all(campaigns.map((c) => api(`/v1/campaigns/${encodeURIComponent(c.id)}/stats`)
        .then((value) => ({ value }), (error) => ({ error }))));
      return () => renderCollection(campaigns, stats);
    }, ["campaigns"]);
  }

  function renderCollection(campaigns, stats) {
    const container = clear($("#campaigns"));
    if (!campaigns.length) {
      container.append(h("p", { class: "empty", text: "No active collection campaign." }));
      return;
    }
    campaigns.forEach((campaign, i) => {
      const id = `campaign-${campaign.id}`;
      const article = h("article", { class: "campaign", "aria-labelledby": id, "data-id": campaign.id },
        h("h3", { id }, campaign.name, " ", h("span", { class: `badge ${campaign.status}`, text: campaign.status })));
      const { value, error } = stats[i];
      if (error) {
        article.append(h("p", { class: `status ${error.status === 404 ? "muted" : "error"}`, text: error.status === 404 ? "Figures not available." : describe(error) }));
      } else {
        // Amounts per currency: runs in several currencies are never added up.
        const rows = value.by_currency && value.by_currency.length
          ? value.by_currency
          : [{ currency: value.currency || state.tenant.base_currency, entered: value.entered,
            entered_amount: value.entered_amount, recovered_amount: value.recovered_amount,
            recovery_rate: value.recovery_rate }];
        const currency = value.currency || (rows.length === 1 ? rows[0].currency : state.tenant.base_currency);
        rows.forEach((row) => article.append(h("dl", { class: "inline", "data-currency": row.currency },
          figure(rows.length > 1 ? `Debtors entered (${row.currency})` : "Debtors entered", count(row.entered)),
          figure("Owed when they entered", moneyNode(row.entered_amount, row.currency)),
          figure("Recovered", moneyNode(row.recovered_amount, row.currency)),
          figure("Recovery rate", percent(row.recovery_rate)))));
        const steps = value.steps || [];
        if (steps.length) {
          article.append(table(`Steps of ${campaign.name}`, [
            "Step", { label: "Waiting", numeric: true }, { label: "Amount", numeric: true }, { label: "Paid after", numeric: true },
            { label: "Days to pay", numeric: true },
          ], steps.map((step) => h("tr", {},
            h("th", { scope: "row", text: `${step.step + 1}. ${CHANNEL_LABELS[step.channel] || step.channel}` }),
            cell(count(step.debtors), true), cell(step.amount === null || step.amount === undefined ? "—" : moneyNode(step.amount, currency), true), cell(count(step.paid_after), true),
            cell(days(step.average_days_to_pay), true))), { captionHidden: true }));
        }
        const messages = Object.entries(value.messages || {});
        if (messages.length) {
          article.append(h("p", { class: "note" }, "Messages: ", messages.map(([channel, outcomes]) =>
            `${CHANNEL_LABELS[channel] || channel}: ${Object.entries(outcomes).map(([outcome, n]) => `${outcome} ${count(n)}`).join(", ")}`).join("; ")));
        }
      }
      container.append(article);
    });
  }

  // ---------------------------------------------------------------- tasks

  function loadTasks() {
    return loadPanel("tasks-panel", async () => {
      const page = await api("/v1/tasks", { status: "open", due_from: state.today, due_to: state.today, limit: 50 });
      return () => renderTasks(page);
    }, ["tasks"]);
  }

  function renderTasks(page) {
    const container = clear($("#tasks"));
    const tasks = page.data || [];
    if (!tasks.length) {
      container.append(h("p", { class: "empty", text: "No call task due today." }));
      return;
    }
    container.append(h("ul", { class: "tasks" }, tasks.map((task) => h("li", { "data-id": task.id },
      h("p", { class: "task-head" },
        h("strong", { text: task.counterparty_name }), " ",
        task.phone ? h("a", { href: `tel:${task.phone.replace(/[^+\d]/g, "")}`, text: task.phone }) : h("span", { class: "muted", text: "no phone number" }),
        task.assignee ? h("span", { class: "muted", text: ` · ${task.assignee}` }) : null),
      h("details", {}, h("summary", { text: "Script" }), h("p", { class: "script", text: task.script }))))));
    if (page.has_more) container.append(h("p", { class: "note", text: "More call tasks are due today than shown here." }));
  }

  // ---------------------------------------------------------------- subscriptions

  // The subscriptions panel: how many subscriptions are in each status, MRR per plan and per
  // currency, and the invoices of the next 30 days, from one request (GET /v1/subscriptions/overview:
  // pre-aggregated by the API, so it costs the same however many subscriptions the tenant holds).
  const SUBSCRIPTION_BOXES = ["subscription-counts", "subscription-mrr", "subscription-upcoming"];
  const SUBSCRIPTION_STATUSES = {
    active: "Active",
    trialing: "Trialing",
    past_due: "Past due",
    incomplete: "Incomplete",
    paused: "Paused",
    canceled: "Canceled",
  };
  const INTERVAL_WORDS = {
    day: ["Daily", "days"],
    week: ["Weekly", "weeks"],
    month: ["Monthly", "months"],
    quarter: ["Quarterly", "quarters"],
    year: ["Yearly", "years"],
  };
  // The API lists at most this many upcoming invoices (services/billing/overview.py UPCOMING_LIMIT).
  const UPCOMING_LIMIT = 100;

  function loadSubscriptions() {
    return loadPanel("subscriptions-panel", async () => {
      const overview = await api("/v1/subscriptions/overview");
      return () => renderSubscriptions(overview);
    }, SUBSCRIPTION_BOXES);
  }

  function intervalText(interval, n) {
    const [single, plural] = INTERVAL_WORDS[interval] || [interval, interval];
    return n === 1 ? single : `Every ${n} ${plural}`;
  }

  function renderSubscriptions(overview) {
    const counts = overview.counts || {};
    clear($("#subscription-counts")).append(h("dl", { class: "inline subs-counts" },
      Object.entries(SUBSCRIPTION_STATUSES).map(([status, label]) => figure(label, count(counts[status] || 0),
        { "data-status": status, "data-count": counts[status] || 0 }))));
    renderMrr(overview.mrr || [], overview.mrr_total || []);
    renderUpcomingInvoices(overview.upcoming || [], overview.upcoming_until);
  }

  function renderMrr(plans, totals) {
    const box = clear($("#subscription-mrr"));
    if (!plans.length) {
      box.append(h("p", { class: "empty", text: "No active subscription yet." }));
      return;
    }
    const rows = plans.map((plan) => h("tr", { class: "plan", "data-price": plan.price_id, "data-currency": plan.currency },
      h("th", { scope: "row", class: "wrap" }, plan.product_name,
        h("small", { class: "plan-interval", text: intervalText(plan.interval, plan.interval_count) })),
      cell(count(plan.subscriptions), true, { "data-figure": "subscriptions" }),
      cell(moneyNode(plan.mrr, plan.currency), true, { "data-figure": "mrr" })));
    // Per currency: amounts in several currencies are never added up.
    const sums = totals.map((total) => h("tr", { class: "total", "data-currency": total.currency },
      h("th", { scope: "row", text: `Total ${total.currency}` }), cell(""),
      cell(moneyNode(total.mrr, total.currency), true, { "data-figure": "mrr-total" })));
    box.append(table("MRR per plan", ["Plan", { label: "Subscriptions", numeric: true }, { label: "MRR", numeric: true }],
      [...rows, ...sums], { captionHidden: true }));
  }

  function renderUpcomingInvoices(upcoming, until) {
    const box = clear($("#subscription-upcoming"));
    if (!upcoming.length) {
      box.append(h("p", { class: "empty", text: `No subscription invoice until ${formatDay(until)}.` }));
      return;
    }
    const rows = upcoming.map((row) => h("tr", { class: "upcoming", "data-id": row.subscription_id, "data-status": row.status },
      cell(h("time", { datetime: row.invoice_date, text: formatDay(row.invoice_date, true) })),
      cell([h("span", { class: "customer", text: row.counterparty_name || row.counterparty_id }), " ",
        h("span", { class: `badge ${row.status}`, text: SUBSCRIPTION_STATUSES[row.status] || row.status })], false, { class: "wrap" }),
      cell(moneyNode(row.amount_estimate, row.currency), true, { "data-figure": "estimate" })));
    box.append(table("Invoices in the next 30 days", ["Date", "Customer", { label: "Estimate", numeric: true }], rows,
      { captionHidden: true }));
    if (upcoming.length >= UPCOMING_LIMIT) {
      box.append(h("p", { class: "note", text: `More invoices fall due by ${formatDay(until)} than shown here.` }));
    }
  }

  // ---------------------------------------------------------------- bank reconciliation

  // The reconciliation panel: the balance per bank account, the month's figures, the queue a person
  // works (suggested and unmatched lines with their best candidates: Accept, Choose, Ignore), the
  // lines matched lately (Unmatch) and the open discrepancies. After an action the panel reloads and
  // its status says what happened (or, in red, why not).
  const RECONCILIATION_BOXES = ["bank-accounts", "reconciliation-report", "bank-queue", "bank-matched", "bank-discrepancies"];
  const QUEUE_LIMIT = 50;
  const MATCHED_LIMIT = 25;
  const MATCHED_DAYS = 30;
  // The API's match rules (domain/bank/reconciliation.py MatchRule) as a finance user says them.
  const RULE_LABELS = {
    end_to_end_id: "End-to-end id",
    processor_payout: "Processor payout",
    creditor_reference: "Creditor reference",
    invoice_number: "Invoice number",
    invoice_number_fuzzy: "Invoice number, nearly",
    several_invoices: "Several invoice numbers",
    learned: "Learned from an earlier match",
    payer_iban: "Payer's IBAN",
    combination: "Open invoices adding up",
    amount: "Amount only",
    bill: "Bill",
    installment: "Installment",
    refund: "Refund or chargeback",
    person: "Chosen by a person",
  };
  const DISCREPANCY_LABELS = {
    underpaid: "Underpaid",
    overpaid: "Overpaid",
    payout_mismatch: "Payout does not add up",
    not_in_bank: "Not seen in the bank",
    duplicate: "Same money twice",
  };
  const CAUSE_LABELS = { bank_fees: "looks like bank fees", early_payment_discount: "looks like an early-payment discount" };
  const LINE_STATUS_LABELS = { unmatched: "Unmatched", suggested: "Suggested", matched: "Matched", ignored: "Ignored" };
  const TARGET_LABELS = { invoice: "Invoice", bill: "Bill", installment: "Installment", payout: "Payout", payment: "Payment", fees: "Fees" };
  const ACTIONS = {
    match: { doing: "Matching the line…", failed: "Could not match the line" },
    ignore: { doing: "Ignoring the line…", failed: "Could not ignore the line" },
    unmatch: { doing: "Unmatching the line…", failed: "Could not unmatch the line" },
  };
  const wordsOf = (value) => (value ? String(value).charAt(0).toUpperCase() + String(value).slice(1).replace(/_/g, " ") : "—");
  const ruleLabel = (rule) => RULE_LABELS[rule] || wordsOf(rule);
  // The lines on screen, by id: an action's status line describes the line it acted on.
  const bankLines = new Map();
  // The open discrepancies on screen, by id (Resolve acts on one).
  const shownDiscrepancies = new Map();

  function loadReconciliation() {
    const month = { from: `${state.today.slice(0, 8)}01`, to: state.today };
    const matchedFrom = addDays(state.today, -MATCHED_DAYS);
    return loadPanel("reconciliation-panel", async () => {
      const [accounts, suggested, unmatched, matched, discrepancies, report] = await Promise.all([
        api("/v1/bank-accounts", { limit: 100 }),
        api("/v1/bank-transactions", { status: "suggested", limit: QUEUE_LIMIT }),
        api("/v1/bank-transactions", { status: "unmatched", limit: QUEUE_LIMIT }),
        api("/v1/bank-transactions", { status: "matched", from: matchedFrom, to: state.today, limit: MATCHED_LIMIT }),
        api("/v1/bank-discrepancies", { status: "open", limit: 50 }),
        api("/v1/reports/reconciliation", month),
      ]);
      return () => {
        const names = new Map((accounts.data || []).map((a) => [a.id, a.name]));
        bankLines.clear();
        renderBankAccounts(accounts);
        renderReconciliationReport(report);
        renderQueue(suggested, unmatched, names);
        renderMatched(matched, names, matchedFrom);
        renderDiscrepancies(discrepancies, names);
      };
    }, RECONCILIATION_BOXES);
  }

  // An IBAN in groups of four, as printed on statements (and so it can wrap on a phone).
  const spacedIban = (iban) => String(iban).replace(/\s+/g, "").replace(/(.{4})/g, "$1 ").trim();

  function renderBankAccounts(page) {
    const container = clear($("#bank-accounts"));
    const accounts = page.data || [];
    if (!accounts.length) {
      container.append(h("p", { class: "empty", text: "No bank account yet: import a statement to add one." }));
      return;
    }
    container.append(h("ul", { class: "bank-accounts" }, accounts.map((account) => h("li", { class: "bank-account", "data-id": account.id },
      h("p", { class: "account-name" }, h("strong", { text: account.name }), account.operating ? h("span", { class: "badge", text: "operating" }) : null),
      h("p", { class: "account-id muted", text: account.iban ? spacedIban(account.iban) : account.account || "—" }),
      h("dl", { class: "inline" },
        figure("Balance", moneyNode(account.balance, account.currency, { breakable: true }), { "data-figure": "balance" }),
        figure("On", account.balance_date ? h("time", { datetime: account.balance_date, text: formatDay(account.balance_date) }) : "no statement yet",
          { "data-figure": "balance_date" }))))));
    if (page.has_more) container.append(h("p", { class: "note", text: "More bank accounts than shown here." }));
  }

  function bucket(label, name, figures, currency) {
    const value = figures || { count: 0, amount: 0 };
    return figure(label, h("span", {}, count(value.count), " · ", moneyNode(value.amount, currency, { breakable: true })), { "data-figure": name, "data-count": value.count });
  }

  function renderReconciliationReport(report) {
    const container = clear($("#reconciliation-report"));
    container.append(h("p", { class: "note", text: `Booked ${formatDay(report.from)} – ${formatDay(report.to)}` }));
    const accounts = report.accounts || [];
    if (!accounts.length) {
      container.append(h("p", { class: "empty", text: "No bank line booked this month." }));
      return;
    }
    for (const account of accounts) {
      const currency = account.currency;
      const discrepancies = account.discrepancies || [];
      container.append(h("article", { class: "recon-account", "data-id": account.bank_account_id },
        accounts.length > 1 ? h("h4", { text: `${account.name} (${currency})` }) : null,
        h("dl", { class: "inline" },
          figure("Lines in", count(account.lines), { "data-figure": "lines" }),
          figure("Credits", moneyNode(account.credits, currency, { breakable: true }), { "data-figure": "credits" }),
          figure("Debits", moneyNode(account.debits, currency, { breakable: true }), { "data-figure": "debits" }),
          bucket("Matched automatically", "matched_auto", account.matched_auto, currency),
          bucket("Matched by a person", "matched_person", account.matched_person, currency),
          bucket("Ignored", "ignored", account.ignored, currency),
          bucket("Open", "open", account.open, currency)),
        discrepancies.length
          ? h("p", { class: "note", "data-figure": "discrepancies" }, "Discrepancies: ", discrepancies.map((d, i) => [
            i ? "; " : "", `${DISCREPANCY_LABELS[d.kind] || wordsOf(d.kind)} ${count(d.count)} (`, moneyNode(d.amount, currency), ")"]))
          : null));
    }
  }

  // "+€40.00" for money in, "−€40.00" for money out: a finance user reads the sign before the name.
  function lineAmount(tx) {
    return h("span", { class: `line-amount ${tx.direction}`, "data-direction": tx.direction },
      tx.direction === "debit" ? "−" : "+", moneyNode(tx.amount, tx.currency));
  }

  function lineWords(tx) {
    const party = tx.counterparty_name || "an unknown party";
    const way = tx.direction === "debit" ? `paid to ${party}` : `from ${party}`;
    return `the ${money(tx.amount, tx.currency)} ${way} on ${formatDay(tx.booking_date)}`;
  }

  const targetText = (target) => (target.type === "fees" ? "Fees" : target.label || `${TARGET_LABELS[target.type] || wordsOf(target.type)} ${target.id}`);

  // The API's detail already names the cause when it has one; the cause's words only stand in for it.
  function discrepancyText(d) {
    const cause = d.cause ? `, ${CAUSE_LABELS[d.cause] || wordsOf(d.cause)}` : "";
    return [h("span", { class: "badge warn", text: DISCREPANCY_LABELS[d.kind] || wordsOf(d.kind) }), " ",
      moneyNode(d.amount, d.currency), d.detail ? ` — ${d.detail}` : cause];
  }

  function targetsList(targets, currency) {
    return h("ul", { class: "targets" }, targets.map((t) => h("li", { "data-type": t.type, "data-id": t.id },
      h("span", { class: "target-label", text: targetText(t) }), " ", moneyNode(t.amount, currency))));
  }

  function proposalItem(proposal, index, currency) {
    const level = proposal.score >= 90 ? "high" : proposal.score >= 75 ? "medium" : "low";
    return h("li", { class: "proposal", "data-index": index, "data-rule": proposal.rule, "data-score": proposal.score },
      h("p", { class: "proposal-head" },
        h("span", { class: `score ${level}`, title: "How sure Cashline is, 0 to 100", text: String(proposal.score) }),
        h("strong", { text: ruleLabel(proposal.rule) }),
        index === 0 ? h("span", { class: "muted", text: "best" }) : null),
      targetsList(proposal.targets || [], currency),
      proposal.reason ? h("p", { class: "note reason", text: proposal.reason }) : null,
      (proposal.discrepancies || []).map((d) => h("p", { class: "note", "data-kind": d.kind }, discrepancyText(d))));
  }

  function lineHead(tx, names) {
    const account = names.size > 1 ? names.get(tx.bank_account_id) : null;
    return [
      h("p", { class: "line-head" },
        h("time", { datetime: tx.booking_date, text: formatDay(tx.booking_date) }),
        lineAmount(tx),
        h("span", { class: `badge ${tx.status}`, text: LINE_STATUS_LABELS[tx.status] || wordsOf(tx.status) }),
        account ? h("span", { class: "muted", text: account }) : null),
      h("p", { class: "line-party" }, h("strong", { text: tx.counterparty_name || "Unknown party" }),
        tx.counterparty_iban ? h("span", { class: "muted", text: ` ${spacedIban(tx.counterparty_iban)}` }) : null),
      h("p", { class: "remittance", text: tx.remittance || tx.creditor_reference || "(no remittance text)" }),
    ];
  }

  function field(label, input) {
    return h("div", { class: "field" }, h("label", { for: input.id, text: label }), input);
  }

  function formButtons(submitLabel) {
    return h("div", { class: "field actions" },
      h("button", { type: "submit", class: "button", text: submitLabel }),
      h("button", { type: "button", class: "button secondary", "data-action": "cancel", text: "Cancel" }));
  }

  // The amount a line shows, in major units without grouping (4050 EUR minor units -> "40.50"): what
  // the Choose form starts with, and what parseMinor reads back exactly.
  function plainMajor(amount, currency) {
    const digits = minorDigits(currency);
    const text = String(Math.abs(amount)).padStart(digits + 1, "0");
    return digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
  }

  // "40", "40.5", "40,50" -> minor units, in integers only (never floating point): 40.5 EUR -> 4050,
  // 120000 JPY -> 120000. More decimals than the currency has, or thousands separators (is "1.234"
  // one thousand or one?), are refused rather than guessed: null.
  function parseMinor(text, currency) {
    const digits = minorDigits(currency);
    const found = /^(\d+)(?:[.,](\d*))?$/.exec(String(text).trim());
    if (!found || (found[2] || "").length > digits) return null;
    const minor = Number(found[1]) * 10 ** digits + Number((found[2] || "").padEnd(digits, "0") || "0");
    return Number.isSafeInteger(minor) ? minor : null;
  }

  function chooseForm(tx) {
    const id = tx.id;
    const proposals = tx.proposals || [];
    const credit = tx.direction !== "debit";
    const what = credit ? "invoice" : "bill";
    const choice = (value, label, checked) => h("label", { class: "choice" },
      h("input", { type: "radio", name: `pick-${id}`, value, checked }), label);
    return h("form", { class: "line-form", "data-form": "choose", id: `choose-${id}`, hidden: true, novalidate: true },
      h("fieldset", {}, h("legend", { text: "Match this line to" }),
        proposals.map((p, i) => choice(String(i), `${ruleLabel(p.rule)} (${p.score}): ${(p.targets || []).map(targetText).join(", ")}`, i === Math.min(1, proposals.length - 1))),
        choice("other", `Another ${what}, named below`, !proposals.length)),
      // Only what "another invoice" needs; disabled (greyed, skipped by Tab) while a candidate is picked.
      h("fieldset", { class: "form-row other-target", disabled: proposals.length > 0 },
        h("legend", { class: "sr-only", text: `Another ${what}` }),
        field(credit ? "Invoice id" : "Bill id", h("input", { id: `target-${id}`, name: "target_id", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "inv_…" })),
        field(`Amount (${tx.currency})`, h("input", { id: `amount-${id}`, name: "amount", type: "text", inputmode: "decimal", autocomplete: "off", value: plainMajor(tx.amount, tx.currency) })),
        credit ? h("label", { class: "choice" }, h("input", { type: "checkbox", name: "keep_rest" }), "Keep what is left as the payer's credit") : null),
      formButtons("Match"),
      h("p", { class: "message error", role: "alert" }));
  }

  function reasonForm(tx, kind) {
    const id = `${kind}-reason-${tx.id}`;
    const ignoring = kind === "ignore";
    return h("form", { class: "line-form", "data-form": kind, id: `${kind}-${tx.id}`, hidden: true, novalidate: true },
      ignoring ? null : h("p", { class: "note", text: "Unmatching reverses the payments this match created and puts the line back in the queue." }),
      h("div", { class: "form-row" },
        field(ignoring ? "Why needs it no match?" : "Reason (optional)", h("input", { id, name: "reason", type: "text", maxlength: 500, autocomplete: "off",
          placeholder: ignoring ? "e.g. interest, transfer between our accounts" : "" }))),
      formButtons(ignoring ? "Ignore" : "Unmatch"),
      h("p", { class: "message error", role: "alert" }));
  }

  function actionButton(action, label, primary, controls) {
    return h("button", { type: "button", class: primary ? "button" : "button secondary", "data-action": action, text: label,
      "aria-controls": controls, "aria-expanded": controls ? "false" : null });
  }

  // Accept applies the best candidate: its tooltip (and accessible description) says which.
  function acceptButton(best) {
    const button = actionButton("accept", "Accept", true, null);
    button.title = `Match to ${(best.targets || []).map(targetText).join(", ")} (${ruleLabel(best.rule)}, ${best.score})`;
    return button;
  }

  function queueLine(tx, names) {
    bankLines.set(tx.id, tx);
    const proposals = tx.proposals || [];
    return h("li", { class: "bank-line", "data-id": tx.id, "data-status": tx.status },
      lineHead(tx, names),
      proposals.length
        ? h("ol", { class: "proposals", "aria-label": "Candidates, best first" }, proposals.slice(0, 3).map((p, i) => proposalItem(p, i, tx.currency)))
        : h("p", { class: "note", text: "No candidate found: choose an invoice or ignore the line." }),
      proposals.length > 3 ? h("p", { class: "note", text: `${count(proposals.length - 3)} more under Choose.` }) : null,
      h("div", { class: "line-actions" },
        proposals.length ? acceptButton(proposals[0]) : null,
        actionButton("choose", "Choose…", !proposals.length, `choose-${tx.id}`),
        actionButton("ignore", "Ignore…", false, `ignore-${tx.id}`)),
      chooseForm(tx),
      reasonForm(tx, "ignore"));
  }

  function renderQueue(suggested, unmatched, names) {
    const container = clear($("#bank-queue"));
    const lines = [...(suggested.data || []), ...(unmatched.data || [])];
    if (!lines.length) {
      container.append(h("p", { class: "empty", text: "Nothing waits: every bank line is matched or ignored." }));
      return;
    }
    container.append(h("ul", { class: "bank-lines" }, lines.map((tx) => queueLine(tx, names))));
    if (suggested.has_more || unmatched.has_more) {
      container.append(h("p", { class: "note", text: `More lines wait than the ${count(QUEUE_LIMIT)} suggested and ${count(QUEUE_LIMIT)} unmatched shown here.` }));
    }
  }

  function matchedLine(tx, names) {
    bankLines.set(tx.id, tx);
    const match = tx.match || { rule: null, targets: [] };
    const by = tx.matched_by === "auto" ? "automatically" : "by a person";
    return h("li", { class: "bank-line", "data-id": tx.id, "data-status": tx.status, "data-matched-by": tx.matched_by === "auto" ? "auto" : "person" },
      lineHead(tx, names),
      h("p", { class: "matched-to" }, `Matched ${by}`, match.rule ? ` (${ruleLabel(match.rule)}${match.score === undefined ? "" : `, ${match.score}`})` : "", " to:"),
      targetsList(match.targets || [], tx.currency),
      (tx.discrepancies || []).map((d) => h("p", { class: "note", "data-kind": d.kind }, discrepancyText(d))),
      h("div", { class: "line-actions" }, actionButton("unmatch", "Unmatch…", false, `unmatch-${tx.id}`)),
      reasonForm(tx, "unmatch"));
  }

  function renderMatched(page, names, from) {
    const container = clear($("#bank-matched"));
    const lines = page.data || [];
    container.append(h("p", { class: "note", text: `Booked since ${formatDay(from)}.` }));
    if (!lines.length) {
      container.append(h("p", { class: "empty", text: "No line matched lately." }));
      return;
    }
    container.append(h("ul", { class: "bank-lines" }, lines.map((tx) => matchedLine(tx, names))));
    if (page.has_more) container.append(h("p", { class: "note", text: `Only the first ${count(MATCHED_LIMIT)} are shown.` }));
  }

  function renderDiscrepancies(page, names) {
    const container = clear($("#bank-discrepancies"));
    const items = page.data || [];
    if (!items.length) {
      container.append(h("p", { class: "empty", text: "No open discrepancy." }));
      return;
    }
    for (const d of items) shownDiscrepancies.set(d.id, d);
    container.append(h("ul", { class: "discrepancies" }, items.map((d) => h("li", { class: "discrepancy", "data-id": d.id, "data-kind": d.kind },
      h("p", {}, discrepancyText(d)),
      h("p", { class: "note" },
        d.at ? h("time", { datetime: d.at, text: formatDay(String(d.at).slice(0, 10)) }) : null,
        names.size > 1 && d.bank_account_id ? ` · ${names.get(d.bank_account_id) || d.bank_account_id}` : "",
        d.bank_transaction_id ? ` · bank line ${d.bank_transaction_id}` : "",
        d.payment_id ? ` · payment ${d.payment_id}` : ""),
      h("div", { class: "line-actions" }, actionButton("resolve", "Resolve…", false, `resolve-${d.id}`)),
      resolveForm(d)))));
    if (page.has_more) container.append(h("p", { class: "note", text: "More open discrepancies than shown here." }));
  }

  // Resolve: a note (optional) on what was found or done; the discrepancy leaves the open list.
  function resolveForm(d) {
    return h("form", { class: "line-form", "data-form": "resolve", id: `resolve-${d.id}`, hidden: true, novalidate: true },
      h("div", { class: "form-row" },
        field("Note (optional)", h("input", { id: `resolve-note-${d.id}`, name: "reason", type: "text", maxlength: 500, autocomplete: "off",
          placeholder: "e.g. fee agreed with the customer" }))),
      formButtons("Resolve"),
      h("p", { class: "message error", role: "alert" }));
  }

  function discrepancyWords(d) {
    return `the ${(DISCREPANCY_LABELS[d.kind] || wordsOf(d.kind)).toLowerCase()} discrepancy of ${money(d.amount, d.currency)}`;
  }

  // ----- the queue's actions

  function idempotencyKey() {
    // One key per action: a retried request (a flaky network) is applied once by the API.
    return window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : null;
  }

  function closeForms(line) {
    for (const form of line.querySelectorAll("form.line-form")) form.hidden = true;
    for (const button of line.querySelectorAll("button[aria-expanded]")) button.setAttribute("aria-expanded", "false");
  }

  function toggleForm(line, button) {
    const form = document.getElementById(button.getAttribute("aria-controls"));
    const opening = form.hidden;
    closeForms(line);
    if (!opening) return;
    form.hidden = false;
    button.setAttribute("aria-expanded", "true");
    $(".message", form).textContent = "";
    const first = $('input[name="reason"], input[type="radio"]:checked', form);
    if (first) first.focus();
  }

  // Says in the form what is wrong (and puts the cursor there); null: nothing to send.
  function formProblem(form, text, input = null) {
    $(".message", form).textContent = text;
    if (input) input.focus();
    return null;
  }

  // What the Choose form asks for: a candidate's index, or targets a person typed. Null (and the
  // form says why) when what was typed cannot be sent.
  function chosenMatch(form, tx) {
    const picked = $(`input[name="pick-${tx.id}"]:checked`, form);
    if (!picked) return formProblem(form, "Choose a candidate or another invoice.");
    if (picked.value !== "other") return { proposal: Number(picked.value) };
    const idInput = $('input[name="target_id"]', form);
    const amountInput = $('input[name="amount"]', form);
    const credit = tx.direction !== "debit";
    const targetId = idInput.value.trim();
    if (!targetId) return formProblem(form, `${credit ? "Invoice id" : "Bill id"}: give the id (inv_…).`, idInput);
    const amount = parseMinor(amountInput.value, tx.currency);
    const digits = minorDigits(tx.currency);
    if (amount === null || amount <= 0) {
      return formProblem(form, `Amount: a number like ${plainMajor(tx.amount, tx.currency)}${digits ? `, at most ${digits} decimals` : ", no decimals"}, no thousands separators.`, amountInput);
    }
    const keepRest = credit && $('input[name="keep_rest"]', form).checked;
    if (amount > tx.amount || (amount < tx.amount && !keepRest)) {
      return formProblem(form, `Amount: must be the line's ${money(tx.amount, tx.currency)}${credit ? ", or less with the rest kept as credit" : ""}.`, amountInput);
    }
    const body = { targets: [{ type: credit ? "invoice" : "bill", id: targetId, amount }] };
    if (keepRest) body.keep_rest_as_credit = true;
    return body;
  }

  function submitLineForm(line, form) {
    const tx = bankLines.get(line.dataset.id);
    if (!tx) return;
    const kind = form.dataset.form;
    if (kind === "choose") {
      const body = chosenMatch(form, tx);
      if (body) lineAction(line, tx, "match", body);
      return;
    }
    const input = $('input[name="reason"]', form);
    const reason = input.value.trim();
    if (kind === "ignore" && !reason) {
      formProblem(form, "Reason: say why this line needs no match.", input);
      return;
    }
    lineAction(line, tx, kind, reason ? { reason } : {});
  }

  function actionDone(action, before, after) {
    const line = lineWords(before);
    if (action === "ignore") return `Ignored ${line}: “${after.ignore_reason || ""}”.`;
    if (action === "unmatch") {
      const reversed = (before.payment_ids || []).length;
      return `Unmatched ${line}${reversed ? `: ${count(reversed)} payment${reversed === 1 ? "" : "s"} reversed` : ""}; it is ${LINE_STATUS_LABELS[after.status] ? LINE_STATUS_LABELS[after.status].toLowerCase() : after.status} again.`;
    }
    const targets = after.match && after.match.targets ? after.match.targets.map(targetText).join(", ") : "";
    return `Matched ${line}${targets ? ` to ${targets}` : ""}.`;
  }

  // Sends one action on a line, then reloads the panel; its status then says what happened, or why not.
  function lineAction(line, tx, action, body) {
    // The version the person saw: a line changed since (its proposals re-ranked, matched by
    // someone else) is refused (409) instead of acting on what is no longer on screen.
    const sent = { ...body, version: tx.version };
    return panelAction(line, ACTIONS[action].doing, `${ACTIONS[action].failed} (${lineWords(tx)})`,
      () => api(`/v1/bank-transactions/${encodeURIComponent(tx.id)}/${action}`, {}, { body: sent, idempotencyKey: idempotencyKey() }),
      (after) => actionDone(action, tx, after));
  }

  function resolveAction(item, form) {
    const d = shownDiscrepancies.get(item.dataset.id);
    if (!d) return;
    const note = $('input[name="reason"]', form).value.trim();
    panelAction(item, "Resolving the discrepancy…", `Could not resolve ${discrepancyWords(d)}`,
      () => api(`/v1/bank-discrepancies/${encodeURIComponent(d.id)}/resolve`, {}, { body: { note }, idempotencyKey: idempotencyKey() }),
      (after) => `Resolved ${discrepancyWords(d)}${after.note ? `: “${after.note}”` : ""}.`);
  }

  async function panelAction(box, doing, failed, send, done) {
    const panel = $("#reconciliation-panel");
    const key = state.key;
    for (const button of box.querySelectorAll("button")) button.disabled = true;
    panel.setAttribute("aria-busy", "true");
    setStatus(panel, doing);
    let message;
    let kind = "done";
    try {
      message = done(await send());
    } catch (error) {
      const detail = error instanceof ApiError
        ? (error.status === 0 ? error.message : `HTTP ${error.status}: ${error.message}`)
        : String(error && error.message ? error.message : error);
      message = `${failed}: ${detail}`;
      kind = "error";
    }
    if (state.key !== key) return; // signed out meanwhile (a refused key does that)
    await loadReconciliation();
    // A reload that failed keeps its own message; otherwise the status says what the action did.
    const status = $(".status", panel);
    if (state.key === key && !status.classList.contains("error")) setStatus(panel, message, kind);
  }

  function wireReconciliation() {
    const panel = $("#reconciliation-panel");
    panel.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      const line = button && button.closest(".bank-line, .discrepancy");
      if (!line || button.disabled) return;
      const action = button.dataset.action;
      if (action === "accept") {
        const tx = bankLines.get(line.dataset.id);
        if (tx) lineAction(line, tx, "match", { proposal: 0 });
      } else if (action === "cancel") {
        closeForms(line);
      } else {
        toggleForm(line, button);
      }
    });
    panel.addEventListener("change", (event) => {
      const form = event.target.closest('form[data-form="choose"]');
      if (form && event.target.type === "radio") $(".other-target", form).disabled = event.target.value !== "other";
    });
    panel.addEventListener("submit", (event) => {
      const form = event.target.closest("form.line-form");
      if (!form) return;
      event.preventDefault();
      const item = form.closest(".discrepancy");
      if (item) resolveAction(item, form);
      else submitLineForm(form.closest(".bank-line"), form);
    });
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    $("#sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("#api-key").value.trim();
      if (!key) {
        showSignIn("Enter an API key.");
        return;
      }
      signIn(key);
    });
    $("#sign-out").addEventListener("click", () => signOut("Signed out. The key was removed from this tab.", "info"));
    $("#refresh").addEventListener("click", () => loadAll());
    for (const radio of document.querySelectorAll('input[name="direction"]')) {
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        state.direction = radio.value;
        $("#filter-direction").value = radio.value;
        loadSummary();
        loadWeeks();
        loadAging();
        readInvoiceFilters();
        loadInvoices(false);
      });
    }
    $("#invoice-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      readInvoiceFilters();
      loadInvoices(false);
    });
    $("#invoice-filters").addEventListener("reset", () => {
      window.setTimeout(() => {
        if (state.key === null) return; // the form was emptied by signing out
        readInvoiceFilters();
        loadInvoices(false);
      }, 0);
    });
    $("#invoices-more").addEventListener("click", () => loadInvoices(true));
    wireReconciliation();

    let resizeTimer = null;
    const charts = [["weeks-chart", renderWeeks], ["aging-chart", renderAging], ["cashflow-chart", renderCashflow]];
    window.addEventListener("resize", () => {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(() => {
        if (state.key === null) return;
        const width = String(window.innerWidth);
        for (const [id, render] of charts) {
          if ($(`#${id}`).dataset.drawnWidth !== width) render();
        }
      }, 150);
    });
  }

  function boot() {
    wire();
    let key = null;
    try {
      key = window.sessionStorage.getItem(KEY_STORAGE);
    } catch (error) {
      key = null;
    }
    if (key) signIn(key);
    else showSignIn("", "info");
  }

  boot();
})();
