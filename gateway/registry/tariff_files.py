"""Reading the tariff tables from disk: the one place in the domain that touches files.

`python -m gateway.registry.tariff_files DIRECTORY` rewrites DIRECTORY/schema.json from the
pydantic model (a unit test fails whenever the shipped schema and the model differ).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from gateway.core.tariffs import SIGNATURE_KEY, SOURCE_KEY, TariffTableError, tariff_schema_json
from gateway.registry.tariff_approvals import signature_path

SCHEMA_FILE_NAME = "schema.json"


def load_tariff_document(path: Path) -> dict[str, Any]:
    """One approval file, parsed, with its file name under SOURCE_KEY and its `.sig` (if any) under SIGNATURE_KEY."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise TariffTableError(f"{path.name}: not valid TOML: {error}") from None
    document[SOURCE_KEY] = path.name
    sig = signature_path(path)
    if sig.exists():
        try:
            document[SIGNATURE_KEY] = json.loads(sig.read_text(encoding="utf-8"))
        except ValueError as error:
            raise TariffTableError(f"{sig.name}: not valid JSON: {error}") from None
    return document


def load_tariff_documents(directory: Path) -> list[dict[str, Any]]:
    """Every `*.toml` in `directory` (see load_tariff_document), in file-name order."""
    return [load_tariff_document(path) for path in sorted(Path(directory).glob("*.toml"))]


def write_schema(directory: Path) -> Path:
    path = Path(directory) / SCHEMA_FILE_NAME
    path.write_text(tariff_schema_json(), encoding="utf-8")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m gateway.registry.tariff_files TARIFF_TABLES_DIRECTORY")
    print(write_schema(Path(sys.argv[1])))
