"""What repokit tells the outside world about its work: loggers and OpenTelemetry spans.

Every backend call a session makes (an SPI method: ``insert``, ``select``,
``select_page``, ``select_window``, ``count``, ``update``, ``update_one``,
``delete``) passes through :meth:`repokit.Session.run`, and through
:meth:`Telemetry.observe` whenever anything listens. So every backend is
observed in the same words, from this one place:

* the ``repokit.statements`` logger, at DEBUG: one record per call with its
  operation, table, the shape of its condition, the rows it returned or
  changed and its duration;
* an OpenTelemetry CLIENT span per call, named ``"{operation} {table}"``, with
  the database semantic conventions (``db.system.name``, ``db.operation.name``,
  ``db.collection.name``, ``db.namespace``, ``server.address``, …) taken from
  the backend's :class:`Endpoint`.

The ``repokit.database`` logger (sessions, transaction retries) is written by
:mod:`repokit.database`; backends may add their own (``repokit.sqlalchemy``
logs the SQL text of each statement).

Values (entity fields, condition operands, error messages, which may quote
them) never leave the process unless the :class:`~repokit.Database` was
built with ``log_values=True``.

Nothing listening costs a cheap check per call: whether the statement
logger is enabled for DEBUG (``Logger.isEnabledFor``, which caches per level
and forgets on every level change), and whether the application has imported
OpenTelemetry and set a tracer provider. repokit never imports OpenTelemetry
itself (that import takes ~75 ms); it uses the API once the application has
(an application that configures an SDK has). No clock is read unless the
statement log is on.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    Not,
    Or,
    unknown_node,
)
from repokit.errors import TransactionConflict, excerpt

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from repokit.backend import BackendSession
    from repokit.database import Session
    from repokit.tables import Table

__all__ = [
    "DATABASE_LOG",
    "STATEMENTS_LOG",
    "TRACER_NAME",
    "Endpoint",
    "Telemetry",
    "log_conflict",
    "log_session_end",
    "render_condition",
]

#: Sessions (DEBUG) and transaction retries (INFO).
DATABASE_LOG = logging.getLogger("repokit.database")
#: Every backend call (DEBUG).
STATEMENTS_LOG = logging.getLogger("repokit.statements")
#: The instrumentation scope of repokit's spans: ``trace.get_tracer(TRACER_NAME, version)``.
TRACER_NAME = "repokit"

# A library never configures logging; this only keeps Python's last-resort handler
# from printing a record when the application configured none.
logging.getLogger("repokit").addHandler(logging.NullHandler())

_DEBUG = logging.DEBUG
_INFO = logging.INFO
_TRACE_MODULE = "opentelemetry.trace"
_modules = sys.modules
#: The SPI calls whose result is rows read (``db.response.returned_rows``).
_READS = frozenset({"select", "select_page", "select_window", "update_one", "delete_returning"})

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Which database a backend's calls reach, in OpenTelemetry's database conventions.

    A backend declares its own as :attr:`repokit.Backend.endpoint`; the default
    (``other_sql``, nothing else known) is for a backend that declares none.

    Attributes:
        system: ``db.system.name`` (and the older ``db.system``): ``postgresql``,
            ``sqlite``, ``mongodb``, ``memory``…
        namespace: ``db.namespace``: the database name (SQLite: the file's path).
        address: ``server.address``: a host name, an IP address or a Unix socket path.
        port: ``server.port``.
    """

    system: str = "other_sql"
    namespace: str | None = None
    address: str | None = None
    port: int | None = None

    def attributes(self) -> dict[str, str | int]:
        """The span attributes every call to this database carries."""
        attributes: dict[str, str | int] = {"db.system.name": self.system, "db.system": self.system}
        if self.namespace:
            attributes["db.namespace"] = self.namespace
        if self.address:
            attributes["server.address"] = self.address
        if self.port is not None:
            attributes["server.port"] = self.port
        return attributes


class Telemetry:
    """How one :class:`~repokit.Database` reports its backend calls.

    Args:
        endpoint: the backend's :class:`Endpoint`.
        log_values: put values (condition operands, written rows and values,
            error messages) in statement records and in failed spans.
        tracer_provider: where spans go; ``None`` (the default) means
            OpenTelemetry's global tracer provider, once the application has
            set one.
    """

    __slots__ = ("_attributes", "_context", "_global", "_trace", "_tracer", "log_values", "system")

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        log_values: bool = False,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.system: str = endpoint.system
        self.log_values: bool = log_values
        self._attributes = endpoint.attributes()
        self._tracer: Tracer | None = None
        self._trace: Any = None
        self._context: Any = None
        self._global = tracer_provider is None
        if tracer_provider is not None:
            # Whoever built a provider has imported the API.
            self._bind(_modules[_TRACE_MODULE], tracer_provider)

    def _bind(self, trace: Any, provider: TracerProvider) -> Tracer:
        from repokit import __version__

        self._trace = trace
        self._context = _modules["opentelemetry.context"]
        tracer: Tracer = provider.get_tracer(TRACER_NAME, __version__)
        self._tracer = tracer
        return tracer

    def tracer(self) -> Tracer | None:
        """The tracer spans go to, or ``None`` while no tracer provider is set.

        The global provider can be set once only, so the first one found is kept.
        """
        tracer = self._tracer
        if tracer is None and self._global:
            trace = _modules.get(_TRACE_MODULE)
            if trace is not None:
                provider = _global_provider(trace)
                if provider is not None and not isinstance(provider, _no_op_providers(trace)):
                    tracer = self._bind(trace, provider)
        return tracer

    def watching(self) -> bool:
        """Whether anything listens to backend calls: the cheap check before each one."""
        return STATEMENTS_LOG.isEnabledFor(_DEBUG) or self.tracer() is not None

    async def observe(
        self,
        session: Session,
        backend: BackendSession,
        call: Callable[[BackendSession], Awaitable[R]],
        operation: str,
        table: Table[Any] | None,
        where: Condition | None,
        values: Any,
    ) -> R:
        """Run one backend call of *session*, logged and traced (see :meth:`Session.run`)."""
        tracer = self.tracer()
        logged = STATEMENTS_LOG.isEnabledFor(_DEBUG)
        span: Span | None = None
        token: object = None
        if tracer is not None:
            attributes: dict[str, str | int] = {**self._attributes, "db.operation.name": operation}
            if table is not None:
                attributes["db.collection.name"] = table.name
            if operation == "insert" and values is not None and len(values) > 1:
                attributes["db.operation.batch.size"] = len(values)
            name = operation if table is None else f"{operation} {table.name}"
            span = tracer.start_span(name, kind=self._trace.SpanKind.CLIENT, attributes=attributes)
            # Current while the call runs: a driver's own spans nest inside it.
            token = self._context.attach(self._trace.set_span_in_context(span))
        started = time.perf_counter() if logged else 0.0
        try:
            result = await call(backend)
        except BaseException as exc:
            session.fail(exc)
            if span is not None and span.is_recording():
                self._failed_span(span, exc)
            if logged:
                self._log(operation, table, where, values, started, None, exc)
            raise
        else:
            rows = _rows(operation, result, values)
            if span is not None and span.is_recording() and rows is not None:
                if operation in _READS:
                    span.set_attributes({"repokit.rows": rows, "db.response.returned_rows": rows})
                else:
                    span.set_attribute("repokit.rows", rows)
            if logged:
                self._log(operation, table, where, values, started, rows, None)
        finally:
            if span is not None:
                self._context.detach(token)
                span.end()
        return result

    def _failed_span(self, span: Span, exc: BaseException) -> None:
        error = type(exc).__qualname__
        span.set_attribute("error.type", error)
        if self.log_values:
            span.record_exception(exc)
            description = f"{error}: {exc}"
        else:
            description = error
        span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, description))

    def _log(
        self,
        operation: str,
        table: Table[Any] | None,
        where: Condition | None,
        values: Any,
        started: float,
        rows: int | None,
        error: BaseException | None,
    ) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        detail = ""
        if where is not None:
            detail += f"; where {render_condition(where, values=self.log_values)}"
        if values is not None and self.log_values:
            detail += f"; values {excerpt(values)}"
        name = "-" if table is None else table.name
        extra: dict[str, Any] = {
            "db_system": self.system,
            "db_operation": operation,
            "db_table": name,
            "duration_ms": elapsed,
            "rows": rows,
            "error_type": None if error is None else type(error).__qualname__,
        }
        if error is None:
            STATEMENTS_LOG.debug(
                "%s %s: %s in %.3f ms%s",
                operation,
                name,
                "? rows" if rows is None else "1 row" if rows == 1 else f"{rows} rows",
                elapsed,
                detail,
                extra=extra,
            )
            return
        reason = f"{type(error).__qualname__}: {error}" if self.log_values else extra["error_type"]
        STATEMENTS_LOG.debug(
            "%s %s: failed in %.3f ms (%s)%s", operation, name, elapsed, reason, detail, extra=extra
        )


def _global_provider(trace: Any) -> Any:
    """OpenTelemetry's global tracer provider; ``None`` while none is set.

    The public ``get_tracer_provider()`` looks up an environment variable on
    every call while no provider is set (~1 µs: most of what a backend call
    would pay with OpenTelemetry imported and nothing configured). It is called
    once, which installs a provider named by that variable; after that the
    module global it returns is read directly, while the API still has one.
    """
    global _provider_looked_up
    if _provider_looked_up:
        provider = getattr(trace, "_TRACER_PROVIDER", _MISSING)
        if provider is not _MISSING:
            return provider
    _provider_looked_up = True
    return trace.get_tracer_provider()


_MISSING = object()
_provider_looked_up = False


@functools.cache
def _no_op_providers(trace: Any) -> tuple[type, ...]:
    """The providers that stand for "no SDK": the API's proxy and its no-op."""
    return (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


def _rows(operation: str, result: Any, values: Any) -> int | None:
    """The rows a call returned (reads), wrote or matched (writes), or counted."""
    if operation == "insert":
        return len(values) if values is not None else None
    if isinstance(result, list):
        return len(result)
    if isinstance(result, int):
        return result
    if isinstance(result, tuple):  # select_page: (rows, total)
        return len(result[0])
    if result is None:  # update_one: nothing matched
        return 0
    if isinstance(result, Mapping):  # update_one: the row
        return 1
    rows = getattr(result, "rows", None)  # select_window: a Window
    return len(rows) if isinstance(rows, list) else None


def log_session_end(session: Session, started: float, error: BaseException | None) -> None:
    """DEBUG on ``repokit.database``: how *session* ended (*error*: what rolled it back)."""
    if not DATABASE_LOG.isEnabledFor(_DEBUG):
        return
    elapsed = (time.perf_counter() - started) * 1000
    kind = "read-only" if session.read_only else "read-write"
    if session.committed:
        outcome = "committed"
    elif error is None and session.read_only:
        outcome = "ended"
    else:
        outcome = "rolled back"
    error_type = None if error is None else type(error).__qualname__
    DATABASE_LOG.debug(
        "%s session %s after %.3f ms%s",
        kind,
        outcome,
        elapsed,
        "" if error_type is None else f" ({error_type})",
        extra={
            "read_only": session.read_only,
            "outcome": outcome,
            "duration_ms": elapsed,
            "error_type": error_type,
        },
    )


def log_conflict(attempt: int, attempts: int, error: BaseException, delay: float | None) -> None:
    """INFO on ``repokit.database``: a transient conflict ended attempt *attempt* of *attempts*.

    *delay* is the back-off before the next attempt (seconds); ``None`` when
    none follows and the conflict propagates. The reason is the conflict's
    message (the server's word for it: serialisation failure, deadlock, write
    conflict, busy file), which names no values.
    """
    if not DATABASE_LOG.isEnabledFor(_INFO):
        return
    cause = error.__cause__
    conflict = cause if isinstance(cause, TransactionConflict) else error
    reason = f"{type(conflict).__qualname__}: {conflict}"
    extra = {
        "attempt": attempt,
        "attempts": attempts,
        "retry_delay_ms": None if delay is None else delay * 1000,
        "error_type": type(conflict).__qualname__,
        "reason": str(conflict),
    }
    if delay is None:
        DATABASE_LOG.info(
            "transaction attempt %d of %d failed with a transient conflict, not retried: %s",
            attempt,
            attempts,
            reason,
            extra=extra,
        )
        return
    DATABASE_LOG.info(
        "transaction attempt %d of %d failed with a transient conflict, retrying in %.1f ms: %s",
        attempt,
        attempts,
        delay * 1000,
        reason,
        extra=extra,
    )


def render_condition(condition: Condition, *, values: bool = False) -> str:
    """*condition* as text: operands as ``?`` unless *values* (then bounded excerpts)."""

    def operand(value: Any) -> str:
        return excerpt(value) if values else "?"

    match condition:
        case Const():
            return "TRUE" if condition.value else "FALSE"
        case Compare():
            return f"{condition.field} {condition.op.value} {operand(condition.value)}"
        case In():
            listed = excerpt(condition.values) if values else f"({len(condition.values)} values)"
            return f"{condition.field} IN {listed}"
        case IsNull():
            return f"{condition.field} IS NULL"
        case Match():
            return f"{condition.field} {condition.kind.value} {operand(condition.pattern)}"
        case And() | Or():
            joiner = " AND " if isinstance(condition, And) else " OR "
            return (
                "("
                + joiner.join(render_condition(item, values=values) for item in condition.items)
                + ")"
            )
        case Not():
            return f"NOT {render_condition(condition.item, values=values)}"
        case Exists():
            pairs = " AND ".join(f"{inner} = {outer}" for inner, outer in condition.on)
            where = render_condition(condition.where, values=values)
            on = f"{pairs} AND " if pairs else ""
            return f"EXISTS {condition.inner.name}({on}{where})"
        case _:
            raise unknown_node(condition)
