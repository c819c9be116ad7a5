"""The aiohttp application: wiring of storage, PSP adapters, the receipt issuer, routes and workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from aiohttp import web

from gateway.charging.completion import ReceiptIssuer
from gateway.charging.due_passes import ClaimPass, run_due_passes
from gateway.charging.group_commit import open_completion_pool
from gateway.charging.psp_pool import PspPool
from gateway.charging.recovery import RecoveryWorker
from gateway.charging.refund_recovery import RefundRecoveryWorker
from gateway.charging.refunds import RefundService
from gateway.charging.service import ChargeService
from gateway.charging.settle_worker import SettlementWorker
from gateway.charging.terminal_lock import TerminalLocks
from gateway.charging.void_recovery import VoidRecoveryWorker
from gateway.charging.voids import VoidService
from gateway.complaints.otp import ComplaintCodes
from gateway.complaints.service import Complaints
from gateway.core.clock import Clock, system_clock
from gateway.identity import inquiry_from_settings
from gateway.messaging.outbox import OutboxWorkers
from gateway.oversight.access_log import sign_heads_daily
from gateway.oversight.runtime import detect_forever, oversight_from_settings
from gateway.platform import metrics
from gateway.platform.config import Settings
from gateway.platform.db import create_pool
from gateway.platform.gc_pauses import freeze_start_up
from gateway.platform.kept_secrets import kept_secret
from gateway.platform.partitions import keep_partitions_ahead
from gateway.platform.redis_client import open_redis
from gateway.platform.replica import LaggingReads
from gateway.receipt_book.links import ReceiptLinks
from gateway.registry.live import RuntimeState
from gateway.web.access_log import regulator_access_log
from gateway.web.auth import Authenticator
from gateway.web.context import SERVICES, Services
from gateway.web.errors import CLIENT_GONE, error_middleware
from gateway.web.http_edge import (
    body_deadline,
    install_parser_error_shape,
    name_the_server,
    readable_request,
    refuse_oversized_expect,
)
from gateway.web.media_types import media_type_middleware
from gateway.web.pages import agency as agency_pages
from gateway.web.pages import complaints as complaint_pages
from gateway.web.pages import console, counter, objections, signin
from gateway.web.pages import receipts as receipt_pages
from gateway.web.pages import tariffs as tariff_pages
from gateway.web.pages.rendering import page_errors, setup_pages
from gateway.web.public_limit import public_rate_limit
from gateway.web.rate_limit import RateLimiter
from gateway.web.request_signing import SignatureVerifier
from gateway.web.routes import charges, complaints, ops, receipts, refunds, regulator, settlements, tariffs, voids
from receipts.keys_files import load_keyring

log = logging.getLogger("pishkhan")
MAX_BODY_BYTES = 64 * 1024
# A guard against a lock nobody frees: recovery frees a terminal when it resolves its charge, and a caller finding a
# final (or never stored) holder takes the terminal over, long before this.
PENDING_TERMINAL_HOLD_S = 24 * 3600


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except (asyncio.CancelledError, ConnectionResetError):
        status = CLIENT_GONE  # the client went away; the handler was stopped, not failed
        raise
    finally:
        metrics.request_count(request.method, route, str(status)).inc()
        metrics.request_latency(request.method, route).observe(time.perf_counter() - started)


def create_app(settings: Settings, *, clock: Clock = system_clock) -> web.Application:
    install_parser_error_shape()
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[
            metrics_middleware,
            readable_request,
            regulator_access_log,
            error_middleware,
            page_errors,
            public_rate_limit,
            media_type_middleware,
            body_deadline,
        ],
    )
    for module in (charges, tariffs, receipts, ops, settlements, regulator, voids, refunds, complaints):
        for route in module.routes:
            assert isinstance(route, web.RouteDef)
            expecting = {**route.kwargs, "expect_handler": refuse_oversized_expect}
            web.RouteDef(route.method, route.path, route.handler, expecting).register(app.router)
    setup_pages(app, settings.key_dir)
    app.add_routes(receipt_pages.routes)
    app.add_routes(tariff_pages.routes)
    app.add_routes(complaint_pages.routes)
    app.add_routes(signin.routes)
    app.add_routes(console.routes)
    app.add_routes(objections.routes)
    app.add_routes(counter.routes)
    app.add_routes(agency_pages.routes)
    app.on_response_prepare.append(name_the_server)
    app.cleanup_ctx.append(_lifecycle(settings, clock))
    return app


def _key_files(settings: Settings) -> tuple:
    directory = settings.key_dir
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in directory.glob("*"))) if directory.exists() else ()


async def _keep_keys_fresh(services: Services, issuer: ReceiptIssuer, interval: float) -> None:
    """Key rotation without downtime: a key added to the key directory is picked up by the running gateway."""
    seen = _key_files(services.settings)
    while True:
        await asyncio.sleep(interval)
        current = _key_files(services.settings)
        if current != seen:
            try:
                services.keyring = issuer.keyring = load_keyring(services.settings.key_dir)
                seen = current
                log.info("receipt-signing keys reloaded: %d keys", len(services.keyring))
            except Exception:
                log.exception("could not reload the receipt-signing keys; keeping the previous ones")


def _lifecycle(settings: Settings, clock: Clock):
    async def lifecycle(app: web.Application):
        pool = await create_pool(settings.database_url, settings.db_pool_size)
        completion_pool = await open_completion_pool(settings.database_url)
        redis = open_redis(settings)
        state = RuntimeState(settings.approver_keys)
        psps = PspPool(
            timeout=settings.psp_timeout_s,
            purchase_timeout=settings.purchase_timeout_s,
            endpoint_overrides=settings.psp_endpoint_overrides(),
        )
        state.listeners.append(psps.sync)
        await state.refresh(pool)
        keyring = load_keyring(settings.key_dir)
        links = ReceiptLinks.kept_in(settings.key_dir, settings.public_base_url)
        issuer = ReceiptIssuer(keyring, links)
        terminal_locks = TerminalLocks(
            redis,
            hold_seconds=settings.purchase_timeout_s + 4 * settings.psp_timeout_s,
            pending_hold_seconds=PENDING_TERMINAL_HOLD_S,
        )
        identity = inquiry_from_settings(settings, redis)
        charges = ChargeService(
            pool,
            state,
            psps,
            issuer,
            terminal_locks,
            identity,
            completion_pool=completion_pool,
            recovery_grace=timedelta(seconds=settings.recovery_grace_s),
            clock=clock,
        )
        recovery = RecoveryWorker(pool, psps, charges, clock=clock)
        void_service = VoidService(
            pool,
            state,
            psps,
            issuer,
            recovery_grace=timedelta(seconds=settings.recovery_grace_s),
            verify_base_url=settings.public_base_url,
            clock=clock,
        )
        void_recovery = VoidRecoveryWorker(pool, void_service, clock=clock)
        refund_service = RefundService(
            pool,
            state,
            psps,
            issuer,
            recovery_grace=timedelta(seconds=settings.recovery_grace_s),
            verify_base_url=settings.public_base_url,
            clock=clock,
        )
        refund_recovery = RefundRecoveryWorker(pool, refund_service, clock=clock)
        auth = Authenticator(
            pool,
            SignatureVerifier(redis),
            RateLimiter(
                redis,
                per_key=settings.rate_limit_per_minute,
                per_terminal=settings.terminal_rate_limit_per_minute,
                per_address=settings.public_rate_limit_per_minute,
            ),
        )
        settlement = SettlementWorker(pool, psps, clock=clock)
        oversight = oversight_from_settings(settings)
        lagging_reads = await LaggingReads.open(pool, settings.database_replica_url, settings.db_pool_size)
        services = Services(
            settings,
            clock,
            pool,
            redis,
            state,
            auth,
            psps,
            keyring,
            charges,
            recovery,
            settlement,
            oversight,
            void_service,
            void_recovery,
            links,
            Complaints(pool, ComplaintCodes(redis, kept_secret(settings.key_dir, "complaint-code-key"))),
            lagging_reads,
            refund_service,
            refund_recovery,
        )
        app[SERVICES] = services
        outbox = OutboxWorkers(settings, pool, lambda: services.keyring, clock=clock)
        tasks = [
            asyncio.create_task(state.keep_fresh(pool, settings.registry_refresh_s)),
            asyncio.create_task(_keep_keys_fresh(services, issuer, settings.registry_refresh_s)),
        ]
        if settings.run_workers:
            claim_passes: dict[str, ClaimPass] = {
                "charges": recovery,
                "voids": void_recovery,
                "refunds": refund_recovery,
                "settlements": settlement,
            }
            tasks.append(
                asyncio.create_task(
                    run_due_passes(pool, claim_passes, interval=settings.recovery_interval_s, clock=clock)
                )
            )
            tasks.append(asyncio.create_task(outbox.run()))
            tasks.append(
                asyncio.create_task(
                    keep_partitions_ahead(
                        pool, settings.partition_months_ahead, interval=settings.partition_interval_s, clock=clock
                    )
                )
            )
            tasks.append(
                asyncio.create_task(
                    sign_heads_daily(
                        pool, lambda: services.keyring, interval=settings.access_log_sign_interval_s, clock=clock
                    )
                )
            )
            tasks.append(
                asyncio.create_task(
                    detect_forever(
                        settings.database_url, state, oversight, interval=settings.oversight_interval_s, clock=clock
                    )
                )
            )
        freeze_start_up()
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await psps.close()
        await identity.close()
        await outbox.close()
        await terminal_locks.close()
        await redis.aclose()
        await lagging_reads.close()
        await completion_pool.close()
        await pool.close()

    return lifecycle
