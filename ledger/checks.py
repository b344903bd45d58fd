"""``yingdu check --deploy``: the application's database role cannot switch the log's triggers off.

A superuser, or the owner of a table, can disable its triggers (``ALTER TABLE … DISABLE
TRIGGER``) and rewrite the append-only tables; production runs the application under a role
that is neither (docs/security.md). Only PostgreSQL has roles; elsewhere nothing is checked.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import DatabaseError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext as _

_LOG_TABLES = ("ledger_entry", "ledger_checkpoint", "ledger_auditevent", "ledger_rowseal", "ledger_tile")


@register(Tags.security, deploy=True)
def database_role(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return role_warnings(connection)


def role_warnings(database: BaseDatabaseWrapper) -> list[CheckMessage]:
    """What the role ``database`` connects as could do to the log's tables (nothing to say where
    the database has no roles)."""
    if database.vendor != "postgresql":
        return []
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
            cursor.execute(
                "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) AND pg_has_role(c.relowner, 'USAGE')",
                [list(_LOG_TABLES)],
            )
            owned = sorted(name for (name,) in cursor.fetchall())
    except DatabaseError:
        return []  # no database yet: nothing to say about its roles
    found: list[CheckMessage] = []
    if row is not None and row[0]:
        found.append(
            Warning(
                _("应用使用的数据库角色是超级用户，可以关闭日志表的只追加触发器"),
                hint=_("为应用另建一个非超级用户、不拥有数据表的角色（见 docs/security.md）"),
                id="ledger.W001",
            )
        )
    if owned:
        found.append(
            Warning(
                _("应用使用的数据库角色拥有日志表 %(tables)s，可以关闭其触发器")
                % {"tables": "、".join(owned)},
                hint=_("由另一个角色执行迁移并拥有数据表，应用角色只授予读写权限（见 docs/security.md）"),
                id="ledger.W002",
            )
        )
    return found
