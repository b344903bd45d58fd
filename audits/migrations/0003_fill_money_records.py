"""Fill the applications' money records from the payments and clawbacks recorded so far.

Before this, a clawback took the whole award out of the annual total whatever its amount; the
annual totals are recomputed as what each enterprise keeps (granted less clawed back).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import migrations
from django.db.models import F

BEIJING = ZoneInfo("Asia/Shanghai")


def fill(apps: Any, schema_editor: Any) -> None:
    application = apps.get_model("applications", "Application")
    payment = apps.get_model("review", "Payment")
    clawback = apps.get_model("audits", "Clawback")
    annual_grant = apps.get_model("review", "AnnualGrant")
    for pay in payment.objects.all():
        application.objects.filter(pk=pay.application_id).update(paid_amount=pay.amount)
    for claw in clawback.objects.all():
        application.objects.filter(pk=claw.application_id).update(
            clawed_back_amount=claw.amount, repaid_amount=claw.repaid
        )
    application.objects.filter(status="clawed_back", clawed_back_amount__lt=F("paid_amount")).update(
        status="partially_clawed_back"
    )
    kept: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for app in application.objects.filter(granted_amount__isnull=False, submitted_at__isnull=False):
        year = app.submitted_at.astimezone(BEIJING).year
        kept[(app.enterprise_id, year)] += app.granted_amount - app.clawed_back_amount
    for grant in annual_grant.objects.all():
        grant.total = kept.get((grant.enterprise_id, grant.year), Decimal("0"))
        grant.save(update_fields=["total"])


def unfill(apps: Any, schema_editor: Any) -> None:
    application = apps.get_model("applications", "Application")
    application.objects.filter(status="partially_clawed_back").update(status="clawed_back")


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0002_clawback_write_off"),
        ("review", "0004_partially_clawed_back_state"),
    ]

    operations = [migrations.RunPython(fill, unfill)]
