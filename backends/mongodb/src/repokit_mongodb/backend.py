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

from pymongo import AsyncMongoClient, ReadPreference
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.topology_description import TOPOLOGY_TYPE

from repokit.backend import Backend
from repokit.capabilities import Capabilities
from repokit.drift import Remedy, SchemaAction, SchemaChange, index_changes, missing_table
from repokit.errors import BackendUnavailable, InvalidQuery, TableNotFound, UnsupportedOperation
from repokit.gate import FairGate
from repokit.observability import Endpoint
from repokit.tables import Table
from repokit_mongodb.codec import CODEC_OPTIONS, Codec
from repokit_mongodb.errors import map_errors, translate
from repokit_mongodb.schema import index_models, index_spec, validator
from repokit_mongodb.session import MongoSession

__all__ = ["DEFAULT_SERVER_SELECTION_TIMEOUT_MS", "MongoBackend", "endpoint_of"]

#: How long :meth:`MongoBackend.connect` waits for a server unless the URL says otherwise.
DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 3_000
#: How long a session waits for a free connection unless ``waitQueueTimeoutMS`` is set
#: (SQLAlchemy's pool waits 30 s by default, too).
DEFAULT_GATE_TIMEOUT = 30.0
#: Documents per ``insert_many`` call when the server does not say (MongoDB's own default).
DEFAULT_MAX_WRITE_BATCH_SIZE = 100_000
#: The server's code for dropping an index that does not exist.
_INDEX_NOT_FOUND = 27
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


def endpoint_of(client: AsyncMongoClient[Any], database: str) -> Endpoint:
    """The database *client* reaches, as logs and spans name it.

    The server's address and port only when the client knows of one server:
    a replica set or cluster has several, and which one answers varies by call.
    """
    servers = list(client.topology_description.server_descriptions())
    host, port = servers[0] if len(servers) == 1 else (None, None)
    return Endpoint("mongodb", database, host, port)


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

    Reads outside transactions follow the client's read preference (the
    URL's ``readPreference``, ``maxStalenessSeconds``…): a replica set's
    secondaries serve them when it says so. Read-write sessions, and
    read-only ones that must read their own writes
    (``begin_readonly_session(primary=True)``), read the primary.

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

    routes_reads = True

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
        # Transactions and read-your-writes reads: on the primary, whatever read
        # preference the URL gives the client (a transaction refuses any other).
        self._primary: AsyncDatabase[dict[str, Any]] = client.get_database(
            database, codec_options=CODEC_OPTIONS, read_preference=ReadPreference.PRIMARY
        )
        self._owns_client = owns_client
        self._codecs: dict[int, Codec] = {}
        #: Collections known to exist: created here, or found by :meth:`require_table`.
        self._existing: set[str] = set()
        self._given = transactions is not None
        self._checked = transactions is False
        #: Read-only sessions are snapshot sessions (found out by :meth:`_detect`).
        self.snapshot_reads = False
        if transactions is None:
            # Provisional until the server answers (_ready), unless the topology says.
            topology = client.topology_description.topology_type
            transactions = topology in _TRANSACTIONAL_TOPOLOGIES
        self.capabilities = Capabilities(
            transactions=transactions,
            savepoints=False,
            references=transactions,
            native_semijoins=False,
        )
        self.endpoint = endpoint_of(client, database)
        self.max_write_batch_size = DEFAULT_MAX_WRITE_BATCH_SIZE
        pool = client.options.pool_options
        # PyMongo waits for a pooled connection forever unless waitQueueTimeoutMS says
        # otherwise; the gate is bounded like the SQL pool's (CONTRACT §15).
        wait = pool.wait_queue_timeout
        size = pool.max_pool_size
        self._gate = FairGate(
            int(size) if size else None,
            DEFAULT_GATE_TIMEOUT if wait is None else wait,
            "MongoDB",
        )

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
            transactional = supports_transactions(hello)
            self.capabilities = Capabilities(
                transactions=transactional,
                savepoints=False,
                references=transactional,
                native_semijoins=False,
            )
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

    def collection(
        self, table: Table[Any], *, primary: bool = False
    ) -> AsyncCollection[dict[str, Any]]:
        """The collection of *table*; *primary*: read from the primary whatever the URL says."""
        if primary:
            return self._primary.get_collection(table.name)
        return self.database.get_collection(table.name)

    async def require_table(self, table: Table[Any]) -> None:
        """Raise :class:`~repokit.errors.TableNotFound` unless *table*'s collection exists.

        MongoDB would create a missing collection on the first write and reads
        a missing one as empty; the contract wants the same error as the SQL
        databases give. One ``listCollections`` per table and backend: a
        collection found (or created here) is not looked up again, so one
        dropped behind this backend's back (by another process) goes unnoticed.
        """
        if table.name in self._existing:
            return
        # Outside any session: listCollections is not allowed in a transaction.
        # authorizedCollections: a user without the listCollections privilege may
        # still list the collections it has privileges on (MongoDB 4.0+).
        with map_errors(table):
            found = await self.database.list_collection_names(
                filter={"name": table.name}, authorizedCollections=True
            )
        if table.name not in found:
            raise TableNotFound(table.name)
        self._existing.add(table.name)

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
            self._existing.add(table.name)

    async def schema_changes(self, tables: Sequence[Table[Any]]) -> list[SchemaChange]:
        # create_tables creates missing collections and indexes; reconcile_tables drops the
        # stale and changed indexes repokit owns (repokit.drift), which create_tables then
        # creates anew. The validator is refreshed every time, so it never drifts.
        await self._ready()
        names = [table.name for table in tables]
        with map_errors():
            existing = set(
                await self.database.list_collection_names(
                    filter={"name": {"$in": names}}, authorizedCollections=True
                )
            )
        changes: list[SchemaChange] = []
        for table in tables:
            if table.name not in existing:
                changes.append(missing_table(table.name))
                continue
            declared = {
                model.document["name"]: index_spec(model.document)
                for model in index_models(table, self.codec(table))
            }
            with map_errors(table):
                cursor = await self.collection(table).list_indexes()
                found = {index["name"]: index_spec(index) async for index in cursor}
            changes += index_changes(
                table.name,
                declared,
                found,
                create=Remedy.CREATE,
                drop=Remedy.RECONCILE,
                replace=Remedy.RECONCILE,
            )
        return changes

    async def reconcile_tables(
        self, tables: Sequence[Table[Any]], changes: Sequence[SchemaChange]
    ) -> None:
        # A replaced index is dropped here and created by create_tables right after:
        # meanwhile a replaced unique key is not enforced.
        by_name = {table.name: table for table in tables}
        for change in changes:
            if change.action not in (SchemaAction.DROP_INDEX, SchemaAction.REPLACE_INDEX):
                raise UnsupportedOperation(f"MongoDB cannot apply {change}")
            table = by_name[change.table]
            with map_errors(table):
                try:
                    await self.collection(table).drop_index(change.name)
                except OperationFailure as exc:
                    if exc.code != _INDEX_NOT_FOUND:  # already dropped (by another process)
                        raise

    async def drop_tables(self, tables: Sequence[Table[Any]]) -> None:
        for table in tables:
            self._existing.discard(table.name)
            with map_errors(table):
                await self.database.drop_collection(table.name)

    # -- sessions ---------------------------------------------------------------------------

    async def open_session(self, *, read_only: bool) -> MongoSession:
        return await self._open(read_only=read_only, primary=not read_only)

    async def open_primary_read(self) -> MongoSession:
        """A read-only session whose reads go to the primary, whatever the read preference."""
        return await self._open(read_only=True, primary=True)

    async def _open(self, *, read_only: bool, primary: bool) -> MongoSession:
        await self._ready()
        leave = await self._gate.enter()
        try:
            with map_errors():
                session = await self._client_session(read_only)
        except BaseException:
            leave()
            raise
        return MongoSession(self, session, read_only=read_only, primary=primary, leave=leave)

    async def _client_session(self, read_only: bool) -> AsyncClientSession:
        """A snapshot session for reads where the server has them, else a transaction."""
        if read_only and self.snapshot_reads:
            return self.client.start_session(snapshot=True)
        session = self.client.start_session()
        if self.capabilities.transactions:
            await session.start_transaction(
                read_concern=ReadConcern("snapshot"), read_preference=ReadPreference.PRIMARY
            )
        return session

    async def close(self) -> None:
        if self._owns_client:
            try:
                await self.client.close()
            except PyMongoError as exc:
                raise BackendUnavailable(f"closing the MongoDB client failed: {exc}") from exc
