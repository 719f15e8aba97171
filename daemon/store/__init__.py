"""The daemon's store: SQLAlchemy 2 over SQLite (WAL) by default or PostgreSQL, schema by Alembic."""

from daemon.store.db import Base, Store

__all__ = ["Base", "Store"]
