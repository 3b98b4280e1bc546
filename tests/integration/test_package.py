"""What `make package` deploys: every function Chalice generates gets the layer, the environment
and a policy of its own from template.yaml granting what its code uses and nothing more; the API is
traced and access-logged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.paths import FUNCTIONS, TEMPLATE
from localcloud.template import load_template


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("package")
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    subprocess.run(
        [str(chalice), "package", "--stage", "prod", "--merge-template", str(TEMPLATE), str(out)],
        cwd=FUNCTIONS,
        env=env,
        check=True,
        capture_output=True,
    )
    return load_template(out / "sam.yaml")


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def _function_roles(template: dict[str, Any]) -> dict[str, str]:
    """Function name -> the role Chalice generated for it."""
    return {
        name: function["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, function in _of_type(template, "AWS::Serverless::Function").items()
    }


def _policies_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        policy["Properties"]
        for policy in _of_type(template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
    ]


def test_every_function_role_has_one_policy_of_its_own(packaged: dict[str, Any]) -> None:
    roles = _function_roles(packaged)
    assert len(roles) == len(set(roles.values())) == 20  # one role per function, none shared
    for function, role in roles.items():
        [policy] = _policies_of(packaged, role)
        assert policy["Roles"] == [{"Ref": role}], f"{function}'s policy is shared"


# --- least privilege (issue 11, finding 14) ------------------------------------------------------------
# Each grant in a function's policy is reduced to a capability below; a grant that maps to none (a
# wildcard action, a bucket-wide or table-wide "*", an unknown resource) fails the test. EXPECTED is
# the review table: widening a function's access means changing it here, in the same change.

READ = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem"}
DELETE = {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
RECEIVE = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
TRACING = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
SMS = {"sns:Publish", "sns:CheckIfPhoneNumberIsOptedOut"}
SECRETS = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:cashline/${Stage}/"
SWEEP = {"table:read", "table:write", "index:due"}  # every sweep claims due items and moves its cursor
MAIL = {"ses"}

EXPECTED: dict[str, set[str]] = {
    "APIHandler": {
        "table:read",
        "table:write",
        "table:delete",
        "index:*",
        "idempotency",
        *(
            f"s3:put:{p}"
            for p in ("uploads", "documents", "statements", "letters", "webhooks", "bank-statements")
        ),
        *(f"s3:get:{p}" for p in ("documents", "statements", "letters")),
        "s3:delete:documents",
        "s3:put:branding",  # the invoice logo
        "s3:delete:branding",
        "s3:list",
        "sqs:send:WebhookEventsQueue",
        "events",
        "secrets:get:connections",
        "secrets:get:webhooks",
        "secrets:write:connections",
        "secrets:write:webhooks",
        "ses",
        "sms",
    },
    "ApiKeyAuthorizer": {"table:get"},
    "Housekeeping": SWEEP,
    "InvoiceOverdueCheck": SWEEP,
    "BankMatch": SWEEP | {"index:gsi1", "index:gsi3", "index:gsi5", "index:gsi6"},
    "PayoutBankCheck": SWEEP,
    "SubscriptionBilling": SWEEP,
    "FinancingPayouts": SWEEP,
    "InstallmentDebits": SWEEP,
    # gsi1: the tenant's processor connections, to find the charging credential.
    "InvoiceCharges": SWEEP | {"index:gsi1", "secrets:get:connections"},
    "DebitReminders": SWEEP | {"index:gsi1"} | MAIL,
    "AlertDeliveries": SWEEP | {"secrets:get:webhooks", "events"} | MAIL,
    "CollectionSteps": SWEEP
    | {"s3:get:documents", "s3:put:letters", "sms", "index:gsi1", "secrets:get:connections"}
    | MAIL,
    "TaskReminders": SWEEP | MAIL,
    "MonthlyStatements": SWEEP | {"index:gsi3", "s3:put:statements", "s3:get:statements"} | MAIL,
    "InvoiceDelivery": SWEEP | {"s3:put:invoices", "s3:get:branding"} | MAIL,
    "WebhookEventReceived": {
        "table:read",
        "table:write",
        "index:gsi1",
        "index:gsi3",
        "index:gsi6",
        "sqs:receive:WebhookEventsQueue",
        "secrets:get:connections",
        "secrets:get:webhooks",
        "events",
        "ses",
    },
    "DeliveryFeedback": {
        "table:read",
        "table:write",
        "sqs:receive:DeliveryFeedbackQueue",
        "s3:get:documents",
        "s3:put:letters",
        "ses",
        "sms",
    },
    "BankStatementArrived": {
        "table:read",
        "table:write",
        "index:gsi1",
        "index:gsi3",
        "index:gsi5",
        "index:gsi6",
        "sqs:receive:BankStatementsQueue",
        "s3:get:bank-inbox",
        "s3:delete:bank-inbox",
        "s3:put:bank-statements",
        "s3:put:bank-inbox-rejected",
        "s3:list",
    },
    "DocumentUploaded": {
        "table:read",
        "table:write",
        "sqs:receive:DocumentUploadsQueue",
        "s3:get:uploads",
        "s3:delete:uploads",
        "s3:put:documents",
        "s3:put:quarantine",
        "s3:list",
    },
}


def _text(resource: Any) -> str:
    """A policy resource as text: GetAtt and Ref in Sub's notation, Sub as written."""
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        logical, attribute = resource["Fn::GetAtt"]
        return f"${{{logical}.{attribute}}}"
    if "Ref" in resource:
        return f"${{{resource['Ref']}}}"
    if "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        return str(resource["Fn::Sub"])
    raise AssertionError(f"unexpected resource form {resource}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _dynamodb(actions: set[str], resource: str) -> Iterator[str]:
    if resource == "${CashlineTable.Arn}":
        if actions == {"dynamodb:GetItem"}:
            yield "table:get"
            return
        assert actions <= READ | WRITE | DELETE, actions
        yield from (name for name, group in (("table:read", READ), ("table:write", WRITE)) if actions & group)
        if actions & DELETE:
            yield "table:delete"
    elif match := re.fullmatch(r"\$\{CashlineTable\.Arn\}/index/(\w+|\*)", resource):
        assert actions <= READ, f"indexes are read-only, not {actions - READ}"
        yield f"index:{match[1]}"
    elif resource == "${IdempotencyTable.Arn}":
        assert actions <= READ | WRITE | DELETE
        yield "idempotency"
    else:
        raise AssertionError(f"DynamoDB resource {resource}")


def _s3(actions: set[str], resource: str) -> Iterator[str]:
    if resource == "${DocumentsBucket.Arn}":
        assert actions == {"s3:ListBucket"}, actions
        yield "s3:list"
        return
    # Objects by prefix only: never the whole bucket.
    match = re.fullmatch(r"\$\{DocumentsBucket\.Arn\}/([a-z]+(?:-[a-z]+)*)/\*", resource)
    assert match, f"S3 resource {resource} is not one key prefix"
    verbs = {"s3:GetObject": "get", "s3:PutObject": "put", "s3:DeleteObject": "delete"}
    assert actions <= set(verbs), actions
    yield from (f"s3:{verbs[action]}:{match[1]}" for action in sorted(actions))


def _secrets(actions: set[str], resource: str) -> Iterator[str]:
    # By kind of secret (connections, webhooks), never all of the stage's secrets.
    match = re.fullmatch(re.escape(SECRETS) + r"([a-z]+)/\*", resource)
    assert match, f"secret resource {resource} is not one kind of secret"
    reads, writes = (
        {"secretsmanager:GetSecretValue"},
        {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"},
    )
    assert actions in (reads, reads | writes), actions
    yield f"secrets:get:{match[1]}"
    if actions & writes:
        yield f"secrets:write:{match[1]}"


def _grants(statement: dict[str, Any]) -> Iterator[str]:
    assert statement["Effect"] == "Allow"
    actions = set(_listed(statement["Action"]))
    assert not any("*" in action for action in actions), f"wildcard action in {actions}"
    for resource in map(_text, _listed(statement["Resource"])):
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1, f"one service per statement: {actions}"
        [service] = services
        if resource == "*":
            # Only what has no ARN: trace segments, and SMS to phone numbers.
            assert actions <= TRACING or actions <= SMS, f"{actions} on every resource"
            yield from ("sms",) if actions <= SMS else ()
        elif service == "dynamodb":
            yield from _dynamodb(actions, resource)
        elif service == "s3":
            yield from _s3(actions, resource)
        elif service == "sqs":
            queue = re.fullmatch(r"\$\{(\w+)\.Arn\}", resource)
            assert queue, resource
            assert actions in ({"sqs:SendMessage"}, RECEIVE), actions
            yield f"sqs:{'send' if actions == {'sqs:SendMessage'} else 'receive'}:{queue[1]}"
        elif service == "secretsmanager":
            yield from _secrets(actions, resource)
        elif service == "events":
            assert actions == {"events:PutEvents"} and resource == "${EventBus.Arn}"
            yield "events"
        elif service == "ses":
            # Mail only ever leaves from the stack's sender.
            assert statement.get("Condition") == {"StringEquals": {"ses:FromAddress": {"Ref": "MailFrom"}}}
            yield "ses"
        else:
            raise AssertionError(f"unexpected service {service} on {resource}")


def _capabilities(template: dict[str, Any], function: str) -> set[str]:
    [policy] = _policies_of(template, _function_roles(template)[function])
    statements = policy["PolicyDocument"]["Statement"]
    assert any(set(_listed(s["Action"])) == TRACING for s in statements), "tracing needs X-Ray"
    return {grant for statement in statements for grant in _grants(statement)}


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_each_function_is_granted_exactly_what_its_code_uses(packaged: dict[str, Any], function: str) -> None:
    assert _capabilities(packaged, function) == EXPECTED[function]


def test_the_table_lists_every_function(packaged: dict[str, Any]) -> None:
    assert set(EXPECTED) == set(_function_roles(packaged))


def test_only_the_api_may_delete_write_secrets_or_use_the_idempotency_table() -> None:
    # Read from EXPECTED, which the test above holds the template to.
    api_only = {"table:delete", "idempotency", "index:*", "s3:delete:documents"}
    api_only |= {c for c in EXPECTED["APIHandler"] if c.startswith(("secrets:write:", "sqs:send:"))}
    for function, capabilities in EXPECTED.items():
        if function != "APIHandler":
            assert not capabilities & api_only, function
    assert EXPECTED["ApiKeyAuthorizer"] == {"table:get"}  # reads one key item, writes nothing


def test_each_queue_consumer_receives_from_its_own_queue_only(packaged: dict[str, Any]) -> None:
    for function, properties in (
        (name, f["Properties"]) for name, f in _of_type(packaged, "AWS::Serverless::Function").items()
    ):
        sources = [
            e["Properties"]["Queue"] for e in properties.get("Events", {}).values() if e["Type"] == "SQS"
        ]
        receives = {
            c.split(":")[2] for c in _capabilities(packaged, function) if c.startswith("sqs:receive:")
        }
        queues = {
            logical
            for logical, queue in _of_type(packaged, "AWS::SQS::Queue").items()
            for source in sources
            if _text(source).endswith(":" + queue["Properties"].get("QueueName", "?"))
        }
        assert receives == queues, function


def test_the_api_is_traced_and_access_logged_as_json(packaged: dict[str, Any]) -> None:
    api = packaged["Resources"]["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True
    log = api["AccessLogSetting"]
    [group] = log["DestinationArn"]["Fn::GetAtt"][:1]
    assert packaged["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    assert packaged["Resources"][group]["Properties"]["RetentionInDays"] > 0
    # API Gateway fills the $context variables in; messageString arrives already quoted.
    filled = re.sub(r'"\$context\.[\w.]+"', '"x"', log["Format"])
    filled = re.sub(r"\$context\.[\w.]+", '"x"', filled)
    line = json.loads(filled)
    assert {"requestId", "status", "httpMethod", "resourcePath", "xrayTraceId"} <= set(line)
    assert packaged["Resources"]["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"]


def test_every_function_gets_the_layer_and_the_environment(packaged: dict[str, Any]) -> None:
    functions = _of_type(packaged, "AWS::Serverless::Function")
    assert {"APIHandler", "ApiKeyAuthorizer", "Housekeeping"} <= set(functions)
    globals_ = packaged["Globals"]["Function"]
    assert globals_["Layers"] == [{"Ref": "SharedLayer"}]
    assert {"CASHLINE_STAGE", "CASHLINE_TABLE_NAME", "CASHLINE_IDEMPOTENCY_TABLE_NAME"} <= set(
        globals_["Environment"]["Variables"]
    )
    for function in functions.values():
        assert "Layers" not in function["Properties"]  # a per-function value would replace the global one
        assert function["Properties"]["Tracing"] == "Active"


def test_the_housekeeping_schedule_is_deployed(packaged: dict[str, Any]) -> None:
    events = packaged["Resources"]["Housekeeping"]["Properties"]["Events"]
    assert [e["Properties"]["Schedule"] for e in events.values()] == ["rate(1 hour)"]


def test_the_stores_are_protected(packaged: dict[str, Any]) -> None:
    bucket = packaged["Resources"]["DocumentsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]
    for table in _of_type(packaged, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    for name, queue in _of_type(packaged, "AWS::SQS::Queue").items():
        if "DeadLetter" not in name:
            assert "RedrivePolicy" in queue["Properties"]
    assert load_template(TEMPLATE)["Transform"] == "AWS::Serverless-2016-10-31"


@pytest.mark.parametrize(
    "statement",
    [
        {"Action": "dynamodb:*", "Resource": {"Fn::GetAtt": ["CashlineTable", "Arn"]}},
        {"Action": ["dynamodb:GetItem"], "Resource": "*"},
        {"Action": ["s3:GetObject"], "Resource": {"Fn::Sub": "${DocumentsBucket.Arn}/*"}},
        {"Action": ["dynamodb:PutItem"], "Resource": {"Fn::Sub": "${CashlineTable.Arn}/index/due"}},
        {"Action": ["secretsmanager:GetSecretValue"], "Resource": {"Fn::Sub": SECRETS + "*"}},
        {"Action": ["ses:SendEmail"], "Resource": "arn:aws:ses:eu-central-1:1:identity/*"},
        {
            "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
            "Resource": {"Fn::GetAtt": ["WebhookEventsQueue", "Arn"]},
        },
        {"Action": ["iam:PassRole"], "Resource": "arn:aws:iam::1:role/x"},
    ],
)
def test_a_broader_grant_is_caught(statement: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        set(_grants({"Effect": "Allow", **statement}))
