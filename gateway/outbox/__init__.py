"""Delivery of the outbox: the dispatcher, the delivery-report poller, and their channels (SMS, Iran Poosheh)."""
from __future__ import annotations

from gateway.outbox.channels import Channel, PooshehChannel, SmsChannel
from gateway.outbox.delivery_reports import DeliveryReportPoller, report_update
from gateway.outbox.dispatcher import OutboxDispatcher
from gateway.outbox.retry import RetryPolicy
from gateway.outbox.workers import OutboxWorkers, run_outbox_process

__all__ = ["Channel", "DeliveryReportPoller", "OutboxDispatcher", "OutboxWorkers", "PooshehChannel",
           "RetryPolicy", "SmsChannel", "report_update", "run_outbox_process"]
