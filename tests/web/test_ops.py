"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import re

from gateway.web.pages.rendering import is_page_route
from tests.stack import charge_body


async def test_health_and_readiness(gateway):
    assert await gateway.request("GET", "/healthz") == (200, {"status": "ok"})
    status, ready = await gateway.request("GET", "/readyz")
    assert status == 200 and ready["checks"] == {"postgres": "ok", "redis": "ok", "registry": "ok"}


async def test_metrics_count_requests_and_charge_outcomes(gateway, keys):
    await gateway.charge(await keys("t:10000001"), charge_body())
    await gateway.charge(await keys("t:10000001"), charge_body(payment_method="cash"))
    status, text = await gateway.request("GET", "/metrics")
    text = text.decode()
    assert status == 200
    assert re.search(r'pishkhan_charge_outcomes_total\{outcome="completed"\} [1-9]', text)
    assert re.search(r'pishkhan_charge_outcomes_total\{outcome="refused_cash_forbidden"\} [1-9]', text)
    assert 'pishkhan_http_request_seconds_bucket{le="0.05",method="POST",route="/v1/charges"}' in text
    assert 'pishkhan_psp_call_seconds_count{operation="purchase",psp="psp-mellat"}' in text


def _spec_path(route_path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", route_path)


async def test_openapi_describes_exactly_the_served_routes(gateway):
    status, spec = await gateway.request("GET", "/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), _spec_path(route.resource.canonical))
        for route in gateway.app.router.routes()
        if route.method != "HEAD" and not is_page_route(route)
    }
    described = {(method, path) for path, operations in spec["paths"].items() for method in operations}
    assert served == described


async def test_unknown_routes_and_methods_answer_in_the_error_shape(gateway):
    status, body = await gateway.request("GET", "/v1/nothing-here")
    assert status == 404 and set(body["error"]) == {"type", "code", "message", "param", "details"}
    status, body = await gateway.request("DELETE", "/v1/charges")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


async def test_a_missing_or_wrong_key_is_refused(gateway):
    status, body = await gateway.request("POST", "/v1/charges", json=charge_body(), headers={"Idempotency-Key": "k"})
    assert status == 401 and body["error"]["type"] == "authentication_error"
    status, body = await gateway.request(
        "POST", "/v1/charges", json=charge_body(), key="pk_0000.nope", headers={"Idempotency-Key": "k"}
    )
    assert status == 401


async def test_openapi_publishes_the_identifier_patterns(gateway):
    _, spec = await gateway.request("GET", "/openapi.json")
    properties = spec["components"]["schemas"]["ChargeRequest"]["properties"]
    assert properties["terminal_id"]["pattern"] == "^[0-9]{8}$"
    assert properties["service_code"]["pattern"] == "^[0-9]{1,10}$"
