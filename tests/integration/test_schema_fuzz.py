"""Schemathesis calls every operation of the API's own OpenAPI document, as an admin of a fresh tenant.

No answer may be a 5xx; every status code, content type and body must be the documented ones. The
run is small and reproducible (derandomized, no deadline, a fixed number of cases per operation);
`make fuzz` runs the same with many more cases and writes its figures to bench/results/fuzz.md.
"""

from __future__ import annotations

from datetime import datetime

from localcloud.fuzz import fuzz, target_for
from tests.utils import Api, TestTenant

# Cases per operation and generation mode (valid data, then data the schema forbids).
EXAMPLES = 6

# Operations that still fail while another part of issue 11 is being fixed: they are fuzzed and
# reported, but do not fail the suite. Remove an entry when its finding lands.
KNOWN_FAILING: dict[str, str] = {}


def test_every_operation_answers_as_its_openapi_document_says(
    frozen_now: datetime, api: Api, tenant: TestTenant
) -> None:
    # Given every operation of GET /v1/openapi.json and one record of each kind to reach past 404s,
    # all at one instant (frozen_now), so a case is answered the same on every run
    target = target_for(api.gateway, tenant.admin)
    paths = api.get("/v1/openapi.json").json()["paths"]
    documented = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}

    # When schemathesis calls each of them with generated valid and invalid requests
    report = fuzz(target, examples=EXAMPLES)
    print(report.summary())  # the figures, for the closing note (pytest -s)

    # Then every operation was called (schemathesis leaves out the document's own) and no answer
    # broke its documentation
    assert {run.operation for run in report.runs} == documented - {"GET /v1/openapi.json"}
    assert all(run.cases > 0 for run in report.runs)
    assert not [
        run.note for run in report.runs if run.note.replace("negative: nothing to generate.", "").strip()
    ]
    failures = report.failures(ignoring=KNOWN_FAILING)
    assert not failures, "\n\n".join(f"{f.line()}\n{f.example}" for f in failures)
