"""The data layer on SQLAlchemy Core: the schema as `Table` metadata (bot/db/schema.py, the one place it is
declared), and how Core statements run on the store's own connection and transactions (bot/db/engine.py),
with what differs between the backends said where it is used (bot/db/dialects.py) and unique conflicts
told by the key's name (bot/db/conflicts.py).

The store migrates with Alembic (bot/db/migrations/: revisions frozen from it, never importing it); tests prove
the two describe the same database on SQLite and PostgreSQL (tests/unit/test_schema_metadata.py,
tests/unit/test_alembic.py: autogenerate finds nothing to do). The repositories points, users, ranking and
quizzes are written in Core; the others still in SQL strings (bot/dialect.py)."""
