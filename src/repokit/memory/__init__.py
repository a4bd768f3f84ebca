"""The reference backend (``memory://``): the contract's executable form.

Dict-based and obviously correct: every query is answered by
:mod:`repokit.evaluate` (``predicate`` decides every row returned, counted,
updated or deleted; ``sort_rows`` fixes every order). What makes it scale is
only ever a narrowing of the rows tested, never a second semantics
(:mod:`repokit.memory.queries`): rows under a pinned primary or unique key,
a cached sorted order read from a keyset bound, the first rows of a page by
partial selection. Unique keys are hash indexes kept up to date row by row
(:mod:`repokit.memory.store`). Write sessions run one at a time and change
the newest rows in place, recording each replaced row for rollback and for
the read-only sessions still reading an older snapshot; a read sees the
state committed when its session began. So a write costs the rows it
writes, a get by key one row, a keyset page about a page of rows.

It is the oracle of the differential tests and a fast fake for users' own
service tests.
"""

from repokit.memory.backend import MemoryBackend, MemorySession
from repokit.memory.store import MemoryStats

__all__ = ["MemoryBackend", "MemorySession", "MemoryStats"]
