"""Contract tests: CONTRACT §1 values."""

from __future__ import annotations

__all__ = ["TestValues"]


class TestValues:
    """CONTRACT §1 values (to be written)."""
