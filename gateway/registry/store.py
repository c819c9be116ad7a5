"""Writes a validated registry to PostgreSQL and reads the current snapshot back."""

from __future__ import annotations

import hashlib

import asyncpg
import orjson

from gateway.core.identity import IdentityPolicy
from gateway.core.registry import Agency, Office, Operator, Psp, Registry, Service, Terminal, capabilities_from_doc
from gateway.registry.tariff_store import TARIFF_VERSION


def registry_digest(registry: Registry) -> str:
    return hashlib.sha256(orjson.dumps(registry.to_document(), option=orjson.OPT_SORT_KEYS)).hexdigest()


async def save_registry(conn: asyncpg.Connection, registry: Registry, source: str) -> int:
    """Upserts every entry in one transaction and records a new registry version, which running gateways pick up."""
    doc = registry.to_document()
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO psps (id, name, cb_licence_number, licence_valid_from, licence_valid_to, protocol,
                                 endpoint, capabilities)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, cb_licence_number = EXCLUDED.cb_licence_number,
                 licence_valid_from = EXCLUDED.licence_valid_from, licence_valid_to = EXCLUDED.licence_valid_to,
                 protocol = EXCLUDED.protocol, endpoint = EXCLUDED.endpoint, capabilities = EXCLUDED.capabilities""",
            [
                (
                    p.id,
                    p.name,
                    p.cb_licence_number,
                    p.licence_valid_from,
                    p.licence_valid_to,
                    p.protocol,
                    p.endpoint,
                    doc["psps"][p.id]["capabilities"],
                )
                for p in registry.psps.values()
            ],
        )
        await conn.executemany(
            """INSERT INTO agencies (id, name, iban, payment_id, sms_line, sms_mask) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, iban = EXCLUDED.iban,
                 payment_id = EXCLUDED.payment_id, sms_line = EXCLUDED.sms_line, sms_mask = EXCLUDED.sms_mask""",
            [(a.id, a.name, a.iban, a.payment_id, a.sms_line, a.sms_mask) for a in registry.agencies.values()],
        )
        await conn.executemany(
            """INSERT INTO services (code, name, agency_id, identity_policy) VALUES ($1, $2, $3, $4)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, agency_id = EXCLUDED.agency_id,
                 identity_policy = EXCLUDED.identity_policy""",
            [(s.code, s.name, s.agency_id, s.identity.value) for s in registry.services.values()],
        )
        await conn.executemany(
            """INSERT INTO offices (id, name, kind, licence_holder, licence_number, licence_valid_from,
                                    licence_valid_to, status, address, province, city, city_class, iban, sms_line)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
                 licence_holder = EXCLUDED.licence_holder, licence_number = EXCLUDED.licence_number,
                 licence_valid_from = EXCLUDED.licence_valid_from, licence_valid_to = EXCLUDED.licence_valid_to,
                 status = EXCLUDED.status, address = EXCLUDED.address, province = EXCLUDED.province,
                 city = EXCLUDED.city, city_class = EXCLUDED.city_class, iban = EXCLUDED.iban,
                 sms_line = EXCLUDED.sms_line""",
            [
                (
                    o.id,
                    o.name,
                    o.kind,
                    o.licence_holder,
                    o.licence_number,
                    o.licence_valid_from,
                    o.licence_valid_to,
                    o.status,
                    o.address,
                    o.province,
                    o.city,
                    o.city_class,
                    o.iban,
                    o.sms_line,
                )
                for o in registry.offices.values()
            ],
        )
        office_ids = list(registry.offices)
        await conn.execute("DELETE FROM office_services WHERE office_id = ANY($1::text[])", office_ids)
        await conn.executemany(
            "INSERT INTO office_services (office_id, service_code) VALUES ($1, $2)",
            [(o.id, code) for o in registry.offices.values() for code in sorted(o.services)],
        )
        await conn.executemany(
            """INSERT INTO operators (id, office_id, name, active) VALUES ($1, $2, $3, $4)
               ON CONFLICT (id) DO UPDATE SET office_id = EXCLUDED.office_id, name = EXCLUDED.name,
                 active = EXCLUDED.active""",
            [(op.id, op.office_id, op.name, op.active) for op in registry.operators.values()],
        )
        await conn.executemany(
            """INSERT INTO terminals (terminal_id, merchant_id, office_id, psp_id) VALUES ($1, $2, $3, $4)
               ON CONFLICT (terminal_id) DO UPDATE SET merchant_id = EXCLUDED.merchant_id,
                 office_id = EXCLUDED.office_id, psp_id = EXCLUDED.psp_id""",
            [(t.terminal_id, t.merchant_id, t.office_id, t.psp_id) for t in registry.terminals.values()],
        )
        return await conn.fetchval(
            "INSERT INTO registry_loads (digest, source) VALUES ($1, $2) RETURNING version",
            registry_digest(registry),
            source,
        )


async def loaded_versions(conn: asyncpg.Connection) -> tuple[int, int]:
    """The registry's version and the tariff approvals' (TARIFF_VERSION), in one statement: every process asks
    every few seconds, so an unchanged registry costs one cheap transaction."""
    row = await conn.fetchrow(
        f"SELECT (SELECT coalesce(max(version), 0) FROM registry_loads) AS registry, ({TARIFF_VERSION}) AS tariffs"
    )
    return row["registry"], row["tariffs"]


async def read_registry(conn: asyncpg.Connection) -> Registry:
    psps = {
        r["id"]: Psp(
            r["id"],
            r["name"],
            r["cb_licence_number"],
            r["licence_valid_from"],
            r["licence_valid_to"],
            r["protocol"],
            r["endpoint"],
            capabilities_from_doc(r["capabilities"]),
        )
        for r in await conn.fetch("SELECT * FROM psps")
    }
    agencies = {
        r["id"]: Agency(r["id"], r["name"], r["iban"], r["payment_id"], r["sms_line"], r["sms_mask"])
        for r in await conn.fetch("SELECT * FROM agencies")
    }
    services = {
        r["code"]: Service(r["code"], r["name"], r["agency_id"], IdentityPolicy(r["identity_policy"]))
        for r in await conn.fetch("SELECT * FROM services")
    }
    assigned: dict[str, set[str]] = {}
    for r in await conn.fetch("SELECT office_id, service_code FROM office_services"):
        assigned.setdefault(r["office_id"], set()).add(r["service_code"])
    offices = {
        r["id"]: Office(
            r["id"],
            r["name"],
            r["kind"],
            r["licence_holder"],
            r["licence_number"],
            r["licence_valid_from"],
            r["licence_valid_to"],
            r["status"],
            r["address"],
            r["province"],
            r["city"],
            r["city_class"],
            r["iban"],
            r["sms_line"],
            frozenset(assigned.get(r["id"], ())),
        )
        for r in await conn.fetch("SELECT * FROM offices")
    }
    operators = {
        r["id"]: Operator(r["id"], r["office_id"], r["name"], r["active"])
        for r in await conn.fetch("SELECT * FROM operators")
    }
    terminals = {
        r["terminal_id"]: Terminal(r["terminal_id"], r["merchant_id"], r["office_id"], r["psp_id"])
        for r in await conn.fetch("SELECT * FROM terminals")
    }
    return Registry(psps, agencies, services, offices, operators, terminals)
