"""Contract tests: CONTRACT §10 pagination."""

from __future__ import annotations

__all__ = ["TestPagination"]


class TestPagination:
    """CONTRACT §10 pagination (to be written)."""
