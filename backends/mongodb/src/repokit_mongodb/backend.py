"""The MongoDB backend: connecting, capabilities, collections and sessions.

``Database.connect("mongodb://host:port/appdb")`` builds one through
:meth:`MongoBackend.connect`; an application that already owns an
:class:`~pymongo.AsyncMongoClient` wraps it with
:meth:`MongoBackend.from_client`. Whatever the client's own options, the
backend reads and writes through a database handle with repokit's codec
options (standard UUIDs, aware UTC datetimes).

Whether the server has multi-document transactions (replica sets, sharded
clusters; not a standalone ``mongod``) is found out when connecting and
declared as ``Capabilities(transactions=...)``; whether it also has snapshot
reads outside transactions (MongoDB 5.0+), which read-only sessions use, is
found out at the same time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self
from urllib.parse import unquote

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.topology_description import TOPOLOGY_TYPE

from repokit.backend import Backend
from repokit.capabilities import Capabilities
from repokit.errors import BackendUnavailable, InvalidQuery
from repokit.gate import FairGate
from repokit.tables import Table
from repokit_mongodb.codec import CODEC_OPTIONS, Codec
from repokit_mongodb.errors import map_errors, translate
from repokit_mongodb.schema import index_models, validator
from repokit_mongodb.session import MongoSession

__all__ = ["DEFAULT_SERVER_SELECTION_TIMEOUT_MS", "MongoBackend"]

#: How long :meth:`MongoBackend.connect` waits for a server unless the URL says otherwise.
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 3_000
#: Documents per ``insert_many`` call when the server does not say (MongoDB's own default).
DEFAULT_MAX_WRITE_BATCH_SIZE = 100_000
#: The wire version of MongoDB 5.0, the first with snapshot reads outside transactions.
SNAPSHOT_READS_WIRE_VERSION = 13

# Unknown: not connected yet, so assume the common case until the server answers.
_TRANSACTIONAL_TOPOLOGIES = {
    TOPOLOGY_TYPE.Unknown,
    TOPOLOGY_TYPE.ReplicaSetNoPrimary,
    TOPOLOGY_TYPE.ReplicaSetWithPrimary,
    TOPOLOGY_TYPE.Sharded,
    TOPOLOGY_TYPE.LoadBalanced,
}


def database_name_of(url: str) -> str | None:
    """The database named in a MongoDB URL's path, if any (no DNS lookup for ``+srv``)."""
    _, _, rest = url.partition("://")
    _, slash, path = rest.partition("/")
    name = unquote(path.split("?", 1)[0]) if slash else ""
    return name or None


def _has_option(url: str, options: Mapping[str, Any], name: str) -> bool:
    query = url.partition("?")[2].lower()
    in_url = any(part.split("=", 1)[0] == name.lower() for part in query.split("&"))
    return in_url or any(key.lower() == name.lower() for key in options)


def supports_transactions(hello: Mapping[str, Any]) -> bool:
    """Whether a server that answered *hello* runs multi-document transactions."""
    clustered = "setName" in hello or hello.get("msg") == "isdbgrid" or "serviceId" in hello
    return clustered and hello.get("logicalSessionTimeoutMinutes") is not None


def supports_snapshot_reads(hello: Mapping[str, Any]) -> bool:
    """Whether a server that answered *hello* reads ``snapshot`` outside transactions."""
    wire = hello.get("maxWireVersion", 0)
    return supports_transactions(hello) and wire >= SNAPSHOT_READS_WIRE_VERSION


class MongoBackend(Backend):
    """repokit on MongoDB through PyMongo's native async API.

    Args:
        client: the client to run on.
        database: the database holding the collections.
        owns_client: close *client* when the backend closes.
        transactions: whether the server has transactions; ``None`` finds out
            from the client's topology, or from the server before the first
            session or schema change when the topology is not known yet.
            Snapshot reads are asked of the server either way (once, before
            the first session), unless *transactions* is ``False``.
    """

    def __init__(
        self,
        client: AsyncMongoClient[Any],
        database: str,
        *,
        owns_client: bool = False,
        transactions: bool | None = None,
    ) -> None:
        if not isinstance(database, str) or not database:
            raise InvalidQuery(f"a MongoDB backend needs a database name, got {database!r}")
        self.client = client
        self.database: AsyncDatabase[dict[str, Any]] = client.get_database(
            database, codec_options=CODEC_OPTIONS
        )
        self._owns_client = owns_client
        self._codecs: dict[int, Codec] = {}
        self._given = transactions is not None
        self._checked = transactions is False
        #: Read-only sessions are snapshot sessions (found out by :meth:`_detect`).
        self.snapshot_reads = False
        if transactions is None:
            # Provisional until the server answers (_ready), unless the topology says.
            topology = client.topology_description.topology_type
            transactions = topology in _TRANSACTIONAL_TOPOLOGIES
        self.capabilities = Capabilities(transactions=transactions)
        self.max_write_batch_size = DEFAULT_MAX_WRITE_BATCH_SIZE
        pool = client.options.pool_options
        wait = pool.wait_queue_timeout
        size = pool.max_pool_size
        self._gate = FairGate(int(size) if size else None, wait, "MongoDB")

    @classmethod
    def from_client(
        cls, client: AsyncMongoClient[Any], database: str, *, transactions: bool | None = None
    ) -> Self:
        """Wrap a client the application owns; :meth:`close` leaves it open."""
        return cls(client, database, transactions=transactions)

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        """Connect to ``mongodb://…/database`` (or ``mongodb+srv://``).

        Args:
            url: a MongoDB connection string naming the database.
            options: ``database`` (overrides the URL's) and any
                :class:`~pymongo.AsyncMongoClient` keyword argument.

        Raises:
            InvalidQuery: the URL names no database.
            BackendUnavailable: no server answered within the server-selection timeout.
        """
        database = options.pop("database", None) or database_name_of(url)
        if database is None:
            raise InvalidQuery(
                f"the MongoDB URL names no database: {url!r} (mongodb://host/dbname)"
            )
        if not _has_option(url, options, "serverSelectionTimeoutMS"):
            options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_TIMEOUT_MS
        options.setdefault("uuidRepresentation", "standard")
        options.setdefault("tz_aware", True)
        try:
            client: AsyncMongoClient[Any] = AsyncMongoClient(url, **options)
        except PyMongoError as exc:
            raise translate(exc) from exc
        backend = cls(client, database, owns_client=True)
        try:
            await backend._detect()
        except BaseException:
            await client.close()
            raise
        return backend

    async def _detect(self) -> None:
        """Ask the server what it can do."""
        with map_errors():
            hello = await self.client.admin.command("hello")
        if not self._given:
            self.capabilities = Capabilities(transactions=supports_transactions(hello))
        self.snapshot_reads = self.capabilities.transactions and supports_snapshot_reads(hello)
        batch = hello.get("maxWriteBatchSize", DEFAULT_MAX_WRITE_BATCH_SIZE)
        self.max_write_batch_size = int(batch)
        self._checked = True

    async def _ready(self) -> None:
        if not self._checked:
            await self._detect()

    # -- tables -----------------------------------------------------------------------------

    def codec(self, table: Table[Any]) -> Codec:
        """The codec of *table* (built once)."""
        codec = self._codecs.get(id(table))
        if codec is None or codec.table is not table:
            codec = self._codecs[id(table)] = Codec(table)
        return codec

    def collection(self, table: Table[Any]) -> AsyncCollection[dict[str, Any]]:
        """The collection of *table*."""
        return self.database.get_collection(table.name)

    async def create_tables(self, tables: Sequence[Table[Any]]) -> None:
        await self._ready()
        for table in tables:
            codec = self.codec(table)
            rules = validator(table, codec)
            models = index_models(table, codec)
            with map_errors(table):
                try:
                    await self.database.create_collection(table.name, validator=rules)
                except CollectionInvalid:  # it exists: keep it, refresh its validator
                    await self.database.command("collMod", table.name, validator=rules)
                await self.collection(table).create_indexes(models)

    async def drop_tables(self, tables: Sequence[Table[Any]]) -> None:
        for table in tables:
            with map_errors(table):
                await self.database.drop_collection(table.name)

    # -- sessions ---------------------------------------------------------------------------

    async def open_session(self, *, read_only: bool) -> MongoSession:
        await self._ready()
        leave = await self._gate.enter()
        try:
            with map_errors():
                session = await self._client_session(read_only)
        except BaseException:
            leave()
            raise
        return MongoSession(self, session, read_only=read_only, leave=leave)

    async def _client_session(self, read_only: bool) -> AsyncClientSession:
        """A snapshot session for reads where the server has them, else a transaction."""
        if read_only and self.snapshot_reads:
            return self.client.start_session(snapshot=True)
        session = self.client.start_session()
        if self.capabilities.transactions:
            await session.start_transaction(read_concern=ReadConcern("snapshot"))
        return session

    async def close(self) -> None:
        if self._owns_client:
            try:
                await self.client.close()
            except PyMongoError as exc:
                raise BackendUnavailable(f"closing the MongoDB client failed: {exc}") from exc
