"""A streaming replica of the test stack's PostgreSQL, for the tests of reads that may lag."""

from __future__ import annotations

import dataclasses
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.platform.streaming_replica import StreamingReplica
from tests.platform.valkey_cluster import ValkeyCluster
from tests.stack import served


@pytest.fixture(scope="module")
async def replica(database_url, db, tmp_path_factory):
    server = StreamingReplica(database_url, tmp_path_factory.mktemp("replica"))
    server.create()
    server.start()
    await server.until_ready()
    yield server
    server.stop()


@pytest.fixture
async def replica_up(replica, db):
    """The replica running, replaying and caught up with the primary."""
    if replica.process.poll() is not None:
        replica.start()
        await replica.until_ready()
    await replica.pause_replay(False)
    await replica.caught_up(db)
    return replica


@pytest.fixture
async def gateway_with_replica(settings, replica_up, http_session):
    async with served(dataclasses.replace(settings, database_replica_url=replica_up.url), http_session) as gateway:
        gateway.services.lagging_reads.retry_after_s = 0.5
        yield gateway


@pytest.fixture(scope="module")
async def valkey_cluster(tmp_path_factory):
    cluster = ValkeyCluster(tmp_path_factory.mktemp("valkey-cluster"))
    cluster.start()
    try:
        await cluster.form()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def empty_database(database_url):
    """A database of its own on the test server, with no migration applied, dropped afterwards."""
    name = f"pishkhan_partitions_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
