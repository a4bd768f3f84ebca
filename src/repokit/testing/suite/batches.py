"""Contract tests: CONTRACT §9 batch operations."""

from __future__ import annotations

__all__ = ["TestBatches"]


class TestBatches:
    """CONTRACT §9 batch operations (to be written)."""
