"""Contract tests: CONTRACT §3 predicates, two-valued logic."""

from __future__ import annotations

__all__ = ["TestPredicates"]


class TestPredicates:
    """CONTRACT §3 predicates, two-valued logic (to be written)."""
