"""docs/api.md stays true to the routes the app serves: its endpoint index lists every method and path,
and nothing the app does not serve."""

from __future__ import annotations

import re
from typing import Any

from localcloud.paths import ROOT

INDEX_START = "<!-- endpoint index: start -->"
INDEX_END = "<!-- endpoint index: end -->"


def served(chalice_app: Any) -> set[tuple[str, str]]:
    """(METHOD, path) of every route a view answers (not the 405 stand-ins)."""
    return {
        (method, path)
        for path, methods in chalice_app.routes.items()
        for method, entry in methods.items()
        if entry.view_name != "method_not_allowed"
    }


def documented() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text()
    index = text[text.index(INDEX_START) : text.index(INDEX_END)]
    return {(m, p) for m, p in re.findall(r"^\| ([A-Z]+) \| `([^`]+)` \|", index, flags=re.M)}


def test_the_endpoint_index_lists_every_route_and_only_those(chalice_app: Any) -> None:
    assert documented() == served(chalice_app)
