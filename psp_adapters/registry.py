"""Which adapter speaks which PSP protocol. A new protocol is one module plus one line here."""

from __future__ import annotations

from gateway.core.psp import PspCapabilities
from psp_adapters.base import PspAdapter
from psp_adapters.iso8583_tcp import Iso8583TcpAdapter
from psp_adapters.pcpos_http import PcPosHttpAdapter

ADAPTERS: dict[str, type[PspAdapter]] = {
    "iso8583-tcp": Iso8583TcpAdapter,
    "pcpos-http": PcPosHttpAdapter,
}


def create_adapter(
    psp_id: str, protocol: str, endpoint: dict, capabilities: PspCapabilities, timeout: float
) -> PspAdapter:
    try:
        adapter_class = ADAPTERS[protocol]
    except KeyError:
        raise ValueError(f"unknown PSP protocol {protocol!r}; known: {', '.join(sorted(ADAPTERS))}") from None
    return adapter_class(psp_id=psp_id, endpoint=endpoint, capabilities=capabilities, timeout=timeout)
