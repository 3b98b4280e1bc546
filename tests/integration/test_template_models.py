"""template.yaml is the single source of truth for tables: the PynamoDB models must agree with it."""

from __future__ import annotations

from typing import Any

from pynamodb.indexes import GlobalSecondaryIndex

from cashline.dal.table import CashlineItem
from localcloud.cloud import LocalCloud
from localcloud.template import local_name, tables

PROJECTIONS = {"AllProjection": "ALL", "KeysOnlyProjection": "KEYS_ONLY", "IncludeProjection": "INCLUDE"}


def _template_table(logical_id: str) -> dict[str, Any]:
    return next(t.properties for t in tables() if t.logical_id == logical_id)


def _keys(key_schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in key_schema}


def _model_indexes() -> dict[str, GlobalSecondaryIndex[Any]]:
    return {
        index.Meta.index_name: index
        for index in vars(CashlineItem).values()
        if isinstance(index, GlobalSecondaryIndex)
    }


def test_the_table_keys_agree() -> None:
    template = _template_table("CashlineTable")
    model_keys = {
        "HASH": CashlineItem._hash_key_attribute().attr_name,
        "RANGE": CashlineItem._range_key_attribute().attr_name,
    }
    assert _keys(template["KeySchema"]) == model_keys


def test_every_index_agrees_on_name_keys_and_projection() -> None:
    template = {i["IndexName"]: i for i in _template_table("CashlineTable")["GlobalSecondaryIndexes"]}
    model = _model_indexes()
    assert set(template) == set(model)
    for name, index in model.items():
        schema = index._get_schema()
        assert _keys(template[name]["KeySchema"]) == {
            k["KeyType"]: k["AttributeName"] for k in schema["key_schema"]
        }
        assert (
            template[name]["Projection"]["ProjectionType"]
            == PROJECTIONS[type(index.Meta.projection).__name__]
        )


def test_key_attribute_types_agree() -> None:
    template_types = {
        a["AttributeName"]: a["AttributeType"]
        for a in _template_table("CashlineTable")["AttributeDefinitions"]
    }
    model_attributes = CashlineItem.get_attributes()
    by_name = {attribute.attr_name: attribute for attribute in model_attributes.values()}
    for name, attribute_type in template_types.items():
        assert by_name[name].attr_type == attribute_type, name


def test_the_ttl_attribute_agrees() -> None:
    ttl = _template_table("CashlineTable")["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": CashlineItem.expires_at_epoch.attr_name, "Enabled": True}


def test_local_tables_are_the_templates_tables(local_cloud: LocalCloud) -> None:
    dynamodb = local_cloud.client("dynamodb")
    for table in tables():
        described = dynamodb.describe_table(TableName=local_name(table.logical_id))["Table"]
        assert described["KeySchema"] == table.properties["KeySchema"]
        local_indexes = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
        assert local_indexes == {i["IndexName"] for i in table.properties.get("GlobalSecondaryIndexes", [])}
