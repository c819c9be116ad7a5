"""Reading the penalty rules file (the yearly cap per obligation and its inflation index series)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from gateway.core.penalties import PenaltyRules, PenaltyRulesError


def load_penalty_rules(path: Path) -> PenaltyRules:
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PenaltyRulesError(f"{path}: {error}") from None
    try:
        return PenaltyRules.from_document(document)
    except PenaltyRulesError as error:
        raise PenaltyRulesError(f"{path}: {error}") from None
