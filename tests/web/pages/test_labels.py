"""Every machine code a page shows has its Persian name in the one table of labels."""

from __future__ import annotations

import inspect
import re

from gateway.core import charge_rules, errors
from gateway.core.charge import Status
from gateway.web.pages.labels import LABELS, UNKNOWN, label


def test_every_charge_status_has_a_persian_name():
    assert set(LABELS["charge_status"]) == {status.value for status in Status}


def test_every_refusal_the_charge_rules_can_record_has_a_persian_name():
    source = inspect.getsource(charge_rules)
    named = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.GatewayError)
    }
    recorded = {
        cls.code
        for name, cls in named.items()
        if re.search(rf"\b{name}\(", source) or issubclass(cls, (errors.TariffRefusal, errors.IdentityRefusal))
    }
    # Base classes the rules never raise as such carry the generic code.
    assert recorded - {errors.GatewayError.code} <= set(LABELS["refusal_reason"])


def test_a_code_without_a_name_is_never_shown():
    assert label("completed", "charge_status") == "انجام شد"
    assert label("no_such_state", "charge_status") == UNKNOWN
