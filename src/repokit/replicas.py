"""Read replicas: which server a read-only session runs on.

A :class:`~repokit.Database` built with replicas (``Database.connect(url,
replicas=[...])``) sends read-write sessions and the transaction runner to
the primary and every other read-only session to a replica, chosen by
:class:`Replicas`:

* **Round robin** over the replicas that can serve: each read-only session
  starts the search at the replica after the previous session's, so load
  spreads evenly whatever the sessions' lengths.
* **Down replicas are skipped.** A replica whose session cannot be opened,
  or whose first statement fails with :class:`~repokit.errors.BackendUnavailable`
  (a pooled connection to a server that has since stopped), is skipped for
  ``retry_after`` seconds, and the session goes to the next one. The first
  statement of a read-only session is re-run on the next server: nothing was
  read yet, so nothing changes for the caller. A failure after that raises,
  as on a single server.
* **Lagging replicas are skipped** when ``max_lag`` is set: a replica whose
  replay lag, as its server measures it (:meth:`repokit.Backend.replica_lag`),
  is above ``max_lag`` seconds takes no new session until a later
  measurement says it caught up. Each replica is measured at most once per
  ``lag_interval`` seconds, by the session that finds its measurement stale;
  sessions opened meanwhile go by the previous measurement (a replica not
  measured yet is skipped by them).
* **The primary serves when no replica can**, so a read never fails while
  any server is up.

Reads that must see the caller's own writes (read-your-writes) go to the
primary: ``begin_readonly_session(primary=True)``, or every read-only session
inside ``with db.reading_primary():``.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from repokit.backend import Backend, BackendSession
from repokit.errors import BackendUnavailable, InvalidQuery

__all__ = ["PRIMARY_READS", "Connect", "Replica", "Replicas"]

#: Set inside ``Database.reading_primary()``: read-only sessions go to the primary.
PRIMARY_READS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "repokit_primary_reads", default=False
)


#: What connects to a replica that could not be reached yet.
Connect = Callable[[], Awaitable[Backend]]


@dataclass(slots=True, eq=False)
class Replica:
    """One replica's backend and what is known of its health."""

    #: The replica's backend; ``None`` until :attr:`connect` reached it.
    backend: Backend | None
    connect: Connect | None = None
    #: Whether a session is connecting to the replica now.
    connecting: bool = False
    #: Until when (monotonic seconds) the replica is skipped after a failure.
    down_until: float = 0.0
    #: The last measured lag in seconds (``None``: not measured yet).
    lag: float | None = None
    #: When (monotonic seconds) :attr:`lag` was measured.
    measured_at: float = float("-inf")
    #: Whether a session is measuring the lag now (the others use the last value).
    measuring: bool = False


class Replicas:
    """The replicas of a database and the policy that picks one for a read.

    Args:
        backends: the replicas' backends, in the order round robin visits them;
            a replica not reached yet is given as the coroutine function that
            connects to it (called again, after ``retry_after``, until it works).
        max_lag: skip a replica more than this many seconds behind (``None``:
            never measure the lag).
        lag_interval: how old, in seconds, a lag measurement may be.
        retry_after: how long, in seconds, a failed replica is skipped.
        clock: the monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        backends: Sequence[Backend | Connect],
        *,
        max_lag: float | None = None,
        lag_interval: float = 1.0,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("lag_interval", lag_interval), ("retry_after", retry_after)):
            if not _seconds(value):
                raise InvalidQuery(f"replicas: {name} must be a number of seconds, got {value!r}")
        if max_lag is not None and not _seconds(max_lag):
            raise InvalidQuery(f"replicas: max_lag must be a number of seconds, got {max_lag!r}")
        replicas: list[Replica] = []
        for backend in backends:
            if isinstance(backend, Backend):
                replicas.append(Replica(backend))
            elif callable(backend):
                replicas.append(Replica(None, backend))
            else:
                raise TypeError(f"expected a repokit Backend as a replica, got {backend!r}")
        self.replicas: tuple[Replica, ...] = tuple(replicas)
        self.max_lag: float | None = max_lag
        self.lag_interval: float = float(lag_interval)
        self.retry_after: float = float(retry_after)
        self._clock = clock
        self._next = 0

    def __len__(self) -> int:
        return len(self.replicas)

    def candidates(self) -> list[Replica]:
        """The replicas to try, in round-robin order, down ones left out."""
        count = len(self.replicas)
        if not count:
            return []
        start, self._next = self._next, (self._next + 1) % count
        now = self._clock()
        order = self.replicas[start:] + self.replicas[:start]
        return [replica for replica in order if replica.down_until <= now]

    def failed(self, replica: Replica) -> None:
        """*replica* could not serve: skip it for :attr:`retry_after` seconds."""
        replica.down_until = self._clock() + self.retry_after
        replica.lag = None
        replica.measured_at = float("-inf")

    async def close_enough(self, replica: Replica) -> bool:
        """Whether *replica* is within :attr:`max_lag` (measuring it if stale).

        Raises:
            BackendUnavailable: the replica could not be measured (it is down).
        """
        if self.max_lag is None:
            return True
        if self._clock() - replica.measured_at > self.lag_interval:
            await self._measure(replica)
        return replica.lag is not None and replica.lag <= self.max_lag

    async def _measure(self, replica: Replica) -> None:
        if replica.measuring:
            return  # another session is measuring it: decide on the last measurement
        assert replica.backend is not None
        replica.measuring = True
        try:
            lag = await replica.backend.replica_lag()
        finally:
            replica.measuring = False
        replica.lag = 0.0 if lag is None else lag
        replica.measured_at = self._clock()

    async def open(self) -> tuple[Replica, BackendSession] | None:
        """A read-only session on a replica that can serve; ``None`` if none can."""
        for replica in self.candidates():
            try:
                backend = await self._reach(replica)
                if backend is None or not await self.close_enough(replica):
                    continue
                session = await backend.open_session(read_only=True)
            except BackendUnavailable:
                self.failed(replica)
                continue
            return replica, session
        return None

    async def _reach(self, replica: Replica) -> Backend | None:
        """The replica's backend, connecting to it first if need be (``None``: not yet)."""
        if replica.backend is not None:
            return replica.backend
        if replica.connecting or replica.connect is None:
            return None  # another session is connecting: this one goes elsewhere
        replica.connecting = True
        try:
            replica.backend = await replica.connect()
        finally:
            replica.connecting = False
        return replica.backend

    async def close(self) -> None:
        """Close every replica reached."""
        for replica in self.replicas:
            backend, replica.backend, replica.connect = replica.backend, None, None
            if backend is not None:
                await backend.close()


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
