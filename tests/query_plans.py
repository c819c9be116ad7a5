"""Reading PostgreSQL's `EXPLAIN (FORMAT JSON)` output in tests that pin a statement's plan."""

from __future__ import annotations

from collections.abc import Iterator


def plan_nodes(node: dict) -> Iterator[dict]:
    """A plan node and every node under it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
