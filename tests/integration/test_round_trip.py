"""Whatever a write route accepted reads back (issue 11, finding 12): for generated bodies, hostile
and ordinary, each answer is a 2xx whose record the read routes (the record and its list) answer
with 200, or a 4xx naming a field: never a 5xx, never a record that breaks a later read.

Derandomized, so a run does not depend on luck, and without deadlines, so it does not depend on the
machine's speed."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.utils import Api, TestTenant, error_of

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    # One tenant serves every example of a test: records accumulate, which the property allows.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_numbers = itertools.count(1)

# Text a client might send: ordinary, empty, blank, falsy-looking, long, non-Latin, and hostile.
texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "0", "false", "x" * 200, "Zürich", "東京", "a\nb", "a\x00b", "a\x85b", "\t"]),
)
maybe_texts = st.one_of(st.none(), texts)
days = st.dates(min_value=date(1960, 1, 1), max_value=date(2110, 12, 31)).map(date.isoformat)
amounts = st.one_of(
    st.integers(min_value=-5, max_value=10_000),
    st.sampled_from([0, 10**15, 10**15 + 1, 2**63, -(10**15)]),
)
currencies = st.sampled_from(["EUR", "JPY", "BHD", "CHF", "eur", "XXX", "EURO"])


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts holding any subset of `fields` (a key absent and a key set to null are both tried)."""
    return st.fixed_dictionaries({}, optional=fields)


addresses = st.one_of(
    st.none(),
    _optional(
        line1=maybe_texts, line2=maybe_texts, postal_code=maybe_texts, city=maybe_texts, country=maybe_texts
    ),
)
metadata = st.one_of(st.none(), st.dictionaries(texts, texts, max_size=3))
counterparty_fields = _optional(
    email=st.one_of(st.none(), st.sampled_from(["ap@kunde.de", "", "not-mail", "a@b.c\x00"])),
    phone=st.one_of(st.none(), st.sampled_from(["+49 30 1234567", "", "call me"])),
    address=addresses,
    country=st.one_of(st.none(), st.sampled_from(["DE", "de", "", "Germany"])),
    preferred_language=st.one_of(st.none(), st.sampled_from(["de", "en-GB", "", "xx"])),
    segment=maybe_texts,
    tax_id=st.one_of(st.none(), st.sampled_from(["DE123456789", "", " "])),
    external_reference=maybe_texts,
    metadata=metadata,
)
lines = st.lists(
    st.fixed_dictionaries(
        {
            "description": texts,
            "quantity": st.sampled_from(["1", "0", "2.5", "-1", "99999999999.999999", "0.000001"]),
            "unit_amount": amounts,
            "tax_rate": st.sampled_from(["0", "19", "7.7", "100", "999999999999"]),
        }
    ),
    min_size=1,
    max_size=4,
)


def _listed(api: Api, key: str, path: str, record_id: str) -> bool:
    """Whether `record_id` is on some page of the list at `path` (every page answering 200)."""
    cursor = ""
    for _ in range(50):
        separator = "&" if "?" in path else "?"
        page = api.get(f"{path}{separator}limit=100{cursor}", key=key)
        assert page.status_code == 200, page.body
        body = page.json()
        if record_id in {item["id"] for item in body["data"]}:
            return True
        if not body["has_more"]:
            return False
        cursor = f"&starting_after={body['next_cursor']}"
    return False


def _check(api: Api, tenant: TestTenant, response: Any, read: str, listing: str) -> dict[str, Any] | None:
    """The property: a 4xx names what is wrong; a 2xx reads back, alone and in its list."""
    assert response.status_code < 500, response.body
    if response.status_code >= 400:
        assert set(error_of(response)) >= {"type", "message", "field", "request_id"}
        return None
    created: dict[str, Any] = response.json()
    one = api.get(read.format(id=created["id"]), key=tenant.read_only)
    assert one.status_code == 200, one.body
    assert _listed(api, tenant.read_only, listing, created["id"])
    read_back: dict[str, Any] = one.json()
    return read_back


@SETTINGS
@given(name=texts, fields=counterparty_fields)
def test_created_counterparties_read_back(
    api: Api, tenant: TestTenant, name: str, fields: dict[str, Any]
) -> None:
    response = api.post("/v1/counterparties", key=tenant.finance, json_body={"name": name, **fields})
    read = _check(api, tenant, response, "/v1/counterparties/{id}", "/v1/counterparties")
    if read is not None:
        assert read == response.json()


@SETTINGS
@given(
    changes=_optional(name=maybe_texts).flatmap(lambda named: counterparty_fields.map(lambda f: named | f))
)
# The issue's changes, always tried.
@example(changes={"name": None})
@example(changes={"address": {"line1": "Neue Str. 2", "line2": None}})
def test_changed_counterparties_read_back(api: Api, tenant: TestTenant, changes: dict[str, Any]) -> None:
    created = api.post(
        "/v1/counterparties",
        key=tenant.finance,
        json_body={"name": "Kunde AG", "address": {"line1": "Hauptstr. 1", "city": "Berlin"}},
    ).json()
    path = f"/v1/counterparties/{created['id']}"
    response = api.patch(path, key=tenant.finance, json_body={"version": created["version"], **changes})
    assert response.status_code < 500, response.body
    read = api.get(path, key=tenant.read_only)
    assert read.status_code == 200, read.body
    assert _listed(api, tenant.read_only, "/v1/counterparties", created["id"])
    # Accepted: what was answered is what is stored. Refused: nothing changed.
    assert read.json() == (response.json() if response.status_code == 200 else created)


@SETTINGS
@given(
    issue=days,
    due=days,
    currency=currencies,
    amount_or_lines=st.one_of(
        amounts.map(lambda a: {"amount_due": a}),
        lines.map(lambda ls: {"lines": ls}),
    ),
    counterparty=counterparty_fields.flatmap(lambda f: texts.map(lambda n: {"name": n, **f})),
    extra=_optional(description=maybe_texts, metadata=metadata, status=st.sampled_from(["draft", "open"])),
)
# The issue's line (about 1.19 x 10^26 with tax) and a date beyond the window, always tried.
@example(
    issue="2026-01-05",
    due="2026-02-04",
    currency="EUR",
    amount_or_lines={
        "lines": [
            {"description": "x", "quantity": "99999999999.999999", "unit_amount": 10**15, "tax_rate": "19"}
        ]
    },
    counterparty={"name": "Kunde AG"},
    extra={},
)
@example(
    issue="2026-01-05",
    due="9999-12-31",
    currency="EUR",
    amount_or_lines={"amount_due": 100},
    counterparty={"name": "Kunde AG"},
    extra={},
)
def test_created_invoices_read_back(
    api: Api,
    tenant: TestTenant,
    issue: str,
    due: str,
    currency: str,
    amount_or_lines: dict[str, Any],
    counterparty: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    body = {
        "direction": "receivable",
        "counterparty": counterparty,
        "number": f"RT-{next(_numbers)}",
        "issue_date": issue,
        "due_date": due,
        "currency": currency,
        **amount_or_lines,
        **extra,
    }
    response = api.post("/v1/invoices", key=tenant.finance, json_body=body)
    read = _check(api, tenant, response, "/v1/invoices/{id}", "/v1/invoices")
    if read is not None:
        assert abs(read["amount_due"]) <= 10**15
        party = api.get(f"/v1/counterparties/{read['counterparty_id']}", key=tenant.read_only)
        assert party.status_code == 200, party.body
        assert all(abs(t["billed"]) <= 10**15 for t in party.json()["totals"])


@SETTINGS
@given(
    amount=amounts,
    currency=currencies,
    value_date=days,
    extra=_optional(payer_name=maybe_texts, remittance_reference=maybe_texts, bank_reference=maybe_texts),
)
def test_recorded_payments_read_back(
    api: Api, tenant: TestTenant, amount: int, currency: str, value_date: str, extra: dict[str, Any]
) -> None:
    body = {"amount": amount, "currency": currency, "value_date": value_date, **extra}
    response = api.post("/v1/payments", key=tenant.finance, json_body=body)
    _check(api, tenant, response, "/v1/payments/{id}", "/v1/payments")


@SETTINGS
@given(name=texts, role=st.sampled_from(["admin", "finance", "read_only", "owner"]))
def test_created_api_keys_read_back(api: Api, tenant: TestTenant, name: str, role: str) -> None:
    response = api.post("/v1/api-keys", key=tenant.admin, json_body={"name": name, "role": role})
    assert response.status_code < 500, response.body
    if response.status_code < 400:
        key_id = response.json()["id"]
        assert api.get(f"/v1/api-keys/{key_id}", key=tenant.admin).status_code == 200
        assert _listed(api, tenant.admin, "/v1/api-keys", key_id)
