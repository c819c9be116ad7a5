"""Tariff approvals in PostgreSQL: the files are the source, the database is what every gateway process reads.

Each stored approval keeps its signature, and whatever reads the approvals checks them again (tariff_approvals.py):
a row written straight into the table, without a good signature, is never priced from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from gateway.core.tariffs import SIGNATURE_KEY, SOURCE_KEY, TariffBook
from gateway.registry.tariff_approvals import ApproverKeys, verified_book


async def save_tariff_documents(
    conn: asyncpg.Connection, documents: Sequence[Mapping[str, Any]], approvers: ApproverKeys
) -> TariffBook:
    """Stores the documents (each with SOURCE_KEY and SIGNATURE_KEY) and returns the book now in force.

    One transaction: if any stored approval, new or old, fails its signature check or the book refuses the whole
    set (overlapping periods), the error is raised and nothing is changed."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO tariff_approvals (reference, source_file, document, signature) VALUES ($1, $2, $3, $4)
               ON CONFLICT (reference) DO UPDATE SET source_file = EXCLUDED.source_file,
                 document = EXCLUDED.document, signature = EXCLUDED.signature, loaded_at = now()
               WHERE (tariff_approvals.document, tariff_approvals.signature)
                 IS DISTINCT FROM (EXCLUDED.document, EXCLUDED.signature)""",
            [
                (
                    d["approval"]["reference"],
                    d[SOURCE_KEY],
                    {k: v for k, v in d.items() if k not in (SOURCE_KEY, SIGNATURE_KEY)},
                    d.get(SIGNATURE_KEY),
                )
                for d in documents
            ],
        )
        return verified_book(await read_tariff_documents(conn), approvers)


# The stored approvals' version: it changes whenever an approval is added or loaded again.
TARIFF_VERSION = (
    "SELECT coalesce(floor(extract(epoch FROM max(loaded_at)) * 1000)::bigint, 0) + count(*) FROM tariff_approvals"
)


async def read_tariff_documents(conn: asyncpg.Connection) -> list[dict]:
    """Every stored approval as loaded: its document, with SOURCE_KEY and SIGNATURE_KEY (None when unsigned)."""
    rows = await conn.fetch("SELECT source_file, document, signature FROM tariff_approvals ORDER BY reference")
    return [{**r["document"], SOURCE_KEY: r["source_file"], SIGNATURE_KEY: r["signature"]} for r in rows]


async def read_verified_book(conn: asyncpg.Connection, approvers: ApproverKeys) -> TariffBook:
    """The stored approvals as a book; ApprovalRefused if any of them fails its signature check."""
    return verified_book(await read_tariff_documents(conn), approvers)
