"""`pishkhan oversight verify-access-log`: a history rewritten after the regulator fetched a signed head is proven."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.oversight.support import restart_access_log, rewrite_access_log_consistently


def _pishkhan(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PISHKHAN_KEY_DIR": str(settings.key_dir)}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, capture_output=True, text=True)


async def test_a_rewrite_after_the_regulator_kept_a_signed_head_is_named(gateway, keys, db, settings, tmp_path):
    await restart_access_log(db)
    regulator = await keys("regulator")
    for office in ("11110001", "21110002", "31110003"):
        status, _ = await gateway.request("GET", f"/v1/regulator/violations?office_id={office}", key=regulator)
        assert status == 200
    status, head = await gateway.request("POST", "/v1/regulator/access-log/heads", key=regulator)
    assert status == 200 and head["seq"] == 3
    status, heads = await gateway.request("GET", "/v1/regulator/access-log/heads", key=regulator)
    assert status == 200 and heads["data"] == [head]
    kept = tmp_path / "heads.json"
    kept.write_text(json.dumps(heads))
    _, published_keys = await gateway.request("GET", "/v1/keys")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(published_keys))

    whole = _pishkhan(settings, "oversight", "verify-access-log", "--heads", str(kept), "--keys", str(keys_file))
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["entries_checked"] == 5  # three queries, the signing and the fetch

    # The operator hides that office 21110002 was looked at, recomputes every hash, and signs a new head with the
    # gateway's own key: the database alone now holds together.
    await db.execute("UPDATE regulator_access_log SET query = 'office_id=11110001' WHERE seq = 2")
    await rewrite_access_log_consistently(db)
    await db.execute("TRUNCATE regulator_access_log_signed_heads")
    signed = _pishkhan(settings, "oversight", "sign-access-log")
    assert signed.returncode == 0, signed.stderr
    assert _pishkhan(settings, "oversight", "verify-access-log").returncode == 0

    caught = _pishkhan(settings, "oversight", "verify-access-log", "--heads", str(kept), "--keys", str(keys_file))
    assert caught.returncode == 1
    report = json.loads(caught.stdout)
    assert report["first_break"]["kind"] == "head_mismatch" and report["first_break"]["seq"] == 3
    assert "first break: head_mismatch at entry 3" in caught.stderr


async def test_the_regulators_heads_are_for_regulator_keys_only(gateway, keys):
    status, answer = await gateway.request("GET", "/v1/regulator/access-log/heads", key=await keys("t:10000001"))
    assert status == 403, answer
