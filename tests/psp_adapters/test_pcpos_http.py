"""What is particular to the cloud PC-POS adapter and its simulator front end: access tokens, registered payment
requests that never start, and answers to requests that do not parse."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest

from gateway.core.psp import Outcome, TxnState
from psp_adapters import pcpos_spec as spec
from psp_adapters.pcpos_http import PcPosHttpAdapter
from psp_adapters.registry import create_adapter
from simulators.psp.psp_host import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.simulators.psp_support import CAPABILITIES, SimulatorControl, new_purchase, start_simulator, txn_ref

IDENTIFIER_TTL_S = 0.5


@pytest.fixture(scope="module")
def pcpos_host():
    host = start_simulator(
        "--protocol", "pcpos-http", "--psp-id", "psp-pcpos", "--identifier-ttl-s", str(IDENTIFIER_TTL_S)
    )
    yield host
    host.stop()


def endpoint(host, **changes) -> dict:
    return {
        "host": "127.0.0.1",
        "port": host.port,
        "scheme": "http",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "purchase_timeout": 5.0,
        **changes,
    }


@pytest.fixture
async def connect(pcpos_host):
    adapters = []

    def connect(**changes) -> PcPosHttpAdapter:
        adapters.append(create_adapter("psp-pcpos", "pcpos-http", endpoint(pcpos_host, **changes), CAPABILITIES, 2.0))
        return adapters[-1]

    yield connect
    for adapter in adapters:
        await adapter.close()


class Api:
    """The PC-POS API spoken by hand, for what the adapter never sends."""

    def __init__(self, host, session: aiohttp.ClientSession) -> None:
        self._url = f"http://127.0.0.1:{host.port}"
        self._session = session

    async def token(self) -> str:
        async with self._session.post(
            self._url + spec.TOKEN_PATH,
            data={"grant_type": spec.GRANT_TYPE, "scope": spec.SCOPE},
            headers={"Authorization": aiohttp.encode_basic_auth(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)},
        ) as answer:
            assert answer.status == 200
            return (await answer.json())["access_token"]

    async def post(self, path: str, body: object, *, token: str | None) -> tuple[int, dict, str | None]:
        headers = {spec.REQUEST_ID_HEADER: "req-1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self._session.post(self._url + path, json=body, headers=headers) as answer:
            return answer.status, await answer.json(), answer.headers.get(spec.REQUEST_ID_HEADER)

    async def register(self, request, token: str) -> str:
        status, answer, _ = await self.post(spec.IDENTIFIER_PATH, registration(request), token=token)
        assert (status, answer["ResultCode"]) == (200, "00")
        return answer["Data"]["Identifier"]

    async def start(self, identifier: str, terminal_id: str, token: str) -> dict:
        _, answer, _ = await self.post(
            spec.START_PAYMENT_PATH, {"Identifier": identifier, "TerminalID": terminal_id}, token=token
        )
        return answer


def registration(request, **changes) -> dict:
    body = spec.IdentifierRequest(
        terminal_id=request.terminal_id,
        merchant_id=request.merchant_id,
        amount=request.amount,
        res_num=request.reference,
        trace_number=request.stan,
        transmission_date_time=request.transmitted_at,
    )
    return {**body.model_dump(mode="json", by_alias=True), **changes}


@pytest.fixture
def api(pcpos_host, http_session) -> Api:
    return Api(pcpos_host, http_session)


async def revoke_tokens(host, session: aiohttp.ClientSession) -> int:
    async with session.post(host.control_url + "/tokens/revoke") as answer:
        return (await answer.json())["revoked"]


async def test_one_token_serves_concurrent_calls_and_a_revoked_one_is_replaced(connect, pcpos_host, http_session):
    await revoke_tokens(pcpos_host, http_session)
    adapter = connect()
    requests = [new_purchase() for _ in range(3)]

    replies = await asyncio.gather(*(adapter.purchase(request) for request in requests))
    issued = await revoke_tokens(pcpos_host, http_session)
    verified = await adapter.verify(txn_ref(requests[0], replies[0]))
    issued_again = await revoke_tokens(pcpos_host, http_session)

    assert [reply.outcome for reply in replies] == [Outcome.APPROVED] * 3
    assert (issued, issued_again) == (1, 1)
    assert (verified.outcome, verified.response_code) == (Outcome.APPROVED, "00")


async def test_refused_credentials_are_unknown_and_nothing_reaches_the_psp(connect, pcpos_host, http_session):
    adapter = connect(client_secret="not-the-secret")
    request = new_purchase()

    reply = await adapter.purchase(request)

    assert reply.outcome is Outcome.UNKNOWN and "access token refused" in reply.detail
    assert await SimulatorControl(pcpos_host, http_session).ledger(request.reference) == []


async def test_a_request_never_started_is_pending_until_a_reversal_cancels_it(connect, api, pcpos_host, http_session):
    adapter = connect()
    request = new_purchase()
    token = await api.token()
    identifier = await api.register(request, token)
    ref = txn_ref(request)

    pending = await adapter.inquire(ref)
    cancelled = await adapter.reverse(ref)
    gone = await adapter.inquire(ref)
    started = await api.start(identifier, request.terminal_id, token)

    assert (pending.outcome, pending.state, pending.response_code) == (Outcome.APPROVED, TxnState.PENDING, None)
    assert cancelled.outcome is Outcome.APPROVED
    assert gone.state is TxnState.NOT_FOUND
    assert started["ResultCode"] == "12" and started["Data"] is None
    assert await SimulatorControl(pcpos_host, http_session).ledger(request.reference) == []


async def test_an_identifier_not_started_in_time_is_dead(connect, api):
    adapter = connect()
    request = new_purchase()
    token = await api.token()
    identifier = await api.register(request, token)

    await asyncio.sleep(IDENTIFIER_TTL_S + 0.2)
    inquiry = await adapter.inquire(txn_ref(request))
    started = await api.start(identifier, request.terminal_id, token)

    assert inquiry.state is TxnState.NOT_FOUND
    assert started["ResultCode"] == "12"


async def test_registering_again_gives_the_same_identifier_and_another_payment_is_refused(api):
    request = new_purchase()
    token = await api.token()

    first = await api.register(request, token)
    again = await api.register(request, token)
    _, other, _ = await api.post(spec.IDENTIFIER_PATH, registration(request, Amount=request.amount + 1), token=token)

    assert first == again
    assert (other["IsSuccess"], other["ResultCode"]) == (False, "12")


@pytest.mark.parametrize("body", [{"Identifier": 5, "TerminalID": "70000001"}, {"TerminalID": "70000001"}, []])
async def test_a_body_that_does_not_parse_answers_30(api, body):
    status, answer, echoed = await api.post(spec.START_PAYMENT_PATH, body, token=await api.token())

    assert (status, answer["ResultCode"], answer["IsSuccess"], echoed) == (400, "30", False, "req-1")


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_call_without_a_valid_token_is_401(api, token):
    status, answer, echoed = await api.post(spec.INQUIRY_PATH, {"TerminalID": "70000001", "ResNum": "x"}, token=token)

    assert (status, answer, echoed) == (401, {"error": "invalid_token"}, "req-1")


def test_the_base_url_is_built_from_the_endpoint():
    adapter = create_adapter(
        "psp-saman",
        "pcpos-http",
        {"host": "10.0.0.5", "port": 8443, "client_id": "gw", "client_secret": "s", "base_path": "/pcpos"},
        CAPABILITIES,
        5.0,
    )
    plain = create_adapter(
        "psp-saman",
        "pcpos-http",
        {"host": "127.0.0.1", "port": "17201", "scheme": "http", "client_id": "gw", "client_secret": "s"},
        CAPABILITIES,
        5.0,
    )

    assert str(adapter.base_url) == "https://10.0.0.5:8443/pcpos"
    assert (str(plain.base_url), plain.purchase_timeout) == ("http://127.0.0.1:17201", 90.0)


@pytest.mark.parametrize("changes", [{"stan": "12"}, {"amount": 0}])
async def test_a_request_that_cannot_be_sent_raises_before_sending(connect, changes):
    request = new_purchase()

    with pytest.raises(ValueError):
        await connect().purchase(dataclasses.replace(request, **changes))
