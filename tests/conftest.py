"""Shared fixtures: the test servers (each module owns one server), and pytester.

``pytester`` runs pytest on throwaway projects: the plugin's tests
(tests/plugin) check what a user's own test run sees.
"""

from servers.mongodb import *  # noqa: F403
from servers.postgres import *  # noqa: F403

pytest_plugins = ["pytester"]
