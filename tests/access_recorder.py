"""A pytest plugin that checks the deployed policies against what the code really calls.

    .venv/bin/pytest -p tests.access_recorder tests/integration/test_collections.py ...

Every AWS call the handlers make (botocore's one entry point, which PynamoDB uses too) is recorded
with the function it ran in: scheduled and queue handlers by their Chalice name, API requests (and
the authorizer) as APIHandler. Calls made by the tests themselves are not attributed. At the end of
the session each function's calls, reduced to the capabilities of tests/integration/test_package.py,
must lie within that file's EXPECTED table (which the packaged template is held to), or the run
fails and prints what was missing. Presigned URLs make no call, so they are not seen here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import pytest
from botocore.client import BaseClient

_function: ContextVar[str | None] = ContextVar("cashline_recorded_function", default=None)
_seen: defaultdict[str, set[str]] = defaultdict(set)

TABLE_OPERATIONS = {
    "GetItem": "read",
    "Query": "read",
    "BatchGetItem": "read",
    "TransactGetItems": "read",
    "PutItem": "write",
    "UpdateItem": "write",
    "DeleteItem": "delete",
    "BatchWriteItem": "delete",
}
TRANSACT = {"Put": "write", "Update": "write", "Delete": "delete", "ConditionCheck": "read"}


def _logical_table(name: str) -> str:
    return "idempotency" if "idempotency" in name.lower() else "table"


def _dynamodb(operation: str, params: dict[str, Any]) -> Iterator[str]:
    if operation == "TransactWriteItems":
        for item in params["TransactItems"]:
            [(kind, body)] = item.items()
            table = _logical_table(body["TableName"])
            yield "idempotency" if table == "idempotency" else f"table:{TRANSACT[kind]}"
        return
    if operation not in TABLE_OPERATIONS:
        yield f"dynamodb:{operation}"
        return
    name = params.get("TableName") or next(iter(params.get("RequestItems", {"?": 0})))
    if _logical_table(name) == "idempotency":
        yield "idempotency"
    elif params.get("IndexName"):
        yield f"index:{params['IndexName']}"
    elif operation == "GetItem":
        yield "table:get"  # a read, and all the authorizer may do
    else:
        yield f"table:{TABLE_OPERATIONS[operation]}"


def _s3(operation: str, params: dict[str, Any]) -> Iterator[str]:
    prefix = str(params.get("Key", "")).split("/", 1)[0]
    verbs = {"GetObject": "get", "HeadObject": "get", "PutObject": "put", "DeleteObject": "delete"}
    if operation in verbs:
        yield f"s3:{verbs[operation]}:{prefix}"
    elif operation == "CopyObject":
        yield f"s3:put:{prefix}"
        yield f"s3:get:{str(params['CopySource']['Key']).split('/', 1)[0]}"
    elif operation in {"HeadBucket", "ListObjectsV2", "ListObjects"}:
        yield "s3:list"
    else:
        yield f"s3:{operation}"


def _queue(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    for logical, queue_name in {
        "WebhookEventsQueue": "webhook-events",
        "DocumentUploadsQueue": "document-uploads",
        "DeliveryFeedbackQueue": "delivery-feedback",
        "BankStatementsQueue": "bank-statements",
    }.items():
        if queue_name in name:
            return logical
    return name


def capabilities(service: str, operation: str, params: dict[str, Any]) -> Iterator[str]:
    """One AWS call as the capabilities of test_package.EXPECTED it needs."""
    if service == "dynamodb":
        yield from _dynamodb(operation, params)
    elif service == "s3":
        yield from _s3(operation, params)
    elif service == "sqs" and operation in {"SendMessage", "SendMessageBatch"}:
        yield f"sqs:send:{_queue(params['QueueUrl'])}"
    elif service == "secretsmanager":
        # cashline/<stage>/<kind>/...: the kind is what the policies grant by.
        kind = str(params.get("SecretId") or params.get("Name")).split("/")[2]
        yield f"secrets:{'get' if operation == 'GetSecretValue' else 'write'}:{kind}"
    elif service == "events" and operation == "PutEvents":
        yield "events"
    elif service == "ses" and operation in {"SendEmail", "SendRawEmail"}:
        yield "ses"
    elif service == "sns" and operation in {"Publish", "CheckIfPhoneNumberIsOptedOut"}:
        yield "sms"
    else:
        yield f"{service}:{operation}"


def _recording(original: Callable[..., Any]) -> Callable[..., Any]:
    def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        function = _function.get()
        if function is not None:
            service = client.meta.service_model.service_name
            _seen[function].update(capabilities(service, operation, params))
        return original(client, operation, params)

    return make_api_call


def _as(function: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def attributed(*args: Any, **kwargs: Any) -> Any:
        token = _function.set(function)
        try:
            return call(*args, **kwargs)
        finally:
            _function.reset(token)

    return attributed


def _logical(handler_name: str) -> str:
    return "".join(part.capitalize() for part in handler_name.split("_"))


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    from localcloud.gateway import ApiGateway
    from localcloud.handlers import load_app

    app = load_app()
    patch = pytest.MonkeyPatch()
    # Private, but the one method every botocore client call (PynamoDB's too) goes through.
    patch.setattr(BaseClient, "_make_api_call", _recording(getattr(BaseClient, "_make_api_call")))
    patch.setattr(ApiGateway, "handle_request", _as("APIHandler", ApiGateway.handle_request))
    for name, handler in list(app.handler_map.items()):
        if name != "api_handler" and callable(handler):
            patch.setitem(app.handler_map, name, _as(_logical(name), handler))
    yield
    patch.undo()


def _not_granted() -> dict[str, set[str]]:
    from tests.integration.test_package import EXPECTED

    def granted(function: str, capability: str) -> bool:
        allowed = EXPECTED.get(function, set())
        if capability.startswith("index:") and "index:*" in allowed:
            return True
        if capability == "table:get":
            return bool(allowed & {"table:get", "table:read"})
        return capability in allowed

    return {
        function: missing
        for function, seen in sorted(_seen.items())
        if (missing := {c for c in seen if not granted(function, c)})
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    missing = _not_granted()
    if reporter is not None:
        reporter.write_line("")
        for function, seen in sorted(_seen.items()):
            reporter.write_line(f"access_recorder: {function}: {', '.join(sorted(seen))}")
        for function, capabilities_ in missing.items():
            reporter.write_line(f"access_recorder: NOT GRANTED to {function}: {sorted(capabilities_)}")
    if missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
