"""Schema fuzzing: schemathesis calls every operation of the API's own OpenAPI document.

The cases go through the in-process gateway (as WSGI), so the authorizer, the error shapes and the
routes are the ones `make run` serves. Every answer is checked: no 5xx, the status code and the
content type are documented for the operation, the body conforms to the documented schema, and
data the document forbids is refused with a 4xx.

Failures are collected, not raised, so one run counts every class of failure over every
operation: `tests/integration/test_schema_fuzz.py` runs it small in `make test`, `make fuzz`
(bench/fuzz.py) runs it long and writes the figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.transport.serialization import serialize_binary

from localcloud.gateway import ApiGateway
from localcloud.wsgi import WsgiApp, wsgi_app

OPENAPI_PATH = "/v1/openapi.json"
# Bodies the routes read raw (CSV, XML, PDF): sent as generated, schemathesis has no encoder for them.
RAW_MEDIA_TYPES = ("text/csv", "application/csv", "application/xml", "text/xml", "application/pdf")


@schemathesis.serializer(*RAW_MEDIA_TYPES)
def _raw_body(context: schemathesis.SerializationContext, value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return serialize_binary(value)  # bytes, or schemathesis' Binary for `format: binary`


@dataclass
class FailureClass:
    """One kind of failure on one operation, with the first case that showed it."""

    operation: str
    check: str
    status: int
    message: str
    example: str
    cases: int = 1

    def line(self) -> str:
        return f"{self.operation} -> {self.status} [{self.check}] {self.message} ({self.cases} cases)"


@dataclass
class OperationRun:
    operation: str
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, int, str], FailureClass] = field(default_factory=dict)
    note: str = ""


@dataclass
class FuzzReport:
    runs: list[OperationRun]

    @property
    def cases(self) -> int:
        return sum(run.cases for run in self.runs)

    def failures(self, *, ignoring: Iterable[str] = ()) -> list[FailureClass]:
        ignored = set(ignoring)
        return [
            failure for run in self.runs if run.operation not in ignored for failure in run.failures.values()
        ]

    def failing_cases(self) -> int:
        return sum(f.cases for run in self.runs for f in run.failures.values())

    def summary(self) -> str:
        failures = self.failures()
        lines = [
            f"operations: {len(self.runs)}, cases: {self.cases}, failing cases: {self.failing_cases()}, "
            f"failure classes: {len(failures)}"
        ]
        lines += [failure.line() for failure in failures]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class FuzzTarget:
    """What the fuzzer calls and as whom; `ids` stand in for path parameters in half the cases."""

    app: WsgiApp
    api_key: str
    ids: Mapping[str, str]


def load_schema(target: FuzzTarget) -> Any:
    """The API's own document, fetched through the gateway like any client would."""
    return schemathesis.openapi.from_wsgi(OPENAPI_PATH, target.app)


def _checks() -> list[Any]:
    # not_a_server_error: no 5xx; the next three hold each answer to the operation's documentation;
    # negative_data_rejection: what the document forbids is refused with a 4xx, not accepted.
    return [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
        checks.negative_data_rejection,
    ]


def _record(
    run: OperationRun, case: Case[Any], status: int, body: bytes, failures: Iterable[Failure]
) -> None:
    for failure in failures:
        check = type(failure).__name__
        message = (failure.title or "").splitlines()[0][:200]
        key = (check, status, message)
        if key in run.failures:
            run.failures[key].cases += 1
            continue
        detail = " | ".join(line.strip() for line in failure.message.splitlines() if line.strip())[:400]
        example = f"{case.as_curl_command()}\n  -> {status} {body[:400]!r}\n  {detail}"
        run.failures[key] = FailureClass(run.operation, check, status, message, example)


def _fuzz_operation(
    operation: Any, target: FuzzTarget, mode: GenerationMode, examples: int, run: OperationRun
) -> None:
    to_run = _checks()
    headers = {"Authorization": f"Bearer {target.api_key}"}

    # Reproducible: derandomize seeds from the test itself; no deadline, so a loaded machine changes
    # nothing but the duration; nothing is shrunk, as failures are recorded rather than raised.
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=operation.as_strategy(generation_mode=mode), known=st.booleans())
    def call(case: Case[Any], known: bool) -> None:
        if known and case.path_parameters:
            case.path_parameters = {
                name: target.ids.get(name, value) for name, value in case.path_parameters.items()
            }
        run.cases += 1
        # A negative case may leave the key out on purpose, to check for a 401: then send none.
        sent = {} if case.operation.schema.is_security_param_negated(case) else headers
        response = case.call(headers=sent)
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=to_run, headers=sent)
        except FailureGroup as group:
            _record(run, case, response.status_code, response.content, group.exceptions)
        except Failure as failure:
            _record(run, case, response.status_code, response.content, [failure])

    call()


def fuzz(
    target: FuzzTarget,
    *,
    examples: int,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    only: Callable[[str], bool] = lambda label: True,
) -> FuzzReport:
    """Up to `examples` cases per operation and generation mode; every failure class recorded."""
    runs: list[OperationRun] = []
    for result in load_schema(target).get_all_operations():
        operation = result.ok()
        if not only(operation.label):
            continue
        run = OperationRun(operation.label)
        for mode in modes:
            try:
                _fuzz_operation(operation, target, mode, examples, run)
            except Unsatisfiable:  # no parameters or body to break: GET /v1/health has no negative case
                run.note += f"{mode.value}: nothing to generate. "
            except Exception as exc:  # a case schemathesis cannot build: a finding about the document
                run.note += f"{mode.value}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]} "
        runs.append(run)
    return FuzzReport(runs)


def _created_id(gateway: ApiGateway, key: str, path: str, body: dict[str, Any]) -> str:
    answer = gateway.call(
        "POST", path, headers={"Authorization": f"Bearer {key}"}, body=json.dumps(body).encode()
    )
    if answer.status_code != 201:
        raise RuntimeError(f"seeding {path} answered {answer.status_code}: {answer.body[:300]!r}")
    created = answer.json()
    # Most resources answer themselves; a few wrap the resource (`{"payment": {...}}`).
    for wrapper in ("payment", "connection", "document", "key"):
        if isinstance(created.get(wrapper), dict):
            return str(created[wrapper]["id"])
    return str(created["id"])


def seed(gateway: ApiGateway, admin_key: str) -> dict[str, str]:
    """One record of each kind in the tenant, so fuzzed calls reach past a 404 half the time."""
    ids: dict[str, str] = {}
    ids["counterparty_id"] = _created_id(
        gateway, admin_key, "/v1/counterparties", {"name": "Fuzz Kunde GmbH", "country": "DE"}
    )
    ids["invoice_id"] = _created_id(
        gateway,
        admin_key,
        "/v1/invoices",
        {
            "direction": "receivable",
            "counterparty": {"id": ids["counterparty_id"]},
            "number": "FUZZ-1",
            "issue_date": "2026-01-10",
            "due_date": "2026-02-10",
            "currency": "EUR",
            "amount_due": 119_00,
        },
    )
    ids["campaign_id"] = _created_id(
        gateway,
        admin_key,
        "/v1/campaigns",
        {"name": "Fuzz", "steps": [{"offset_days": 1, "channel": "email", "template": "first_reminder"}]},
    )
    ids["payment_id"] = _created_id(
        gateway,
        admin_key,
        "/v1/payments",
        {"amount": 50_00, "currency": "EUR", "value_date": "2026-01-20", "invoice_id": ids["invoice_id"]},
    )
    ids["key_id"] = _created_id(
        gateway, admin_key, "/v1/api-keys", {"name": "fuzz spare", "role": "read_only"}
    )
    ids["connection_id"] = _created_id(
        gateway,
        admin_key,
        "/v1/processor-connections",
        {"provider": "stripe", "webhook_secret": "whsec_fuzz0000"},
    )
    ids["document_id"] = _created_id(
        gateway, admin_key, f"/v1/invoices/{ids['invoice_id']}/documents", {"content_type": "application/pdf"}
    )
    ids["step"] = "1"
    ids.update(_seed_billing(gateway, admin_key, ids["counterparty_id"]))
    return ids


def _seed_billing(gateway: ApiGateway, admin_key: str, counterparty_id: str) -> dict[str, str]:
    """A product, a monthly price of it and a subscription to that price (its item for the usage
    route: a licensed one, so a report there is a 422 naming item_id, past the 404)."""
    ids = {
        "product_id": _created_id(
            gateway, admin_key, "/v1/products", {"name": "Fuzz Plan", "tax_category": "standard"}
        )
    }
    ids["price_id"] = _created_id(
        gateway,
        admin_key,
        "/v1/prices",
        {"product_id": ids["product_id"], "currency": "EUR", "unit_amount": 30_00, "interval": "month"},
    )
    answer = gateway.call(
        "POST",
        "/v1/subscriptions",
        headers={"Authorization": f"Bearer {admin_key}"},
        body=json.dumps(
            {"counterparty_id": counterparty_id, "items": [{"price_id": ids["price_id"], "quantity": 1}]}
        ).encode(),
    )
    if answer.status_code != 201:
        raise RuntimeError(f"seeding /v1/subscriptions answered {answer.status_code}: {answer.body[:300]!r}")
    subscription = answer.json()
    ids["subscription_id"] = str(subscription["id"])
    ids["item_id"] = str(subscription["items"][0]["id"])
    return ids


def target_for(gateway: ApiGateway, admin_key: str) -> FuzzTarget:
    return FuzzTarget(app=wsgi_app(gateway), api_key=admin_key, ids=seed(gateway, admin_key))
