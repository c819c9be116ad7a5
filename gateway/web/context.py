"""What the application holds for its routes (the `Services`), and the small helpers every route uses."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.cluster import RedisCluster

from gateway.access.api_keys import Principal
from gateway.charging.psp_pool import PspPool
from gateway.charging.recovery import RecoveryWorker
from gateway.charging.refund_recovery import RefundRecoveryWorker
from gateway.charging.refunds import RefundService
from gateway.charging.service import ChargeService
from gateway.charging.settle_worker import SettlementWorker
from gateway.charging.void_recovery import VoidRecoveryWorker
from gateway.charging.voids import VoidService
from gateway.complaints.service import Complaints
from gateway.core.clock import Clock
from gateway.oversight.runtime import Oversight
from gateway.platform.config import Settings
from gateway.platform.replica import LaggingReads
from gateway.receipt_book.links import ReceiptLinks
from gateway.registry.live import RuntimeState
from gateway.web.auth import Authenticator
from receipts.signing import Keyring


@dataclass
class Services:
    settings: Settings
    clock: Clock
    pool: asyncpg.Pool
    redis: aioredis.Redis | RedisCluster
    state: RuntimeState
    auth: Authenticator
    psps: PspPool
    keyring: Keyring
    charges: ChargeService
    recovery: RecoveryWorker
    settlement: SettlementWorker
    oversight: Oversight
    voids: VoidService
    void_recovery: VoidRecoveryWorker
    links: ReceiptLinks
    complaints: Complaints
    lagging_reads: LaggingReads  # the replica when there is one: for reads that may lag, never a terminal's own
    refunds: RefundService
    refund_recovery: RefundRecoveryWorker


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def principal(request: web.Request) -> Principal:
    return await services(request).auth.principal(request)


async def charge_principal(request: web.Request) -> Principal:
    """The charge route's caller, its request not yet counted against the rate limits (see Authenticator)."""
    return await services(request).auth.charge_principal(request)
