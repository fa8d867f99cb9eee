"""The data layer's schema as SQLAlchemy Core metadata (bot/db/schema.py), the one place it is declared.

The store migrates with Alembic (bot/db/migrations/: revisions frozen from it, never importing it); tests prove
the two describe the same database on SQLite and PostgreSQL (tests/unit/test_schema_metadata.py,
tests/unit/test_alembic.py: autogenerate finds nothing to do)."""
