"""Delivery of the outbox: the dispatcher, the delivery-report poller, and their channels (SMS, Iran Poosheh)."""

from __future__ import annotations

from gateway.messaging.outbox.channels import Channel, PooshehChannel, SmsChannel
from gateway.messaging.outbox.delivery_reports import DeliveryReportPoller, report_update
from gateway.messaging.outbox.dispatcher import OutboxDispatcher
from gateway.messaging.outbox.retry import RetryPolicy
from gateway.messaging.outbox.workers import OutboxWorkers, run_outbox_process

__all__ = [
    "Channel",
    "DeliveryReportPoller",
    "OutboxDispatcher",
    "OutboxWorkers",
    "PooshehChannel",
    "RetryPolicy",
    "SmsChannel",
    "report_update",
    "run_outbox_process",
]
