"""The ``pytest11`` entry point: loads the contract-suite plugin when its extras are installed.

Installing repokit without the ``testing`` extra must not break a project's
pytest run, so the real plugin (:mod:`repokit.testing.plugin`) is loaded
only when pytest-asyncio and hypothesis are importable.
"""

from importlib.util import find_spec

if find_spec("pytest_asyncio") is not None and find_spec("hypothesis") is not None:
    from repokit.testing.plugin import *  # noqa: F403
    from repokit.testing.plugin import (  # noqa: F401
        _repokit_expected_failures,
        pytest_collection_modifyitems,
        pytest_configure,
    )
