"""Prometheus metrics, served at /metrics."""

import functools

from prometheus_client import Counter, Histogram

REQUESTS = Counter("pishkhan_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_LATENCY = Histogram(
    "pishkhan_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CHARGE_OUTCOMES = Counter(
    "pishkhan_charge_outcomes_total", "Charge outcomes by final or pending status, and refusals by reason", ["outcome"]
)
PSP_LATENCY = Histogram(
    "pishkhan_psp_call_seconds",
    "PSP call latency",
    ["psp", "operation"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 90),
)
RECOVERY_ACTIONS = Counter("pishkhan_recovery_actions_total", "Recovery worker decisions", ["action"])
VOID_OUTCOMES = Counter("pishkhan_void_outcomes_total", "Voids requested, and their moves by status", ["outcome"])
VOID_RECOVERY_ACTIONS = Counter("pishkhan_void_recovery_actions_total", "Void recovery decisions", ["action"])
REFUND_OUTCOMES = Counter("pishkhan_refund_outcomes_total", "Refunds requested, and their moves by status", ["outcome"])
OUTBOX_MESSAGES = Counter(
    "pishkhan_outbox_messages_total",
    "Outbox messages by channel and event: sent (accepted "
    "by the provider), retried, failed (refused for good), dead (out of attempts), and the "
    "delivery reports delivered, undelivered",
    ["channel", "event"],
)
STORE_UNAVAILABLE = Counter(
    "pishkhan_store_unavailable_total",
    "Requests answered 503 because PostgreSQL or Redis could not be reached, by store",
    ["store"],
)
RECEIPT_CHAIN_RETRIES = Counter(
    "pishkhan_receipt_chain_retries_total",
    "Receipts signed again because the office's chain head had moved since it was read (another process or "
    "terminal of the office issued one in between)",
)

IDENTITY_LATENCY = Histogram(
    "pishkhan_identity_inquiry_seconds",
    "Identity inquiry latency before a card is pushed (every service that applies, asked at once)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

CHARGE_INSERT_BATCH = Histogram(
    "pishkhan_charge_insert_batch_size",
    "Charges persisted together in one statement (gateway/charging/group_commit.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)

CHARGE_COMPLETION_BATCH = Histogram(
    "pishkhan_charge_completion_batch_size",
    "Charges completed together in one statement (gateway/charging/group_commit.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)


def _resolved_once(metric):
    """`metric.labels` for the request path: each label set's child is looked up once per process (`labels` checks
    its arguments and takes a lock on every call). Bounded, since a client picks the method label."""
    return functools.lru_cache(maxsize=4096)(metric.labels)


request_count = _resolved_once(REQUESTS)
request_latency = _resolved_once(REQUEST_LATENCY)
charge_outcome = _resolved_once(CHARGE_OUTCOMES)
psp_latency = _resolved_once(PSP_LATENCY)
