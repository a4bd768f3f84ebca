"""repokit's MongoDB backend, on PyMongo's native async API (``pymongo.AsyncMongoClient``).

Install ``repokit[mongodb]``; ``Database.connect("mongodb://host:port/appdb")``
then finds it through the ``repokit.backends`` entry points, or wrap an
existing client with ``Database(MongoBackend.from_client(client, "appdb"))``.

Modules: :mod:`.backend` (connecting, capabilities, schema changes),
:mod:`.session` (transactions, reads and writes), :mod:`.query` (conditions and
orders), :mod:`.codec` (type mapping), :mod:`.schema` (validator and indexes),
:mod:`.errors` (error mapping).
"""

from repokit_mongodb.backend import MongoBackend
from repokit_mongodb.session import MongoSession

__all__ = ["MongoBackend", "MongoSession"]
