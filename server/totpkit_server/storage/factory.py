"""The store a configuration names: SQLite by default, PostgreSQL for a ``postgresql://`` URL.

SQLite, the default, comes with the ``server`` extra and is imported with this module; the
PostgreSQL backend is imported only when chosen, so SQLite users need no PostgreSQL driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Store
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from ..config import TOTPKitConfig

__all__ = ("create_store",)


def create_store(config: TOTPKitConfig) -> Store:
    """A new, not yet opened store for ``config.database_url``.

    ``None`` or ``sqlite:///path`` gives a :class:`~.sqlite.SQLiteStore`; ``postgresql://...`` or
    ``postgres://...`` a :class:`~.postgres.PostgresStore` with the configured pool sizes (it needs
    the ``postgres`` extra: ``pip install 'totpkit[server,postgres]'``).
    """
    if config.uses_postgres:
        from .postgres import PostgresStore

        assert config.database_url is not None  # uses_postgres implies it  # noqa: S101
        return PostgresStore(
            config.database_url, min_size=config.database_pool_min_size, max_size=config.database_pool_max_size
        )
    return SQLiteStore(config.sqlite_path)
