"""Database layer: SQLAlchemy models, queries and alembic migrations."""

# NOTE: the volume models live in their query module; importing it here puts
# them on models.Base.metadata whatever a caller imported first.
from novalite.db import volumes as _volumes  # noqa: F401,E402
