"""SQLite pragmas a service sets: read from the URL or ``sqlite_pragmas=``, checked once.

Four pragmas, each validated before any connection opens (a wrong name or
value is :class:`~repokit.errors.InvalidQuery` naming it):

==============  ==================================  =============================================
pragma          values                              default
==============  ==================================  =============================================
journal_mode    ``WAL``, ``DELETE``, ``TRUNCATE``,  ``WAL``
                ``PERSIST``
synchronous     ``OFF``, ``NORMAL``, ``FULL``,      not set: SQLite's own, ``FULL``
                ``EXTRA`` (or 0–3)
busy_timeout    milliseconds, 0 to 2**31 - 1        30000 (the ``busy_timeout=`` option, seconds)
foreign_keys    ``on`` / ``off`` (true/false, 1/0,  ``on`` (references, CONTRACT §23,
                yes/no)                             are FOREIGN KEYs)
==============  ==================================  =============================================

``journal_mode=OFF`` and ``MEMORY`` are refused: with no journal a ``ROLLBACK``
cannot undo a failed transaction, and a memory journal lets a crash in the
middle of one corrupt the file (repokit rolls back every failed transaction,
CONTRACT §9).

In a URL (``sqlite+aiosqlite:///app.db?synchronous=NORMAL&busy_timeout=5000``)
the pragmas are taken out of the query before the driver sees it. What else
the query holds must be the driver's (``uri``, ``timeout``, ``check_same_thread``,
…) or, with ``uri=true``, SQLite's own URI parameters (``mode``, ``cache``, …):
anything else would be dropped unseen, so it is refused too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from repokit.errors import InvalidQuery, excerpt

__all__ = ["PRAGMAS", "SQLitePragmas", "split_url"]

#: The pragmas repokit sets, in the order it sets them.
PRAGMAS = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
#: What the driver itself reads from a URL's query (SQLAlchemy's pysqlite dialect).
_DRIVER_ARGUMENTS = frozenset(
    ("uri", "timeout", "isolation_level", "detect_types", "check_same_thread", "cached_statements")
)
_JOURNAL_MODES = ("WAL", "DELETE", "TRUNCATE", "PERSIST")
_UNSAFE_JOURNAL_MODES = {
    "OFF": "with no journal, ROLLBACK cannot undo a failed transaction",
    "MEMORY": "a crash during a transaction can corrupt the database file",
}
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_TRUE = frozenset(("on", "true", "1", "yes"))
_FALSE = frozenset(("off", "false", "0", "no"))
_MAX_BUSY_TIMEOUT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class SQLitePragmas:
    """Validated pragmas; ``None`` leaves one at its default.

    Attributes:
        journal_mode: ``"WAL"`` (when ``None``), ``"DELETE"``, ``"TRUNCATE"`` or ``"PERSIST"``.
        synchronous: ``"OFF"``, ``"NORMAL"``, ``"FULL"`` or ``"EXTRA"``.
        busy_timeout: milliseconds.
        foreign_keys: whether SQLite enforces foreign keys.
    """

    journal_mode: str | None = None
    synchronous: str | None = None
    busy_timeout: int | None = None
    foreign_keys: bool | None = None

    @classmethod
    def parse(cls, values: Mapping[str, Any], where: str = "sqlite_pragmas") -> SQLitePragmas:
        """Check *values* (pragma name -> value; strings from a URL are fine).

        Raises:
            InvalidQuery: an unknown pragma, or a value it does not take, naming both.
        """
        if not isinstance(values, Mapping):
            raise InvalidQuery(f"{where} takes a mapping of pragma to value, got {excerpt(values)}")
        for name in values:
            if name not in PRAGMAS:
                raise InvalidQuery(
                    f"{where}: unknown SQLite pragma {excerpt(name)}: repokit sets "
                    f"{', '.join(PRAGMAS)}"
                )
        return cls(
            journal_mode=_journal_mode(values.get("journal_mode"), where),
            synchronous=_synchronous(values.get("synchronous"), where),
            busy_timeout=_busy_timeout(values.get("busy_timeout"), where),
            foreign_keys=_foreign_keys(values.get("foreign_keys"), where),
        )

    def merge(self, other: SQLitePragmas) -> SQLitePragmas:
        """These pragmas and *other*'s; the same pragma with two values is refused."""
        merged: dict[str, Any] = {}
        for name in PRAGMAS:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                raise InvalidQuery(
                    f"SQLite pragma {name} is given twice, as {mine!r} and {theirs!r}"
                )
            merged[name] = mine if theirs is None else theirs
        return SQLitePragmas(**merged)

    def connection_statements(self, *, busy_timeout_ms: int) -> list[str]:
        """What every new connection runs: SQLite keeps these per connection."""
        statements = [f"PRAGMA busy_timeout = {busy_timeout_ms}"]
        if self.synchronous is not None:
            statements.append(f"PRAGMA synchronous = {self.synchronous}")
        # On unless turned off: repokit's references are FOREIGN KEYs (CONTRACT §23).
        statements.append(f"PRAGMA foreign_keys = {'OFF' if self.foreign_keys is False else 'ON'}")
        # WAL and DELETE are recorded in the file (set once, when the backend prepares);
        # TRUNCATE and PERSIST last as long as the connection.
        if self.journal_mode in ("TRUNCATE", "PERSIST"):
            statements.append(f"PRAGMA journal_mode = {self.journal_mode}")
        return statements


def split_url(url: sa.URL) -> tuple[sa.URL, SQLitePragmas]:
    """*url* without its pragmas, and the pragmas.

    Raises:
        InvalidQuery: a pragma's value is wrong, or the query holds a parameter
            neither repokit nor the driver reads.
    """
    query = dict(url.query)
    found = {name: query.pop(name) for name in PRAGMAS if name in query}
    for name, value in found.items():
        if not isinstance(value, str):  # ?busy_timeout=1&busy_timeout=2
            raise InvalidQuery(f"the URL gives SQLite pragma {name} more than once")
    pragmas = SQLitePragmas.parse(found, "the URL")
    uri = str(query.get("uri", "")).lower() in _TRUE
    unknown = sorted(set(query) - _DRIVER_ARGUMENTS)
    if unknown and not uri:
        raise InvalidQuery(
            f"unknown SQLite URL parameter {excerpt(unknown[0])}: the pragmas are "
            f"{', '.join(PRAGMAS)}; the driver takes {', '.join(sorted(_DRIVER_ARGUMENTS))}; "
            "SQLite's URI parameters (mode, cache, …) need uri=true"
        )
    return url.set(query=query), pragmas


def _journal_mode(value: Any, where: str) -> str | None:
    if value is None:
        return None
    mode = value.upper() if isinstance(value, str) else ""
    if mode in _UNSAFE_JOURNAL_MODES:
        raise InvalidQuery(
            f"{where}: SQLite pragma journal_mode={value} is refused: {_UNSAFE_JOURNAL_MODES[mode]}"
        )
    if mode not in _JOURNAL_MODES:
        raise _bad(where, "journal_mode", value, " / ".join(_JOURNAL_MODES))
    return mode


def _synchronous(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(_SYNCHRONOUS):
        return _SYNCHRONOUS[value]
    if isinstance(value, str) and value.upper() in _SYNCHRONOUS:
        return value.upper()
    raise _bad(where, "synchronous", value, "OFF / NORMAL / FULL / EXTRA, or 0-3")


def _busy_timeout(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_BUSY_TIMEOUT:
        return value
    raise _bad(where, "busy_timeout", value, f"milliseconds, an integer 0 to {_MAX_BUSY_TIMEOUT}")


def _foreign_keys(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(where, "foreign_keys", value, "on / off (true / false, 1 / 0, yes / no)")


def _bad(where: str, name: str, value: Any, expected: str) -> InvalidQuery:
    return InvalidQuery(f"{where}: SQLite pragma {name} takes {expected}, got {excerpt(value)}")
