"""Every contract test, for ``from repokit.testing.suite import *``.

Each module covers one section of CONTRACT.md; test classes are collected
in the importing module, which defines the ``repokit_harness`` fixture.
Suite tests are never overridden: declare an expected failure instead.
"""

from repokit.testing.suite.smoke import TestSmoke

__all__ = ["TestSmoke"]
