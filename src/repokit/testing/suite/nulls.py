"""Contract tests: CONTRACT §2 null."""

from __future__ import annotations

__all__ = ["TestNulls"]


class TestNulls:
    """CONTRACT §2 null (to be written)."""
