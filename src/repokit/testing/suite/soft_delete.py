"""Contract tests: CONTRACT §7 soft delete and purge."""

from __future__ import annotations

__all__ = ["TestSoftDelete"]


class TestSoftDelete:
    """CONTRACT §7 soft delete and purge (to be written)."""
