"""Roles of docs/states.md and the separation-of-duties rules between them (三权分立).

Roles are Django groups named by their code. The rules here are pure so that the
model guard, the admin form and the tests share one definition.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    APPLICANT = "applicant", _("企业经办人")
    REVIEWER = "reviewer", _("初审人员")
    HEAD = "head", _("部门主管领导")
    APPROVER = "approver", _("审批负责人")
    FINANCE = "finance", _("财务")
    INSPECTOR = "inspector", _("监管稽查")
    PROVIDER = "provider", _("算力提供方")
    SYSADMIN = "sysadmin", _("系统管理员")
    SECADMIN = "secadmin", _("安全管理员")
    AUDITADMIN = "auditadmin", _("审计管理员")


ADMIN_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITADMIN})
STAFF_ROLES = frozenset({Role.REVIEWER, Role.HEAD, Role.APPROVER, Role.FINANCE, Role.INSPECTOR})
EXTERNAL_ROLES = frozenset({Role.APPLICANT, Role.PROVIDER})

# Model permissions granted to each role's group: (app_label, codename).
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    Role.APPLICANT: [("enterprises", "view_enterprise")],
    Role.REVIEWER: [("enterprises", "view_enterprise"), ("enterprises", "verify_enterprise")],
    Role.HEAD: [("enterprises", "view_enterprise")],
    Role.APPROVER: [("enterprises", "view_enterprise")],
    Role.FINANCE: [("enterprises", "view_enterprise")],
    Role.INSPECTOR: [("enterprises", "view_enterprise"), ("ledger", "view_auditevent")],
    Role.PROVIDER: [],
    Role.SYSADMIN: [("accounts", "view_user"), ("accounts", "add_user"), ("accounts", "change_user")],
    Role.SECADMIN: [("accounts", "view_user"), ("accounts", "assign_roles")],
    Role.AUDITADMIN: [("ledger", "view_auditevent")],
}


def role_conflicts(codes: Iterable[str]) -> list[str]:
    """Chinese messages for every rule a set of roles breaks; empty when the set is allowed.

    - the three administrator roles exclude each other (三权分立);
    - an administrator holds no business role;
    - staff never act as applicants or providers (docs/states.md).
    """
    roles = {Role(code) for code in codes}
    errors: list[str] = []
    admins = roles & ADMIN_ROLES
    if len(admins) > 1:
        names = "、".join(str(Role(r).label) for r in sorted(admins))
        errors.append(
            str(_("系统、安全、审计管理员三种角色互斥，不能同时担任：%(names)s")) % {"names": names}
        )
    if admins and roles - ADMIN_ROLES:
        errors.append(str(_("管理员角色不能与业务角色同时担任")))
    if roles & STAFF_ROLES and roles & EXTERNAL_ROLES:
        errors.append(str(_("区文促中心工作人员不能同时作为企业或算力提供方账号")))
    if Role.APPLICANT in roles and Role.PROVIDER in roles:
        errors.append(str(_("企业经办人与算力提供方账号须分开")))
    return errors


# Pairs of business roles one account may not hold (docs/security.md#separation-of-duties): any two
# of the three review levels would put two of the form's three signatures (初审、复审、审批) in one
# hand, and approving a subsidy and registering its payment are kept apart.
CONFLICTING_DUTIES: tuple[tuple[str, str], ...] = (
    (Role.REVIEWER, Role.HEAD),
    (Role.HEAD, Role.APPROVER),
    (Role.REVIEWER, Role.APPROVER),
    (Role.APPROVER, Role.FINANCE),
)


def duty_conflicts(codes: Iterable[str]) -> list[str]:
    """Chinese messages for every pair of conflicting business duties in ``codes``; the role
    console refuses them (the review itself also requires three different people per case)."""
    roles = {Role(code) for code in codes}
    errors = []
    for first, second in CONFLICTING_DUTIES:
        if first in roles and second in roles:
            errors.append(
                str(
                    _(
                        "同一账号不能同时担任%(first)s和%(second)s：三级审核须由三名不同人员办理，"
                        "审批与兑现须分开（职责分离）"
                    )
                )
                % {"first": Role(first).label, "second": Role(second).label}
            )
    return errors
