"""The enterprise-year record of the annual cap belongs to the applications app.

State only: the table ``review_annualgrant`` stays where it is, with its rows, constraints and
the log's sealed entries of them; review's migration 0009 lets go of it in the same move.
"""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("applications", "0008_works_and_offers"),
        ("enterprises", "0004_licence_signature"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AnnualGrant",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("year", models.PositiveSmallIntegerField(verbose_name="年度")),
                        ("total", models.DecimalField(decimal_places=2, default=Decimal("0"), max_digits=12, verbose_name="已核定总额（元）")),
                        ("cap", models.DecimalField(decimal_places=2, max_digits=12, verbose_name="年度上限（元）")),
                        ("updated_at", models.DateTimeField(auto_now=True, verbose_name="更新时间")),
                        ("enterprise", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="annual_grants", to="enterprises.enterprise", verbose_name="企业")),
                    ],
                    options={
                        "verbose_name": "企业年度补助总额",
                        "verbose_name_plural": "企业年度补助总额",
                        "db_table": "review_annualgrant",
                        "constraints": [
                            models.UniqueConstraint(fields=("enterprise", "year"), name="unique_annual_grant"),
                            models.CheckConstraint(condition=models.Q(("total__lte", models.F("cap"))), name="annual_grant_within_cap"),
                            models.CheckConstraint(condition=models.Q(("total__gte", Decimal("0"))), name="annual_grant_not_negative"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
