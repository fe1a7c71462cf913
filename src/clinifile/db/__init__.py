"""Database: models, one repository module per entity, Alembic migrations."""
