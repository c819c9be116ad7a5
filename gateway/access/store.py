"""API keys in PostgreSQL (hashed)."""

from __future__ import annotations

from gateway.access.api_keys import generate_key


async def create_api_key(
    db,
    *,
    role: str,
    terminal_id: str | None = None,
    agency_id: str | None = None,
    label: str = "",
    require_signature: bool = False,
    province: str | None = None,
) -> str:
    """Stores a new key's hash and returns the key itself, which is never stored."""
    key = generate_key()
    await db.execute(
        "INSERT INTO api_keys (id, key_hash, role, terminal_id, agency_id, label, require_signature, province) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        key.key_id,
        key.secret_hash,
        role,
        terminal_id,
        agency_id,
        label,
        require_signature,
        province,
    )
    return key.token


async def revoke_api_key(db, key_id: str) -> bool:
    result = await db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    return result.endswith(" 1")
