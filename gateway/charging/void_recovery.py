"""The void recovery worker: drives every pending void to reversed or refused by asking the PSP what it holds.

Claims work like the charge recovery worker's (gateway/charging/way_back_recovery.py). For each void: inquiry on
the original purchase first, then `voids.decide_void`: reversed → issue the cancellation receipt; still held → send
the reversal again (idempotent at the PSP); settled → refused, a refund instead; anything else → retry later with
backoff. Only an explicit PSP answer finishes a void.
"""

from __future__ import annotations

from gateway.charging.voids import VoidService
from gateway.charging.way_back_recovery import WayBackRecoveryWorker
from gateway.core.charge import Charge
from gateway.core.psp import TxnState
from gateway.core.recovery_rules import backoff
from gateway.core.voids import Void, VoidAction, decide_void
from gateway.platform import metrics


class VoidRecoveryWorker(WayBackRecoveryWorker[Void]):
    service: VoidService

    async def resolve(self, void: Void, charge: Charge) -> None:
        with metrics.PSP_LATENCY.labels(psp=charge.psp_id, operation="inquire").time():
            inquiry = await self.service.psps.adapter(charge.psp_id).inquire(charge.txn_ref())
        state = inquiry.state or TxnState.UNKNOWN
        action = decide_void(state)
        metrics.VOID_RECOVERY_ACTIONS.labels(action=action.value).inc()
        match action:
            case VoidAction.COMPLETE:
                await self.service.complete(void, charge)
            case VoidAction.REVERSE:
                await self.service.send(void, charge, retry_delay=backoff(void.recovery_attempts))
            case VoidAction.MARK_REFUSED:
                await self.service.refuse(void, inquiry.response_code, "inquiry: settled, no longer reversible")
            case VoidAction.RETRY_LATER:
                await self._postpone(void, f"inquiry: {state}")

    async def _after_error(self, void: Void) -> None:
        await self._postpone(void, "recovery error")

    async def _postpone(self, void: Void, note: str) -> None:
        await self.service.store.postpone(
            self.pool,
            void.id,
            epoch=void.claim_epoch,
            next_at=self.clock() + backoff(void.recovery_attempts),
            note=note,
        )
