"""schemathesis against the served /openapi.json: every operation, generated valid and invalid requests; no 5xx,
every answer documented and in its documented shape (errors in the shared one), invalid input refused.

Bounded for `make test`: a few dozen cases per operation. The gateway is a `pishkhan serve` process with the rate
limits off, so the fuzzing measures the edge and not the limiter.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from gateway.web.openapi import openapi_document

# The caller for each operation: one that passes the role check, so the generated input reaches the handler.
ROLE_FOR_PATH = {
    "/v1/agencies/{agency_id}/settlements": "regulator",
    "/v1/reconciliation": "regulator",
    "/v1/psps/{psp_id}/settlement-files": "admin",
}

# positive_data_acceptance is left out: the gateway checks more than JSON Schema can say (check digits, registry
# membership, patterns matched after Persian digits are normalised), so a schema-valid request may rightly get 400.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.allow_header_conformance,
    checks.ignored_auth,
]

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="session")
def published_document(served_gateway) -> dict:
    """What the served gateway publishes, which the fuzzing takes as read from openapi_document()."""
    with urllib.request.urlopen(served_gateway.url + "/openapi.json", timeout=5) as response:
        return json.load(response)


def test_the_fuzzed_document_is_the_published_one(published_document):
    assert published_document == json.loads(json.dumps(openapi_document()))


@pytest.fixture(scope="session")
async def fuzzing_keys(keys) -> dict[str, str]:
    return {"terminal": await keys("t:10000004"), "regulator": await keys("regulator"), "admin": await keys("admin")}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_published_contract(case, fuzzing_keys, served_gateway):
    key = fuzzing_keys[ROLE_FOR_PATH.get(case.operation.path, "terminal")]
    case.call_and_validate(
        base_url=served_gateway.url, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS, timeout=15
    )
