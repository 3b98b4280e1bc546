"""Reads template.yaml, CloudFormation tags included, so local resources come from the template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from localcloud.paths import TEMPLATE


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506  (a SafeLoader subclass)
    return loaded


def local_name(logical_id: str) -> str:
    """The local physical name of a resource: `CashlineTable` -> `cashline-table`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


@dataclass(frozen=True, slots=True)
class TableDefinition:
    logical_id: str
    properties: dict[str, Any]

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """Arguments for DynamoDB CreateTable, taken from the template as they are."""
        props = self.properties
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        return kwargs


def resources_of_type(
    resource_type: str, template: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    resources = (template or load_template())["Resources"]
    return {
        name: res.get("Properties", {}) for name, res in resources.items() if res["Type"] == resource_type
    }


def tables() -> list[TableDefinition]:
    return [TableDefinition(name, props) for name, props in resources_of_type("AWS::DynamoDB::Table").items()]


def function_environment() -> dict[str, Any]:
    """Globals.Function.Environment.Variables: what every function is given in AWS."""
    variables: dict[str, Any] = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    return variables
