from django.db import migrations


class Migration(migrations.Migration):
    """The inbox message and the text message records now belong to ``core`` (app label ``yingdu``),
    the notifications module of every app; their tables stay where they are."""

    dependencies = [
        ("review", "0009_annual_grant_to_applications"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="smsmessage", name="user"),
                migrations.DeleteModel(name="Notification"),
                migrations.DeleteModel(name="SmsMessage"),
            ],
            database_operations=[],
        ),
    ]
