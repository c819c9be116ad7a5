"""Locust: many offices' terminals, each a user with its own terminal and API key, with a realistic mix of work:
approved charges, card declines, attempts above the tariff cap, client retries with the same Idempotency-Key,
receipt fetches and tariff quotes.

The fleet comes from a JSON file (default var/bench/locust-fleet.json, or PISHKHAN_LOCUST_FLEET):
{"host", "service_code", "amount", "terminals": [[terminal_id, operator_id, api_key, psp_id], ...],
"simulators": {psp_id: control API URL}}. `python -m loadtests.bench --locust SECONDS` writes it for its own stack,
runs locust headless against it and adds locust's figures to the report. By hand, against any stack with such a file:

    PISHKHAN_LOCUST_FLEET=fleet.json locust -f loadtests/locustfile.py --headless -u 200 -r 50 -t 60s

Declines are real card declines: the user scripts its terminal's next cardholder on the PSP simulator's control
API (insufficient funds, wrong PIN), then charges.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests.loadgen import recipient

_FLEET = orjson.loads(Path(os.environ.get("PISHKHAN_LOCUST_FLEET", "var/bench/locust-fleet.json")).read_bytes())
_TERMINALS = itertools.cycle(_FLEET["terminals"])
DECLINES = ("decline:51", "decline:55", "decline:61")


class OfficeTerminal(FastHttpUser):
    """One card terminal of one office, driven by its operator."""

    host = _FLEET["host"]
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.terminal_id, self.operator_id, api_key, psp_id = next(_TERMINALS)
        self.control_url = _FLEET["simulators"][psp_id]
        self.auth = {"Authorization": f"Bearer {api_key}"}
        self.tracking_codes: list[str] = []

    def body(self, amount: int | None = None) -> dict:
        return {
            "terminal_id": self.terminal_id,
            "operator_id": self.operator_id,
            "service_code": _FLEET["service_code"],
            "quantity": 1,
            "extras": [],
            "recipient": recipient(),
            "amount": _FLEET["amount"] if amount is None else amount,
            "payment_method": "card",
        }

    def charge(
        self,
        name: str,
        body: dict,
        expected: int,
        key: str | None = None,
        check: Callable[[dict], str | None] | None = None,
    ) -> dict | None:
        """POST /v1/charges; a failure unless it answers `expected` and `check` finds nothing wrong."""
        headers = {**self.auth, "Idempotency-Key": key or uuid.uuid4().hex}
        with self.client.post("/v1/charges", json=body, headers=headers, name=name, catch_response=True) as response:
            if response.status_code != expected:
                response.failure(f"expected {expected}, got {response.status_code}: {response.text[:200]}")
                return None
            answer = response.json()
            problem = check(answer) if check else None
            if problem:
                response.failure(problem)
                return None
            response.success()
            return answer

    @task(60)
    def approved_charge(self) -> None:
        answer = self.charge("charge: approved", self.body(), 201)
        if answer and answer.get("tracking_code"):
            self.tracking_codes = ([*self.tracking_codes, answer["tracking_code"]])[-20:]

    @task(10)
    def declined_charge(self) -> None:
        script = {"outcomes": [random.choice(DECLINES)]}
        self.client.post(
            f"{self.control_url}/terminals/{self.terminal_id}/script", json=script, name="simulator: script a decline"
        )
        self.charge("charge: declined", self.body(), 402)

    @task(5)
    def excess_attempt(self) -> None:
        self.charge(
            "charge: above the cap",
            self.body(_FLEET["amount"] + 50_000),
            422,
            check=lambda answer: (
                None
                if answer["error"]["code"] == "excess_fee"
                else f"an excess attempt was answered {answer['error']['code']}"
            ),
        )

    @task(10)
    def retried_charge(self) -> None:
        """The client lost the first answer and sends the same request again under the same key."""
        key, body = uuid.uuid4().hex, self.body()
        first = self.charge("charge: first try", body, 201, key)
        if first:
            self.charge(
                "charge: retry, same key",
                body,
                201,
                key,
                check=lambda again: (
                    None if again["id"] == first["id"] else "a retry with the same Idempotency-Key made a second charge"
                ),
            )

    @task(12)
    def receipt(self) -> None:
        if self.tracking_codes:
            self.client.get(
                f"/v1/receipts/{random.choice(self.tracking_codes)}", headers=self.auth, name="receipt: signed JSON"
            )

    @task(3)
    def quote(self) -> None:
        self.client.get(
            "/v1/tariffs/quote", params={"service_code": _FLEET["service_code"]}, headers=self.auth, name="tariff quote"
        )
