"""The enterprise-year record of the annual cap moves to the applications app (its migration 0009).

State only: the table ``review_annualgrant`` and its rows stay; the applications app now holds it.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("applications", "0009_annual_grant_record"),
        ("review", "0008_payment_instructions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AnnualGrant")],
            database_operations=[],
        ),
    ]
