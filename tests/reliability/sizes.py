"""The sizes of the reliability tests, scaled by ``REPOKIT_RELIABILITY_SCALE`` (default 1)."""

from __future__ import annotations

import os

__all__ = ["SCALE", "scaled"]

#: The multiplier of every size in this folder (operations, examples, steps).
SCALE = float(os.environ.get("REPOKIT_RELIABILITY_SCALE", "1"))


def scaled(size: int) -> int:
    """*size* multiplied by :data:`SCALE` (at least 1)."""
    return max(1, round(size * SCALE))
