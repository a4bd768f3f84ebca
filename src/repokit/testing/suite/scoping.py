"""Contract tests: CONTRACT §6 scope."""

from __future__ import annotations

__all__ = ["TestScope"]


class TestScope:
    """CONTRACT §6 scope (to be written)."""
