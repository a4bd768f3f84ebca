"""The backend pages' capability tables, generated from the backends' own ``Capabilities``.

A backend page marks where its table goes with ``<!-- capabilities: NAME -->``
(``memory``, ``postgresql``, ``sqlite``, ``mongodb``; ``defaults`` for
what a backend declaring nothing gets); this MkDocs hook
(``hooks:`` in ``mkdocs.yml``) replaces the marker with a table of every
field of :class:`repokit.Capabilities`, its documentation, and the value each
configuration of the backend declares. The values are read from the objects
the backends build, never copied by hand, so a changed capability changes the
page. ``python docs/gen_capabilities.py`` prints the tables.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Any

from mkdocs.exceptions import PluginError

from repokit.capabilities import Capabilities

MARKER = re.compile(r"^([ \t]*)<!--\s*capabilities:\s*([\w-]+)\s*-->", re.MULTILINE)

# What a server answers to ``hello``, as far as the MongoDB backend reads it.
_REPLICA_SET_HELLO = {"setName": "rs0", "logicalSessionTimeoutMinutes": 30, "maxWireVersion": 21}
_STANDALONE_HELLO = {"isWritablePrimary": True, "logicalSessionTimeoutMinutes": 30}


def _mongodb(hello: dict[str, Any]) -> Capabilities:
    from pymongo import AsyncMongoClient

    from repokit_mongodb import MongoBackend
    from repokit_mongodb.backend import supports_transactions

    # connect=False: the client opens no connection and starts no monitor.
    client: AsyncMongoClient[Any] = AsyncMongoClient("mongodb://localhost/docs", connect=False)
    return MongoBackend(client, "docs", transactions=supports_transactions(hello)).capabilities


def _sqlite(url: str) -> Capabilities:
    import sqlalchemy as sa

    from repokit_sqlalchemy.sqlite import SQLiteDialect

    return SQLiteDialect(sa.make_url(url)).capabilities


def _postgresql() -> Capabilities:
    from repokit_sqlalchemy.postgres import PostgresDialect

    return PostgresDialect().capabilities


def _memory() -> Capabilities:
    from repokit.memory import MemoryBackend

    return MemoryBackend.capabilities


def configurations(backend: str) -> list[tuple[str, Capabilities]]:
    """Each configuration of *backend* (a column heading) with the capabilities it declares."""
    if backend == "defaults":  # what a backend declaring nothing gets
        return [("default", Capabilities())]
    if backend == "memory":
        return [("`memory://`", _memory())]
    if backend == "postgresql":
        return [("PostgreSQL", _postgresql())]
    if backend == "sqlite":
        return [
            ("a database file", _sqlite("sqlite+aiosqlite:///app.db")),
            ("in memory (`:memory:`)", _sqlite("sqlite+aiosqlite:///:memory:")),
        ]
    if backend == "mongodb":
        return [
            ("replica set, sharded cluster", _mongodb(_REPLICA_SET_HELLO)),
            ("standalone server", _mongodb(_STANDALONE_HELLO)),
        ]
    raise KeyError(f"no capability table for backend {backend!r}")


BACKENDS = ("memory", "postgresql", "sqlite", "mongodb")


def _value(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "no limit"
    if isinstance(value, int):
        return f"{value:,}"
    return f"`{value!r}`"


def table(backend: str) -> str:
    """The capability table of *backend*, in Markdown."""
    columns = configurations(backend)
    lines = [
        "| Capability | Meaning | " + " | ".join(name for name, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for field in dataclasses.fields(Capabilities):
        values = " | ".join(_value(getattr(caps, field.name)) for _, caps in columns)
        lines.append(f"| `{field.name}` | {field.metadata['doc']} | {values} |")
    return "\n".join(lines)


def render(markdown: str) -> str:
    """*markdown* with every capability marker replaced by its table."""

    def replace(match: re.Match[str]) -> str:
        indent, backend = match.groups()
        try:
            rows = table(backend).splitlines()
        except KeyError as exc:
            raise PluginError(str(exc)) from exc
        return "\n".join(indent + row for row in rows)  # the marker's indent: lists

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs hook: fill in the capability tables."""
    return render(markdown)


if __name__ == "__main__":
    for name in sys.argv[1:] or BACKENDS:
        print(f"## {name}\n\n{table(name)}\n")
