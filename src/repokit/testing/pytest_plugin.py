"""The ``pytest11`` entry point ``repokit``: loads the plugin if the ``testing`` extra is installed.

pytest imports this module in every run of every environment repokit is
installed in, so it must never break one: it imports only repokit's core
(:mod:`repokit.testing` imports its members lazily) and, unless
pytest-asyncio and hypothesis are both importable, registers nothing. With
them, it loads the plugin proper, :mod:`repokit.testing.plugin`.
``-p no:repokit`` turns both off.
"""

from importlib.util import find_spec

__all__ = ["pytest_plugins"]

#: The plugin proper, loaded by pytest after this module when its extras are installed.
pytest_plugins: list[str] = []
if find_spec("pytest_asyncio") is not None and find_spec("hypothesis") is not None:
    pytest_plugins = ["repokit.testing.plugin"]
