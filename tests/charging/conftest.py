import dataclasses
from datetime import timedelta
from types import SimpleNamespace

import pytest


@pytest.fixture
def reversal_windows_closed(gateway, monkeypatch):
    """The refund path sees every PSP's reversal window as closed (length zero), as it would for a charge hours old.
    The charge itself stays as the PSP knows it: its creation time is how the PSP's host finds the purchase."""
    registry = gateway.services.refunds.state.registry
    closed = {
        psp_id: dataclasses.replace(
            psp, capabilities=dataclasses.replace(psp.capabilities, reversal_window=timedelta(0))
        )
        for psp_id, psp in registry.psps.items()
    }
    monkeypatch.setattr(
        gateway.services.refunds, "state", SimpleNamespace(registry=dataclasses.replace(registry, psps=closed))
    )
