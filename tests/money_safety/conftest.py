"""The money-safety tests use the whole-path fixtures with shorter PSP timeouts, so that faults resolve quickly: their
own settings, and their own gateway served with them."""

import asyncio
import random

import pytest
import redis.asyncio as aioredis

from gateway.platform.config import Settings
from simulators.devstack.embedded import free_port
from tests.messaging.conftest import inbox, poosheh_url, sms_centre, sms_centre_url  # noqa: F401
from tests.money_safety.support import PSP_TIMEOUT_S, PURCHASE_TIMEOUT_S, RECOVERY_GRACE_S, TERMINALS
from tests.stack import served


@pytest.fixture(scope="session")
def settings(database_url, redis_url, psp_hosts, key_dir, sample_approvals) -> Settings:
    endpoints = ",".join(f"{psp_id}=127.0.0.1:{host.port}" for psp_id, host in psp_hosts.items())
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        key_dir=key_dir,
        tariff_dir=sample_approvals[0],
        approver_keys=sample_approvals[1],
        psp_endpoints=endpoints,
        psp_timeout_s=PSP_TIMEOUT_S,
        purchase_timeout_s=PURCHASE_TIMEOUT_S,
        recovery_grace_s=RECOVERY_GRACE_S,
        recovery_interval_s=0.2,
        registry_refresh_s=0.5,
        run_workers=False,
        public_rate_limit_per_minute=0,  # many tests call the public routes from one address
    )


@pytest.fixture
def gateway_env(database_url, redis_url, psp_hosts, key_dir, db, sample_approvals) -> dict[str, str]:
    """The environment of `pishkhan serve` as two processes sharing a port, plus the background process."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PISHKHAN_PORT": str(free_port()),
        "PISHKHAN_KEY_DIR": str(key_dir),
        "PISHKHAN_APPROVER_KEYS": str(sample_approvals[1]),
        "PISHKHAN_WORKERS": "2",
        "PISHKHAN_RUN_WORKERS": "1",
        "PISHKHAN_PSP_ENDPOINTS": ",".join(f"{p}=127.0.0.1:{h.port}" for p, h in psp_hosts.items()),
        "PISHKHAN_PSP_TIMEOUT_S": "0.5",
        "PISHKHAN_PURCHASE_TIMEOUT_S": "1.5",
        "PISHKHAN_RECOVERY_GRACE_S": "2.5",
        "PISHKHAN_RECOVERY_INTERVAL_S": "0.2",
        "PISHKHAN_LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
async def gateway(settings, db, http_session):
    async with served(settings, http_session) as served_gateway:
        yield served_gateway


CARDHOLDERS = ["approve", "approve", "approve", "decline:51", "cancel", "no_answer", "approve", "decline:55"]


@pytest.fixture
async def cardholders(sims, psp_hosts, demo_registry, redis_url):
    """Random PIN times and a mix of answers on every streaming terminal; plain terminals again afterwards, free of
    the locks a killed gateway left behind (they expire on their own, but later tests send on these terminals)."""
    psp_of = {t: demo_registry["terminals"][t]["psp"] for t in TERMINALS}
    for terminal_id, psp_id in psp_of.items():
        await sims[psp_id].pin_delay(terminal_id, random.randint(100, 600))
        await sims[psp_id].script(terminal_id, *random.sample(CARDHOLDERS, len(CARDHOLDERS)))
    yield
    for terminal_id, psp_id in psp_of.items():
        await sims[psp_id].pin_delay(terminal_id, 0)
        await sims[psp_id].script(terminal_id)
    await _until_terminals_free(redis_url)


async def _until_terminals_free(redis_url: str, timeout: float = 30.0) -> None:
    redis = aioredis.from_url(redis_url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while held := [key async for key in redis.scan_iter(match="pishkhan:*:terminal:*:busy")]:
            assert loop.time() < deadline, f"terminal locks still held after {timeout} s: {held}"
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()
