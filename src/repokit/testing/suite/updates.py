"""Contract tests: CONTRACT §9 updates, update states and versions."""

from __future__ import annotations

__all__ = ["TestUpdates"]


class TestUpdates:
    """CONTRACT §9 updates, update states and versions (to be written)."""
