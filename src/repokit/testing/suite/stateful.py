"""Contract tests: stateful test over random operation sequences in several tenants."""

from __future__ import annotations

__all__ = ["TestStateful"]


class TestStateful:
    """stateful test over random operation sequences in several tenants (to be written)."""
