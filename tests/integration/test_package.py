"""What `make package` deploys: every function Chalice generates gets the layer, the environment
and a data-access policy from template.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_every_function_role_is_granted_a_policy(packaged: dict[str, Any]) -> None:
    roles = set(_of_type(packaged, "AWS::IAM::Role"))
    granted = {
        role["Ref"]
        for policy in _of_type(packaged, "AWS::IAM::ManagedPolicy").values()
        for role in policy["Properties"]["Roles"]
    }
    assert roles == granted


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
