"""Database layer: SQLAlchemy models, queries and alembic migrations."""
