"""The base utilities a domain repository is built from, one concept per module."""

from repokit.utilities.base import Deleted, Utility
from repokit.utilities.bulk import BulkWriter, Outcome
from repokit.utilities.creator import Creator
from repokit.utilities.deleter import Deleter
from repokit.utilities.purger import BatchPurger, Purger
from repokit.utilities.querier import BatchQuerier, Found, Querier
from repokit.utilities.updater import BatchUpdater, Updater
from repokit.utilities.upserter import Upserted, Upserter

__all__ = [
    "BatchPurger",
    "BatchQuerier",
    "BatchUpdater",
    "BulkWriter",
    "Creator",
    "Deleted",
    "Deleter",
    "Found",
    "Outcome",
    "Purger",
    "Querier",
    "Updater",
    "Upserted",
    "Upserter",
    "Utility",
]
