"""Shared test helpers: named personas (STYLE.md) built once per test class."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from applications.actions import PREFILLED_FROM_ENTERPRISE
from applications.models import Application
from applications.states import Status
from enterprises.models import Enterprise, Provider
from policy.loader import params_at
from policy.rules import calculate_subsidy

PASSWORD = "Yd-test-Passw0rd!"  # noqa: S105 - test fixture

# Valid 统一社会信用代码 for fixtures (GB 32100 check digits verified by stdnum).
USCC_A = "91110116MA01ABCD11"
USCC_B = "91110105MA7ABCDE1B"
USCC_C = "91110116755623456M"


def valid_uscc(seed: int) -> str:
    """A valid USCC built from a number, for tests that need many enterprises."""
    from stdnum.cn import uscc

    body = f"9111011{seed:010d}"[:17]
    return body + uscc.calc_check_digit(body)


_application_numbers = itertools.count(1)


def uscc_for(name: str) -> str:
    """A valid USCC derived from ``name``: the same in every run (``hash()`` changes with the seed)."""
    return valid_uscc(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 10**9)


def make_user(username: str, *roles: str, **fields: Any) -> User:
    """A user with roles. The first applicant of an enterprise is its legal representative
    (法定代表人, every right); later ones are handlers who need a delegation."""
    user = User.objects.create_user(username=username, password=PASSWORD, **fields)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    enterprise = fields.get("enterprise")
    if Role.APPLICANT in roles and enterprise is not None and enterprise.legal_representative_id is None:
        enterprise.legal_representative = user
        enterprise.save(update_fields=["legal_representative"])
    return user


def make_enterprise(
    name: str = "北京影都智造文化传媒有限公司", uscc: str | None = None, **fields: Any
) -> Enterprise:
    defaults: dict[str, Any] = {
        "registered_address": "北京市怀柔区杨宋镇凤翔科技开发区",
        "operating_address": "北京市怀柔区杨宋镇影都大道1号",
        "legal_rep_name": "张三",
        "legal_rep_phone": "+8613800138000",
        "handler_name": "李四",
        "handler_phone": "+8613900139000",
        "handler_email": "lisi@example.cn",
        "status": Enterprise.Status.VERIFIED,
    }
    defaults.update(fields)
    return Enterprise.objects.create(name=name, uscc=uscc or uscc_for(name), **defaults)


def make_application(
    enterprise: Enterprise,
    created_by: User,
    status: Status = Status.SUBMITTED,
    *,
    submitted: dt.datetime | None = None,
    cost: str = "50000.00",
    minutes: int = 100,
    overseas: bool = False,
    **fields: Any,
) -> Application:
    """A complete application of ``enterprise`` in ``status``, submitted at ``submitted`` (now): every
    row of the form filled (rows 1–9 from the enterprise), the amount computed by the policy in force.

    ``fields`` override any column; a given ``requested_amount`` or ``reference`` is kept as given.
    The one builder of applications for every app's tests.
    """
    n = next(_application_numbers)
    submitted = submitted or timezone.now()
    day = timezone.localdate(submitted)
    result = None if "requested_amount" in fields else calculate_subsidy(
        total_compute_cost=Decimal(cost),
        work_minutes=minutes,
        overseas=overseas,
        granted_this_year=Decimal("0"),
        params=params_at(day),
    )
    values: dict[str, Any] = {
        "enterprise": enterprise,
        "created_by": created_by,
        "status": status,
        **{field: getattr(enterprise, source) for field, source in PREFILLED_FROM_ENTERPRISE.items()},
        "work_title": f"短剧《云端之城》第{n}部",
        "filing_number": f"京剧备字2026-{n:04d}",
        "work_minutes": minutes,
        "platform_name": "红果短剧",
        "launch_date": day - dt.timedelta(days=5),
        "launch_proof_number": "无",
        "overseas": overseas,
        "provider_name": "怀柔智算中心",
        "compute_minutes": minutes,
        "total_compute_cost": Decimal(cost),
        "requested_amount": result.amount if result else None,
        "calculation": result.as_dict() if result else None,
        "policy_version": result.policy_version if result else "",
        "declaration_accepted": True,
        "signer_name": enterprise.legal_rep_name,
        "submitted_at": None if status == Status.DRAFT else submitted,
        "received_date": None if status == Status.DRAFT else day,
    }
    if overseas:
        values.update(
            overseas_region="东南亚",
            overseas_agreement_number="HW-2026-01",
            overseas_platform="ReelShort",
            overseas_launch_date=day - dt.timedelta(days=3),
        )
    values.update(fields)
    app = Application.objects.create(**values)
    if status != Status.DRAFT and "reference" not in fields:
        app.reference = f"YD{day.year}-{app.pk:06d}"
        app.save(update_fields=["reference"])
    return app


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes(text: str = "test") -> bytes:
    """A tiny valid PDF made with pikepdf."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def signed_pdf(
    content: bytes | None = None,
    *,
    signer: str = "星河影业电子签章",
    organization: str = "北京星河影业有限公司",
    trusted: bool = True,
) -> bytes:
    """A PDF signed (PAdES, no timestamp) by a certificate issued by the development CA, or,
    when not ``trusted``, by a CA of its own that no trust list names."""
    from core.signing import dev_ca, issue_certificate, new_key, sign_pdf, signer_for

    if trusted:
        ca_cert, ca_key = dev_ca()
    else:
        ca_key = new_key()
        ca_cert = issue_certificate(common_name="Unknown Root", organization=organization, key=ca_key, ca=True)
    key = new_key()
    cert = issue_certificate(
        common_name=signer, organization=organization, key=key, issuer_cert=ca_cert, issuer_key=ca_key
    )
    return sign_pdf(content or pdf_bytes(), signer=signer_for(cert, key, (ca_cert,)))


def pades_status(content: bytes) -> Any:
    """pyHanko's own verdict on the document's one signature (a PAdES one), against the trust
    list (the development CA in tests)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from core.signing import trust_roots

    (signature,) = PdfFileReader(io.BytesIO(content), strict=False).embedded_signatures
    assert signature.sig_object["/SubFilter"] == SigSeedSubFilter.PADES.value
    context = ValidationContext(trust_roots=trust_roots(), allow_fetching=False, revocation_mode="soft-fail")
    return validate_pdf_signature(signature, context, context)


def altered(content: bytes) -> bytes:
    """``content`` with one byte inside the signed range changed (the page's size, still a valid PDF)."""
    at = content.index(b"/MediaBox") + 3
    return content[:at] + (b"x" if content[at : at + 1] != b"x" else b"y") + content[at + 1 :]


def ofd_bytes(*, sealed: bool = True) -> bytes:
    """A minimal OFD package (a zip with OFD.xml), with a seal's files when ``sealed``."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody></ofd:OFD>')
        archive.writestr("Doc_0/Document.xml", "<ofd:Document xmlns:ofd=\"http://www.ofdspec.org/2016\"/>")
        if sealed:
            archive.writestr("Doc_0/Signs/Signatures.xml", "<ofd:Signatures xmlns:ofd=\"http://www.ofdspec.org/2016\"/>")
            archive.writestr("Doc_0/Signs/Sign_0/SignedValue.dat", b"\x30\x03\x02\x01\x01")
    return out.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


class BaseTestCase(TestCase):
    """Personas: an applicant of enterprise A (alice) and of B (bob), the three review levels,
    finance, an inspector, a provider user and an outsider with no role."""

    enterprise: Enterprise
    other_enterprise: Enterprise
    provider: Provider
    alice: User
    bob: User
    reviewer: User
    head: User
    approver: User
    finance: User
    inspector: User
    provider_user: User
    outsider: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.enterprise = make_enterprise("北京影都智造文化传媒有限公司", USCC_A)
        cls.other_enterprise = make_enterprise("怀柔星河短剧科技有限公司", USCC_B)
        cls.provider = Provider.objects.create(name="怀柔智算中心", status=Provider.Status.APPROVED)
        cls.alice = make_user(
            "alice", Role.APPLICANT, enterprise=cls.enterprise, display_name="李四", email="alice@example.cn"
        )
        cls.bob = make_user(
            "bob",
            Role.APPLICANT,
            enterprise=cls.other_enterprise,
            display_name="王五",
            email="bob@example.cn",
        )
        cls.reviewer = make_user("reviewer", Role.REVIEWER, display_name="初审员")
        cls.head = make_user("head", Role.HEAD, display_name="主管领导")
        cls.approver = make_user("approver", Role.APPROVER, display_name="审批负责人")
        cls.finance = make_user("finance", Role.FINANCE, display_name="财务")
        cls.inspector = make_user("inspector", Role.INSPECTOR, display_name="稽查员")
        cls.provider_user = make_user("provider", Role.PROVIDER, provider=cls.provider)
        cls.outsider = make_user("outsider")

    def login(self, user: User) -> None:
        self.client.force_login(user)


# --- hostile files, built small in the test that needs them --------------------------------------

XLSX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
XLSX_SHARED_STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def handmade_xlsx(sheet_data: str, *, dimension: str | None = "A1", shared_strings: Any = None) -> bytes:
    """A minimal workbook written part by part, so a test can make it lie or bloat.

    ``shared_strings`` is ``None`` or an iterable of byte chunks written (streamed) as the
    content of one ``<si><t>`` element, so a huge string never sits in memory.
    """
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        types = XLSX_CONTENT_TYPES
        if shared_strings is not None:
            types = types.replace("</Types>", XLSX_SHARED_STRINGS_TYPE + "</Types>")
        archive.writestr("[Content_Types].xml", types)
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        rels = f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        if shared_strings is not None:
            rels += f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        archive.writestr(
            "xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{_PKG_REL}">{rels}</Relationships>'
        )
        dim = f'<dimension ref="{dimension}"/>' if dimension else ""
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{_MAIN}">{dim}<sheetData>{sheet_data}</sheetData></worksheet>',
        )
        if shared_strings is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                part.write(f'<sst xmlns="{_MAIN}" count="1" uniqueCount="1"><si><t>'.encode())
                for chunk in shared_strings:
                    part.write(chunk)
                part.write(b"</t></si></sst>")
    return out.getvalue()


def assert_bounded(work: Any, *, seconds: float = 2.0, megabytes: float = 100.0) -> Any:
    """Run ``work()`` twice and return its result (or re-raise its exception): once for wall
    time and the growth of the process's peak resident memory (C allocations of Pillow,
    zlib, libxml included), once under tracemalloc for the peak of Python allocations.
    Two runs, because tracemalloc slows Python code several times over."""
    import resource
    import time
    import tracemalloc

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    outcome: Any
    try:
        outcome = work()
    except Exception as exc:
        outcome = exc
    elapsed = time.perf_counter() - start
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    tracemalloc.start()
    with contextlib.suppress(Exception):  # the first run's outcome is the one reported
        work()
    python_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert rss_mb < megabytes, f"resident memory grew {rss_mb:.0f} MB"
    assert python_mb < megabytes, f"allocated {python_mb:.0f} MB"
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
