"""The civil registry's person inquiry as a KYC provider serves it (gateway/identity/civil_registry.py has the
protocol), with scripted people and fault injection.

Run `python -m simulators.civil_registry --port 0`: it prints `{"port": N}` once listening. Control API:
- `POST /control/people` `{"national_code", "birth_date", "first_name", "last_name", "alive"?}`: the registry holds
  this person (a national code it does not hold answers `NATIONAL_CODE_NOT_FOUND`);
- `POST /control/faults` `{"kind", "national_code"?, "count"?, ...}`: `slow_answer` (answers `hold_s` late),
  `timeout` (holds the request `hold_s` and answers nothing useful), `http_5xx` (`status`), `malformed` (200 with
  a body that is not JSON), `throttle` (429 with `retry_after`);
- `POST /control/revoke-tokens`: every token issued so far is answered 401 from now on;
- `GET /control/calls`: how many person inquiries were answered or faulted;
- `POST /control/reset`: forgets people, tokens, calls and faults.

With `--population` (the benchmark's load) every national code the registry does not hold is `POPULATION_PERSON`,
alive: the load generator's recipients are drawn at random and each is asked once.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import secrets

from aiohttp import web

from simulators.http_faults import FaultBook, add_control_routes, reply_with_fault, serve

FAULT_KINDS = ("slow_answer", "timeout", "http_5xx", "malformed", "throttle")
TOKEN_LIFETIME_S = 3600


class Registry:
    def __init__(self, client_id: str, client_secret: str, population: bool) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.population = population
        self.faults = FaultBook(FAULT_KINDS, target_field="national_code")
        self.reset()

    def reset(self) -> None:
        self.people: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.calls = 0


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


# The demo recipient of `make run` (README), known when the simulator is started with --demo.
DEMO_PERSON = {
    "national_code": "0012345679",
    "birth_date": "1370/01/15",
    "first_name": "علی",
    "last_name": "رضایی",
    "alive": True,
}
# Everyone with --population: the name the benchmark's load generator gives every recipient (loadtests/loadgen.py).
POPULATION_PERSON = {"birth_date": "1370/01/15", "first_name": "مریم", "last_name": "احمدی", "alive": True}


def create_app(
    client_id: str = "pishkhan", client_secret: str = "pishkhan", *, demo: bool = False, population: bool = False
) -> web.Application:
    registry = Registry(client_id, client_secret, population)
    if demo:
        registry.people[str(DEMO_PERSON["national_code"])] = dict(DEMO_PERSON)
    app = web.Application()

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        if _basic_credentials(request) != (registry.client_id, registry.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        issued = secrets.token_urlsafe(24)
        registry.tokens.add(issued)
        return web.json_response({"access_token": issued, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S})

    async def inquiry(request: web.Request) -> web.StreamResponse:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or presented not in registry.tokens or request.match_info["client"] != client_id:
            return web.json_response({"error": "invalid_token"}, status=401)
        national_code = request.query.get("nationalCode", "")
        track_id = request.query.get("trackId") or secrets.token_hex(16)
        registry.calls += 1
        fault = registry.faults.take(FAULT_KINDS, [national_code])
        return await reply_with_fault(fault, lambda: _person_answer(registry, request, national_code, track_id))

    async def add_person(request: web.Request) -> web.Response:
        person = await request.json()
        registry.people[person["national_code"]] = {"alive": True, **person}
        return web.json_response(registry.people[person["national_code"]], status=201)

    async def revoke_tokens(request: web.Request) -> web.Response:
        registry.tokens.clear()
        return web.json_response({"revoked": True})

    async def calls(request: web.Request) -> web.Response:
        return web.json_response({"inquiries": registry.calls})

    app.router.add_post("/oauth2/token", token)
    app.router.add_get("/kyc/v2/clients/{client}/identityInquiry", inquiry)
    app.router.add_post("/control/people", add_person)
    app.router.add_post("/control/revoke-tokens", revoke_tokens)
    app.router.add_get("/control/calls", calls)
    add_control_routes(app, registry.faults, registry.reset)
    return app


def _person_answer(registry: Registry, request: web.Request, national_code: str, track_id: str) -> web.Response:
    person = registry.people.get(national_code) or (POPULATION_PERSON if registry.population else None)
    if person is None:
        return _failed(track_id, "NATIONAL_CODE_NOT_FOUND", "national code not found")
    if request.query.get("birthDate") != person["birth_date"]:
        return _failed(track_id, "BIRTH_DATE_MISMATCH", "birth date does not match")
    result = {
        "nationalCode": national_code,
        "firstName": person["first_name"],
        "lastName": person["last_name"],
        "isAlive": person["alive"],
    }
    return web.json_response({"trackId": track_id, "status": "DONE", "result": result})


def _failed(track_id: str, code: str, message: str) -> web.Response:
    return web.json_response(
        {"trackId": track_id, "status": "FAILED", "error": {"code": code, "message": message}}, status=400
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="civil registry person inquiry simulator (KYC provider REST)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9303, help="0 binds a free port")
    parser.add_argument("--client-id", default="pishkhan")
    parser.add_argument("--client-secret", default="pishkhan")
    parser.add_argument("--demo", action="store_true", help="know the demo recipient of make run")
    parser.add_argument(
        "--population", action="store_true", help="for load: every national code not held is the same living person"
    )
    args = parser.parse_args(argv)
    app = create_app(args.client_id, args.client_secret, demo=args.demo, population=args.population)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
