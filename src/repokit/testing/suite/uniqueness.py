"""Contract tests: CONTRACT §8 unique constraints and errors."""

from __future__ import annotations

__all__ = ["TestUniqueAndErrors"]


class TestUniqueAndErrors:
    """CONTRACT §8 unique constraints and errors (to be written)."""
