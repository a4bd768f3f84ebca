"""Contract tests: CONTRACT §5 ordering."""

from __future__ import annotations

__all__ = ["TestOrdering"]


class TestOrdering:
    """CONTRACT §5 ordering (to be written)."""
