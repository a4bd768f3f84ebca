"""Contract tests: CONTRACT §4 text matching."""

from __future__ import annotations

__all__ = ["TestTextMatching"]


class TestTextMatching:
    """CONTRACT §4 text matching (to be written)."""
