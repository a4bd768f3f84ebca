"""Contract tests: differential property tests against the reference backend."""

from __future__ import annotations

__all__ = ["TestDifferential"]


class TestDifferential:
    """differential property tests against the reference backend (to be written)."""
