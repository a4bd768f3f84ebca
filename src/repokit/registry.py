"""The backend registry: URL scheme → backend class.

Lookup order: in-process registrations (:func:`register_backend`), then the
``repokit.backends`` entry-point group, where first-party and third-party
backends register alike (``postgresql = "repokit_sqlalchemy:SQLAlchemyBackend"``).
A backend's module, and so its driver, is imported only when its scheme is
first used. A scheme nobody provides raises
:class:`~repokit.errors.BackendNotInstalled` naming the package to install.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from repokit.errors import BackendNotInstalled, excerpt

if TYPE_CHECKING:
    from repokit.backend import Backend

__all__ = ["ENTRY_POINT_GROUP", "backend_for_url", "register_backend", "scheme_of"]

ENTRY_POINT_GROUP = "repokit.backends"

_registered: dict[str, type[Backend]] = {}

#: What to install for the schemes of first-party backends.
_INSTALL_HINTS = {
    "postgresql": "repokit[postgres]",
    "postgresql+asyncpg": "repokit[postgres]",
    "sqlite": "repokit[sqlite]",
    "sqlite+aiosqlite": "repokit[sqlite]",
    "mongodb": "repokit[mongodb]",
    "mongodb+srv": "repokit[mongodb]",
}


#: Schemes that name a database repokit runs, with a driver it does not run on (or a
#: spelling SQLAlchemy no longer accepts): what to write instead.
_USE_INSTEAD = {
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg2cffi": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "postgresql+psycopg_async": "postgresql+asyncpg",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+pysqlcipher": "sqlite+aiosqlite",
}


def register_backend(scheme: str, backend: type[Backend]) -> None:
    """Register *backend* for URL *scheme* in this process (overrides entry points)."""
    _registered[scheme.lower()] = backend


def scheme_of(url: str) -> str:
    """The scheme of a database URL (``"postgresql+asyncpg"`` for ``postgresql+asyncpg://…``)."""
    scheme, sep, _ = url.partition("://")
    if not sep and url.endswith(":"):
        scheme, sep = url[:-1], ":"
    if not sep or not scheme:
        raise BackendNotInstalled(f"not a database URL: {excerpt(url)} (expected scheme://...)")
    return scheme.lower()


def backend_for_url(url: str) -> type[Backend]:
    """The backend class for *url*'s scheme.

    Raises:
        BackendNotInstalled: no backend provides the scheme; the message names
            the package to install.
    """
    scheme = scheme_of(url)
    backend = _registered.get(scheme)
    if backend is not None:
        return backend
    for entry in entry_points(group=ENTRY_POINT_GROUP, name=scheme):
        try:
            loaded = entry.load()
        except ImportError as exc:
            raise BackendNotInstalled(
                f"the backend for {scheme}:// could not be imported ({exc}); "
                f"install {_INSTALL_HINTS.get(scheme, 'its package')!r}"
            ) from exc
        _registered[scheme] = loaded
        return loaded  # type: ignore[no-any-return]
    instead = _USE_INSTEAD.get(scheme)
    if instead is not None:
        package = _INSTALL_HINTS[instead]
        raise BackendNotInstalled(
            f"no repokit backend for URL scheme {scheme!r}: use {instead}:// instead "
            f"(installed with {package!r})"
        )
    hint = _INSTALL_HINTS.get(scheme)
    advice = (
        f"install {hint!r} (pip install '{hint}')" if hint else "install a backend that provides it"
    )
    raise BackendNotInstalled(f"no repokit backend for URL scheme {scheme!r}: {advice}")
