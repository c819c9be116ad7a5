"""The refund recovery worker: drives every pending refund to instructed or failed by sending its instruction again.

Claims work like the charge recovery worker's (gateway/charging/way_back_recovery.py). No inquiry is needed first:
the PSP answers a repeated refund of a purchase with the refund it already took (its RRN), so sending again can
never return the money twice. Only an explicit PSP answer finishes a refund; silence backs off and tries again.
"""

from __future__ import annotations

from gateway.charging.way_back_recovery import WayBackRecoveryWorker
from gateway.core.charge import Charge
from gateway.core.recovery_rules import backoff
from gateway.core.refunds import Refund, RefundStatus


class RefundRecoveryWorker(WayBackRecoveryWorker[Refund]):
    async def resolve(self, refund: Refund, charge: Charge) -> None:
        await self.service.send(refund, charge, retry_delay=backoff(refund.recovery_attempts))

    async def _after_error(self, refund: Refund) -> None:
        await self.service.store.save_move(
            self.pool,
            refund.moved_to(RefundStatus.SENT),
            at=self.clock(),
            note="recovery error",
            next_recovery_at=self.clock() + backoff(refund.recovery_attempts),
        )
