"""The demo tariff approvals, signed by a sample approver key made on this machine: SAMPLE, not the regulator's.

`make run` and the tests price charges from `tariff_tables/*.toml`, which are sample values. A real approval arrives
signed by its approving body; the demo ones are signed here, by a key whose id says it is a sample, so that the
gateway can hold them to the same check as real ones.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from gateway.core.tariffs import SIGNATURE_KEY
from gateway.registry.tariff_approvals import publish_approver_key, sign_approval, signature_path
from gateway.registry.tariff_files import load_tariff_document
from receipts.keys_files import create_key, load_key_file

SAMPLE_KEY_ID = "SAMPLE-demo-approver"
# Valid before the oldest demo approval was approved (1401/12/16), so every demo approval can be signed with it.
SAMPLE_VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def sign_sample_approvals(source: Path, work: Path) -> tuple[Path, Path]:
    """Copies `source/*.toml` into `work/tariffs` and signs each with the sample key (made once, in `work/key`).

    Returns the directory of signed approvals and the approver keys file that holds the sample key alone."""
    pem = work / "key" / f"{SAMPLE_KEY_ID}.pem"
    keys_file = work / "approver-keys.json"
    if not pem.exists():
        shutil.rmtree(work, ignore_errors=True)
        key = create_key(pem.parent, SAMPLE_KEY_ID, SAMPLE_VALID_FROM)
        publish_approver_key(keys_file, key.verifying_key)
    key = load_key_file(pem)
    tariffs = work / "tariffs"
    shutil.rmtree(tariffs, ignore_errors=True)
    tariffs.mkdir(parents=True)
    for path in sorted(source.glob("*.toml")):
        copy = tariffs / path.name
        shutil.copyfile(path, copy)
        document = load_tariff_document(copy)
        document.pop(SIGNATURE_KEY, None)
        signature = sign_approval(document, key, copy.name)
        signature_path(copy).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    return tariffs, keys_file
