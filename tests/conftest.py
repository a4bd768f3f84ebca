"""Shared fixtures: the test servers (each module owns one server)."""

from servers.mongodb import *  # noqa: F403
from servers.postgres import *  # noqa: F403
