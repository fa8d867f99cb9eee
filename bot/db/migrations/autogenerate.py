"""What `alembic revision --autogenerate` compares (env.py) and the tests' check that the metadata and the
revisions agree (tests/unit/test_alembic.py): one set of options for both."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.operations import ops


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """The legacy scripts' counter table (PostgreSQL) is no part of the schema."""
    return not (type_ == "table" and name == "schema_version")


def _identity_only(op: Any) -> bool:
    """An alter of nothing but an id's Identity(): SQLite has none to reflect (its rowid numbers the key)."""
    return (isinstance(op, ops.AlterColumnOp) and isinstance(op.modify_server_default, sa.Identity)
            and op.modify_type is None and op.modify_nullable is None and op.modify_name is None)


def drop_sqlite_identities(context: Any, _revision: Any, directives: list[Any]) -> None:
    """process_revision_directives: on SQLite, the identity alters it cannot have taken out (above)."""
    if context.dialect.name != "sqlite":
        return
    for script in directives:
        for upgrade in script.upgrade_ops_list:
            for table_ops in [o for o in upgrade.ops if isinstance(o, ops.ModifyTableOps)]:
                table_ops.ops = [o for o in table_ops.ops if not _identity_only(o)]
            upgrade.ops = [o for o in upgrade.ops if not (isinstance(o, ops.ModifyTableOps) and not o.ops)]


def options(dialect: str) -> dict[str, Any]:
    """The autogenerate options of a MigrationContext / context.configure on `dialect`."""
    return {"render_as_batch": dialect == "sqlite", "compare_type": True, "compare_server_default": True,
            "include_name": include_name, "process_revision_directives": drop_sqlite_identities}
