"""The reference backend (``memory://``): the contract's executable form.

Dict-based, deliberately naive and obviously correct. It answers every query
with :mod:`repokit.evaluate`, enforces keys by scanning, and isolates
transactions by copying: a write session works on private copies of the
tables it touches and publishes them on commit; a read sees the state
committed when its session began. Write sessions run one at a time.

It is the oracle of the differential tests and a fast fake for users' own
service tests.
"""

from repokit.memory.backend import MemoryBackend, MemorySession

__all__ = ["MemoryBackend", "MemorySession"]
