"""Database access shared by the services: engine/session factories and the ORM models."""

from phi_platform.db.session import create_engine, create_sessionmaker

__all__ = ["create_engine", "create_sessionmaker"]
