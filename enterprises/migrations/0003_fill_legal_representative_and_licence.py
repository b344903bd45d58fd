"""Existing enterprises: the first applicant account (the registrant) becomes the legal
representative, and the licence uploaded at registration becomes version 1."""

from django.db import migrations


def forwards(apps, schema_editor):
    Enterprise = apps.get_model("enterprises", "Enterprise")
    LicenceVersion = apps.get_model("enterprises", "LicenceVersion")
    User = apps.get_model("accounts", "User")
    for enterprise in Enterprise.objects.all().iterator():
        first = User.objects.filter(enterprise_id=enterprise.pk).order_by("id").first()
        if enterprise.legal_representative_id is None and first is not None:
            enterprise.legal_representative_id = first.pk
            enterprise.save(update_fields=["legal_representative"])
        if enterprise.license_file and not LicenceVersion.objects.filter(enterprise_id=enterprise.pk).exists():
            status = {"verified": "verified", "rejected": "rejected"}.get(enterprise.status, "pending")
            LicenceVersion.objects.create(
                enterprise_id=enterprise.pk,
                version=1,
                file=enterprise.license_file.name,
                sha256=enterprise.license_sha256,
                mime=enterprise.license_mime,
                original_name=enterprise.license_name,
                status=status,
                uploaded_by_id=first.pk if first is not None else None,
                uploaded_at=enterprise.created_at,
                verified_by_id=enterprise.verified_by_id if status != "pending" else None,
                verified_at=enterprise.verified_at if status != "pending" else None,
            )


def backwards(apps, schema_editor):
    apps.get_model("enterprises", "LicenceVersion").objects.all().delete()
    apps.get_model("enterprises", "Enterprise").objects.update(legal_representative=None)


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0002_delegation_and_licence_versions"),
        ("accounts", "0002_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
