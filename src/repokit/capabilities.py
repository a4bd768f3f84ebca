"""Capabilities: what a backend can do, as documented data.

Core reads them at run time (to chunk batches, to refuse what a backend
cannot do) and the contract suite reads them to gate tests, skipping with the
field's documentation as the reason. Nothing in core or in the suite ever
branches on a backend's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["Capabilities", "describe"]


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The optional features of one backend; every field is documented."""

    transactions: bool = field(
        default=True,
        metadata=_doc(
            "writes in one session commit or roll back together (a server without "
            "multi-document transactions cannot promise it)"
        ),
    )
    savepoints: bool = field(
        default=True,
        metadata=_doc(
            "a session can roll back part of its work (Session.savepoint()) and go on; "
            "bulk operations then run their items inside one transaction"
        ),
    )
    max_ids_per_statement: int = field(
        default=10_000,
        metadata=_doc(
            "the most primary keys core puts in one statement; larger id lists "
            "are split into chunks inside the same transaction"
        ),
    )
    persistent: bool = field(
        default=True,
        metadata=_doc("data outlives the process: a new connection sees what was committed"),
    )
    concurrent_sessions: bool = field(
        default=True,
        metadata=_doc("several sessions may be open at once on one Database"),
    )
    references: bool = field(
        default=True,
        metadata=_doc(
            "references between tables are enforced (CONTRACT §23): a write needing a "
            "parent, or a purge of a referenced parent, is atomic with its check (it needs "
            "transactions where the backend emulates them)"
        ),
    )
    native_semijoins: bool = field(
        default=True,
        metadata=_doc(
            "a semi-join runs inside the statement that uses it (SQL EXISTS), so a scope's "
            "existence check rides in the operation's own statement (CONTRACT §24, §25); "
            "without it core reads the other table first, one extra query"
        ),
    )
    max_indexed_text_bytes: int | None = field(
        default=None,
        metadata=_doc(
            "the most UTF-8 bytes a str value may hold in a field that a key or an index "
            "covers (None: no limit); a longer value raises InvalidValue before any I/O"
        ),
    )

    def __post_init__(self) -> None:
        if self.max_ids_per_statement < 1:
            raise ValueError("max_ids_per_statement must be at least 1")
        if self.max_indexed_text_bytes is not None and self.max_indexed_text_bytes < 1:
            raise ValueError("max_indexed_text_bytes must be at least 1 (or None)")


def describe(name: str) -> str:
    """The documentation of capability *name* (the reason a gated test skips)."""
    for f in dataclasses.fields(Capabilities):
        if f.name == name:
            return f"backend lacks capability {name!r}: {f.metadata['doc']}"
    raise KeyError(f"unknown capability {name!r}")
