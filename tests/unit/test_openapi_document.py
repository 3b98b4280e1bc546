"""The OpenAPI document builder on its own: every `$ref` resolves, statuses and bodies as routes answer."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate
from pydantic import BaseModel

from cashline.schemas.common import ListQuery, OutputModel, PageOutput, RequestModel
from cashline.schemas.openapi import RouteSpec, build_openapi


class ThingOutput(OutputModel):
    id: str


class ThingRequest(RequestModel):
    name: str


class ThingQuery(ListQuery):
    colour: str | None = None


def _document(*routes: RouteSpec) -> dict[str, Any]:
    return build_openapi(list(routes), title="t", version="1")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _route(**values: Any) -> RouteSpec:
    defaults: dict[str, Any] = {
        "method": "GET",
        "path": "/v1/things",
        "summary": "s",
        "status": 200,
        "response_model": ThingOutput,
        "role": "read_only",
    }
    return RouteSpec(**{**defaults, **values})


def test_a_generic_page_is_referred_to_by_the_name_of_its_component() -> None:
    # Given a list route answering PageOutput[ThingOutput] (finding 13: refs said "PageOutput[...]")
    document = _document(_route(response_model=PageOutput[ThingOutput], query_model=ListQuery))

    # Then every $ref names a component that exists, and the document is valid OpenAPI
    components = set(document["components"]["schemas"])
    refs = _refs(document)
    assert refs
    assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= components
    validate(document)


def test_the_document_names_a_server() -> None:
    assert _document(_route())["servers"][0]["url"] == "/"
    assert build_openapi([_route()], title="t", version="1", server_url="https://x.example/api")[
        "servers"
    ] == [{"url": "https://x.example/api", "description": "The API that served this document"}]


def test_routes_with_a_body_list_413_and_415_and_routes_without_do_not() -> None:
    document = _document(
        _route(method="POST", status=201, request_model=ThingRequest, role="finance"),
        _route(method="PUT", path="/v1/things/raw", accepts=("text/csv",), role="finance"),
        _route(path="/v1/things/{thing_id}"),
    )
    posted = document["paths"]["/v1/things"]["post"]["responses"]
    raw = document["paths"]["/v1/things/raw"]["put"]["responses"]
    read = document["paths"]["/v1/things/{thing_id}"]["get"]["responses"]
    assert {"201", "413", "415"} <= set(posted) and "200" not in posted
    assert {"200", "413", "415"} <= set(raw)
    assert not {"413", "415"} & set(read)
    validate(document)


def test_a_204_answer_has_no_content_and_a_route_without_a_role_no_401() -> None:
    document = _document(_route(method="DELETE", status=204, response_model=None, role=None))
    responses = document["paths"]["/v1/things"]["delete"]["responses"]
    assert "content" not in responses["204"]
    assert not {"401", "403"} & set(responses)
    assert document["paths"]["/v1/things"]["delete"]["security"] == []


def test_other_statuses_answered_with_the_route_model_are_documented_with_it() -> None:
    # A CSV import answers its row report with 422; a 422 error body stays possible too.
    document = _document(_route(method="POST", accepts=("text/csv",), also_answers=(422,)))
    schema = document["paths"]["/v1/things"]["post"]["responses"]["422"]["content"]["application/json"][
        "schema"
    ]
    assert {"$ref": "#/components/schemas/ThingOutput"} in schema["anyOf"]
    assert {"$ref": "#/components/schemas/ErrorOutput"} in schema["anyOf"]


def test_query_parameters_are_strings_or_absent_never_null() -> None:
    document = _document(_route(query_model=ThingQuery))
    parameters = {p["name"]: p for p in document["paths"]["/v1/things"]["get"]["parameters"]}
    assert parameters["colour"]["schema"] == {"title": "Colour", "type": "string"}
    assert parameters["starting_after"]["schema"]["maxLength"] == 2048
    assert "null" not in str(parameters)


def test_a_model_used_both_ways_is_described_for_each_use() -> None:
    class Settings(BaseModel):
        days: int = 30

    document = _document(_route(method="PUT", request_model=Settings, response_model=Settings, role="admin"))
    operation = document["paths"]["/v1/things"]["put"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = document["components"]["schemas"]
    assert request.rsplit("/", 1)[-1] in components
    assert answer.rsplit("/", 1)[-1] in components
    validate(document)
