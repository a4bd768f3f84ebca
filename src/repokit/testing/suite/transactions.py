"""Contract tests: CONTRACT §9 transactions."""

from __future__ import annotations

__all__ = ["TestTransactions"]


class TestTransactions:
    """CONTRACT §9 transactions (to be written)."""
