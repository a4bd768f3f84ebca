"""The base utilities a domain repository is built from, one concept per module."""

from repokit.utilities.base import Deleted, Utility
from repokit.utilities.creator import Creator
from repokit.utilities.deleter import Deleter
from repokit.utilities.purger import BatchPurger, Purger
from repokit.utilities.querier import BatchQuerier, Querier
from repokit.utilities.updater import BatchUpdater, Updater

__all__ = [
    "BatchPurger",
    "BatchQuerier",
    "BatchUpdater",
    "Creator",
    "Deleted",
    "Deleter",
    "Purger",
    "Querier",
    "Updater",
    "Utility",
]
