"""A gateway started with its workers delivers a completed charge's messages by itself."""

from __future__ import annotations

import dataclasses

from aiohttp.test_utils import TestServer

from gateway.web.app import create_app
from tests.messaging.outbox.support import TERMINAL, body_for, new_recipient
from tests.messaging.outbox.test_dispatcher_processes import wait_for
from tests.stack import Gateway


async def test_the_gateway_sends_the_sms_and_the_receipt_when_it_runs_workers(
    db, keys, http_session, sms_centre, inbox, outbox_settings
):
    server = TestServer(create_app(dataclasses.replace(outbox_settings, run_workers=True)), host="127.0.0.1")
    await server.start_server()
    try:
        gateway = Gateway(str(server.make_url("")).rstrip("/"), http_session, server.app)
        recipient = new_recipient()
        status, charge = await gateway.charge(await keys(f"t:{TERMINAL}"), body_for(recipient))
        assert status == 201, charge

        async def delivered():
            return await sms_centre.handset(recipient.mobile) and await inbox.inbox(recipient.inbox)

        await wait_for(delivered, 10, "the gateway's own dispatcher")
        assert len(await sms_centre.handset(recipient.mobile)) == 1
        assert len(await inbox.inbox(recipient.inbox)) == 1
    finally:
        await server.close()
