"""What the tests of this folder share besides fixtures."""

from __future__ import annotations

import itertools
import os
import random
import uuid
from dataclasses import dataclass

from gateway.core.identifiers import InvalidIdentifier, parse_national_code
from gateway.platform.config import Settings
from tests.stack import charge_body

TERMINAL = "10000001"


# A fresh subscriber range per session, so no two charges of any test share a mobile or a national code.
_subscribers = itertools.count(random.randrange(10_000_000, 90_000_000, 100_000))


@dataclass(frozen=True)
class Recipient:
    mobile: str
    national_code: str

    @property
    def inbox(self) -> str:
        return "iran" + self.national_code


def _valid_national_code(first_nine: str) -> str:
    for check_digit in "0123456789":
        try:
            return parse_national_code(first_nine + check_digit)
        except InvalidIdentifier:
            continue
    raise AssertionError(f"no check digit completes {first_nine}")


def new_recipient() -> Recipient:
    number = next(_subscribers)
    return Recipient(mobile=f"0935{number % 10_000_000:07d}", national_code=_valid_national_code(f"1{number:08d}"))


def body_for(recipient: Recipient, **overrides) -> dict:
    return charge_body(
        recipient={"name": "مریم احمدی", "national_code": recipient.national_code, "mobile": recipient.mobile},
        **overrides,
    )


def outbox_process_env(settings: Settings) -> dict:
    """The environment of a `pishkhan outbox run` process with these settings."""
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PISHKHAN_KEY_DIR": str(settings.key_dir),
        "PISHKHAN_SMS_PROVIDER": settings.sms_provider,
        "PISHKHAN_SMS_URL": settings.sms_url,
        "PISHKHAN_POOSHEH_URL": settings.poosheh_url,
        "PISHKHAN_MESSAGING_TIMEOUT_S": str(settings.messaging_timeout_s),
        "PISHKHAN_OUTBOX_BATCH": str(settings.outbox_batch),
        "PISHKHAN_OUTBOX_MAX_ATTEMPTS": str(settings.outbox_max_attempts),
        "PISHKHAN_OUTBOX_LEASE_S": str(settings.outbox_lease_s),
        "PISHKHAN_OUTBOX_RETRY_BASE_S": str(settings.outbox_retry_base_s),
        "PISHKHAN_OUTBOX_INTERVAL_S": str(settings.outbox_interval_s),
        "PISHKHAN_DELIVERY_POLL_S": str(settings.delivery_poll_s),
        "PISHKHAN_LOG_LEVEL": "WARNING",
    }


async def outbox_rows(db, charges: list[dict], channel: str) -> dict[str, dict]:
    """The outbox row of `channel` delivering each charge's receipt, by charge id."""
    rows = await db.fetch(
        "SELECT * FROM outbox WHERE charge_id = ANY($1::uuid[]) AND channel = $2 AND purpose = 'receipt'",
        [uuid.UUID(charge["id"]) for charge in charges],
        channel,
    )
    return {str(row["charge_id"]): dict(row) for row in rows}
