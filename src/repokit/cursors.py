"""Cursors and keyset conditions (CONTRACT §10).

A cursor is ``base64url(version | mac | payload)`` where the payload holds a
fingerprint of the query it belongs to (table, filter, scope, soft-delete
view and order) and the sort-key values of one entity. The MAC (keyed
BLAKE2b) makes any change detectable; the fingerprint makes a cursor from
another query fail with a clear message. A forged cursor could only choose a
position inside the caller's own filtered, scoped set: scope and filters are
always applied by the server-side condition, never taken from a cursor.

Without a configured key (``Database(cursor_key=...)`` or
``$REPOKIT_CURSOR_KEY``) cursors are signed with :data:`DEFAULT_KEY`, random
per process: they work across the process's databases but not in another
process, and nobody outside can mint one.

Decoding is bounded: a cursor longer than :data:`MAX_CURSOR_LENGTH` is
refused before it is base64-decoded, the MAC is checked before the payload is
parsed, and anything that goes wrong while parsing it is :class:`InvalidCursor`.
The encoder never produces a cursor the decoder refuses: a page whose first or
last entity has sort-key values too long for a cursor raises
:class:`~repokit.errors.InvalidQuery` naming the field (sort by a shorter field).

Keyset conditions are built here once for every backend: null-safe under the
ordering of CONTRACT §5 (``None`` smallest), with the primary key as the
final tie-breaker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from decimal import InvalidOperation
from typing import Any

from repokit.conditions import FALSE, Compare, Condition, IsNull, Op, Order, and_, not_, or_
from repokit.errors import InvalidCursor, InvalidQuery, clip
from repokit.tables import Row, Table
from repokit.types import FieldType

__all__ = ["DEFAULT_KEY", "MAX_CURSOR_LENGTH", "CursorCodec", "fingerprint", "keyset_after"]

_VERSION = b"\x01"
_MAC_SIZE = 16
_FINGERPRINT_SIZE = 12
#: The key of a codec built without one: random, generated once per process, so cursors
#: work across every Database of the process and cannot be minted outside it. A
#: deployment of several processes sets its own shared key (``$REPOKIT_CURSOR_KEY``).
DEFAULT_KEY = secrets.token_bytes(32)
#: The longest cursor (characters) the codec decodes, and so the longest it encodes.
#: Ordinary cursors take well under 1,000; this leaves room for about 49,000 ASCII
#: characters of sort-key values.
MAX_CURSOR_LENGTH = 65_536


def fingerprint(
    table: Table[Any], where: Condition, orders: Sequence[Order], *, planned: Any = None
) -> bytes:
    """What a cursor is bound to: the table, the full filter and the order.

    The filter is taken as planned (:mod:`repokit.planning`): its shape key and
    its operands, whose ``repr`` is the same in every process (plain data, no
    ``hash()``), so any change of table, filter value, scope or order changes
    the fingerprint. *planned* is ``where``'s plan when the caller made it
    already. Cursors made before fingerprints were planned carry another one:
    they are refused as from another query.
    """
    from repokit.planning import plan  # here: only this function of the module uses it

    made = plan(where) if planned is None else planned
    sort = tuple([(o.table, o.field, o.descending) for o in orders])
    text = repr(("plan/1", table.name, made.key, made.operands, sort))
    return hashlib.blake2b(text.encode(), digest_size=_FINGERPRINT_SIZE).digest()


def _encode(ftype: FieldType, value: Any) -> Any:
    return None if value is None else ftype.value_kind.to_cursor(value)


def _decode(ftype: FieldType, raw: Any) -> Any:  # raw: parsed JSON
    # The kind's decoder checks the JSON type and applies the value rules (repokit.kinds).
    return None if raw is None else ftype.value_kind.from_cursor(ftype, raw)


class CursorCodec:
    """Encodes and decodes the cursors of one :class:`~repokit.Database`."""

    def __init__(self, key: bytes = DEFAULT_KEY) -> None:
        if not isinstance(key, bytes) or not key:
            raise ValueError("a cursor key must be non-empty bytes")
        self._key = hashlib.blake2b(key, digest_size=32).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _VERSION + payload, hashlib.blake2b).digest()[:_MAC_SIZE]

    def encode(self, table: Table[Any], orders: Sequence[Order], bound_to: bytes, row: Row) -> str:
        """The cursor of *row* in a query with fingerprint *bound_to*."""
        values = [
            _encode(table.fields[o.field].type, value)
            for o, value in zip(orders, sort_values(row, orders), strict=True)
        ]
        payload = bound_to + json.dumps(values, separators=(",", ":")).encode()
        token = _VERSION + self._mac(payload) + payload
        cursor = base64.urlsafe_b64encode(token).decode().rstrip("=")
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise _too_long(table, orders, values, len(cursor))
        return cursor

    def decode(
        self, cursor: str, table: Table[Any], orders: Sequence[Order], bound_to: bytes
    ) -> list[Any]:
        """The sort-key values carried by *cursor*.

        Raises:
            InvalidCursor: malformed, truncated, tampered with, longer than
                :data:`MAX_CURSOR_LENGTH`, from another version, or from
                another query, scope or order.
        """
        if not isinstance(cursor, str):
            raise InvalidCursor(f"a cursor is a string, got {type(cursor).__name__}")
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor(
                f"malformed cursor: {len(cursor)} characters, longer than any cursor "
                f"(MAX_CURSOR_LENGTH is {MAX_CURSOR_LENGTH})"
            )
        try:
            token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor("malformed cursor: not base64url") from None
        # The decoder skips foreign characters, accepts '+' and '/', and ignores
        # the unused low bits of the last character: only the exact string
        # encode() produced may name this token, so any edited character fails.
        if base64.urlsafe_b64encode(token).decode().rstrip("=") != cursor:
            raise InvalidCursor("malformed cursor: not canonical base64url")
        if len(token) < 1 + _MAC_SIZE + _FINGERPRINT_SIZE:
            raise InvalidCursor("malformed cursor: truncated")
        if token[:1] != _VERSION:
            raise InvalidCursor("cursor from an unsupported version")
        mac, payload = token[1 : 1 + _MAC_SIZE], token[1 + _MAC_SIZE :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("cursor was tampered with or truncated")
        if payload[:_FINGERPRINT_SIZE] != bound_to:
            raise InvalidCursor("cursor belongs to another query (filter, scope or order differ)")
        # Authentic from here on, but the payload is still parsed as untrusted input:
        # whatever parsing raises (RecursionError for a deeply nested payload, an
        # enum's own errors, ...) is a malformed cursor.
        try:
            raw = json.loads(payload[_FINGERPRINT_SIZE:])
            if not isinstance(raw, list) or len(raw) != len(orders):
                raise ValueError("wrong number of values")
            return [
                _decode(table.fields[o.field].type, value)
                for o, value in zip(orders, raw, strict=True)
            ]
        except RecursionError:
            raise InvalidCursor("malformed cursor: nested too deeply") from None
        except (ValueError, TypeError, KeyError, InvalidOperation, OverflowError) as exc:
            raise InvalidCursor(f"malformed cursor: {clip(str(exc), 200)}") from None
        except Exception as exc:
            raise InvalidCursor(f"malformed cursor: {type(exc).__name__}") from None


def _too_long(
    table: Table[Any], orders: Sequence[Order], values: Sequence[Any], length: int
) -> InvalidQuery:
    """The error of a page whose entity's sort-key values do not fit in a cursor."""
    sizes = [len(json.dumps(value)) for value in values]
    field = orders[max(range(len(sizes)), key=sizes.__getitem__)].field
    return InvalidQuery(
        f"{table.entity_name}.{field}: a sort-key value too long for a cursor (the cursor "
        f"would take {length} characters; MAX_CURSOR_LENGTH is {MAX_CURSOR_LENGTH}): "
        "sort by a field with shorter values"
    )


def _beyond(order: Order, value: Any) -> Condition:
    """Entities strictly after *value* in *order* (``None`` is the smallest value)."""
    is_null = IsNull(order.table, order.field)
    if not order.descending:
        if value is None:
            return not_(is_null)
        return Compare(order.table, order.field, Op.GT, value)
    if value is None:
        return FALSE
    return or_(Compare(order.table, order.field, Op.LT, value), is_null)


def _same(order: Order, value: Any) -> Condition:
    if value is None:
        return IsNull(order.table, order.field)
    return Compare(order.table, order.field, Op.EQ, value)


def keyset_after(orders: Sequence[Order], values: Sequence[Any]) -> Condition:
    """Entities strictly after the position *values* in the total order *orders*."""
    branches = []
    for i, order in enumerate(orders):
        prefix = [_same(o, v) for o, v in zip(orders[:i], values[:i], strict=True)]
        branches.append(and_(*prefix, _beyond(order, values[i])))
    after = or_(*branches)
    if len(orders) < 2 or values[0] is None:
        return after
    first, value = orders[0], values[0]
    # Every branch implies "at or beyond the first key": saying so up front lets a
    # database seek an index on that key instead of scanning from its start, so a
    # page deep into a walk costs what the first page costs.
    if first.descending:
        seek = or_(
            Compare(first.table, first.field, Op.LE, value), IsNull(first.table, first.field)
        )
    else:
        seek = Compare(first.table, first.field, Op.GE, value)
    return and_(seek, after)


def reverse(orders: Sequence[Order]) -> tuple[Order, ...]:
    """The same orders, each direction flipped (for backward pages)."""
    return tuple(Order(o.table, o.field, not o.descending) for o in orders)


def sort_values(row: Mapping[str, Any], orders: Sequence[Order]) -> list[Any]:
    """The sort-key values of *row*."""
    return [row.get(o.field) for o in orders]
