"""The data layer's schema as SQLAlchemy Core metadata (bot/db/schema.py), the one place it is declared.

Nothing at run time reads it yet: the store still migrates with bot/migrations.py, and a test
(tests/unit/test_schema_metadata.py) proves the two describe the same database on SQLite and PostgreSQL."""
