"""Refuse changes to log entries and checkpoints in the database itself.

PostgreSQL refuses UPDATE and DELETE for every client; SQLite refuses UPDATE (a DELETE
trigger would break the test runner's table flush; the models refuse deletes).
"""

from django.db import migrations

TABLES = ("ledger_entry", "ledger_checkpoint")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_log_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_log_change();"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only;")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_refuse_log_change();")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_log_tiles_checkpoints")]
    operations = [migrations.RunPython(forwards, backwards)]
