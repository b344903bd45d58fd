"""The money of applications: the sums of their money records, and the one record of the annual cap.

What an enterprise keeps of its awards of a calendar year (granted less clawed back, 三（三）) is
read and written here alone (docs/subsidy.md#annual-cap):

- **read**: :func:`kept_total` and :func:`enterprise_year_money` sum the applications' money
  records (``Application.granted_amount`` and the rest) of the enterprise's applications
  *submitted* in the year (Beijing time), the year whose cap they count against;
- **written**: :func:`grant` (final approval) and :func:`release` (a clawback) move the
  enterprise-year record :class:`~applications.models.AnnualGrant`, whose check constraint
  (total ≤ cap) is the database's own guarantee that no path grants past the cap. Its total is
  always the sum :func:`kept_total` reads (the money invariants test both after every step).

Lock order. Every action that changes what an enterprise keeps locks, in this order and only
through :func:`lock_money_rows`: **the application row, then the enterprise row**; the
enterprise-year record is written last, while both are held. Approval (review) locks the
application first as every review action does and then calls :func:`lock_money_rows`; a
clawback (audits) calls it to lock both. One order, so an approval and a clawback of one
enterprise wait for each other and never deadlock; the enterprise lock makes the approvals and
clawbacks of one enterprise run one after another, each seeing the totals the others committed.
A repayment or a write-off, which changes the application's money record but not what the
enterprise keeps, locks its receivable (audits' own row) first and then takes the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from applications.models import AnnualGrant, Application
from enterprises.models import Enterprise
from ledger.rows import seal
from policy.queries import POLICY_TZ, year_bounds

# The sums of the applications' money records (``Application.paid_amount`` and the rest): the
# one definition every figure of quota, budget and reports is read through.
MONEY_FIELDS = {
    "granted": "granted_amount",
    "paid": "paid_amount",
    "clawed_back": "clawed_back_amount",
    "repaid": "repaid_amount",
    "written_off": "written_off_amount",
}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Money:
    """Money figures summed over applications' money records.

    kept = granted − clawed back (what counts against the annual cap, 三（三）);
    outstanding = clawed back − repaid − written off (the open receivable, 五 4).
    """

    granted: Decimal = ZERO
    paid: Decimal = ZERO
    clawed_back: Decimal = ZERO
    repaid: Decimal = ZERO
    written_off: Decimal = ZERO

    @property
    def kept(self) -> Decimal:
        return self.granted - self.clawed_back

    @property
    def outstanding(self) -> Decimal:
        return self.clawed_back - self.repaid - self.written_off

    def as_dict(self) -> dict[str, Decimal]:
        return {
            **{name: getattr(self, name) for name in MONEY_FIELDS},
            "kept": self.kept,
            "outstanding": self.outstanding,
        }


def money_sums() -> dict[str, Sum]:
    """The aggregate expressions of :class:`Money`, for ``.aggregate()`` or ``.annotate()``."""
    return {name: Sum(column) for name, column in MONEY_FIELDS.items()}


def money_of(row: Mapping[str, Any]) -> Money:
    """A :class:`Money` from the result of ``money_sums()`` (``None`` sums are zero)."""
    return Money(**{name: (row.get(name) or ZERO).quantize(Decimal("0.01")) for name in MONEY_FIELDS})


def grant_year(application: Application) -> int | None:
    """The calendar year (Beijing time) whose annual cap the application counts against: its
    submission year; ``None`` before it is submitted."""
    if application.submitted_at is None:
        return None
    return application.submitted_at.astimezone(POLICY_TZ).year


def enterprise_year_money(
    enterprise_id: int, year: int, *, exclude_application_id: int | None = None
) -> Money:
    """The enterprise-year money record: the sums over the enterprise's applications *submitted* in
    ``year`` (Beijing time), the year whose annual cap they count against (三（三）)."""
    start, end = year_bounds(year)
    qs = Application.objects.filter(
        enterprise_id=enterprise_id,
        submitted_at__gte=start,
        submitted_at__lt=end,
        granted_amount__isnull=False,
    )
    if exclude_application_id is not None:
        qs = qs.exclude(pk=exclude_application_id)
    return money_of(qs.aggregate(**money_sums()))


def kept_total(enterprise_id: int, year: int, *, exclude_application_id: int | None = None) -> Decimal:
    """What the enterprise keeps of its awards of a calendar year, for the annual cap (三（三）).

    Granted less clawed back, over the enterprise's applications submitted in ``year`` and,
    when given, without the application being decided. An application without a granted
    amount (not yet finally approved) counts nothing; a partial clawback frees only its part.
    """
    return enterprise_year_money(enterprise_id, year, exclude_application_id=exclude_application_id).kept


def annual_kept(*, enterprise_id: int, year: int) -> Decimal:
    """:func:`kept_total` as the answer to ``hooks.ANNUAL_KEPT`` (the public calculator asks it)."""
    return kept_total(enterprise_id, year)


def year_record(enterprise_id: int, year: int) -> AnnualGrant | None:
    """The enterprise-year record, if an approval has written one (the cap it was granted under)."""
    return AnnualGrant.objects.filter(enterprise_id=enterprise_id, year=year).first()


# --- writing: the lock order, approval and clawback ------------------------------------------


class CapExceeded(Exception):
    """The database refused a grant past the annual cap (the record's check constraint)."""


def lock_money_rows(application_id: int) -> tuple[Application, Enterprise]:
    """Lock the rows a change of what an enterprise keeps needs, in the one order: the application,
    then its enterprise (the enterprise-year record is written afterwards, under both).

    Inside the caller's transaction. An action that has already locked the application (every
    review action does) calls this next: locking a row the transaction holds returns at once.
    """
    assert transaction.get_connection().in_atomic_block, "locks are taken inside the action's transaction"
    application = Application.objects.select_for_update(of=("self",)).get(pk=application_id)
    enterprise = Enterprise.objects.select_for_update().get(pk=application.enterprise_id)
    return application, enterprise


def grant(enterprise: Enterprise, year: int, amount: Decimal, *, cap: Decimal, kept: Decimal) -> Decimal:
    """Final approval: add ``amount`` to the enterprise's record of ``year`` and return the new total.

    Called with the rows locked by :func:`lock_money_rows`; ``kept`` is what the enterprise
    keeps of the year without this award (the first approval of a year starts the record from
    it). Raises :class:`CapExceeded` when the total would pass ``cap``: the record's check
    constraint refuses it even if a caller forgot the enterprise lock.
    """
    record, _created = AnnualGrant.objects.get_or_create(
        enterprise=enterprise, year=year, defaults={"total": kept, "cap": cap}
    )
    try:
        with transaction.atomic():
            # F(): the database adds to the committed total, never to a stale value read here.
            AnnualGrant.objects.filter(pk=record.pk).update(total=F("total") + amount, cap=cap)
            seal(AnnualGrant, [record.pk])
    except IntegrityError as exc:
        raise CapExceeded from exc
    record.refresh_from_db(fields=["total"])
    return record.total


def release(application: Application, amount: Decimal | None = None) -> None:
    """Take ``amount`` (the whole award when not given) out of the enterprise's record of the
    application's year, so only what the enterprise keeps counts against its cap.

    Called by :func:`claw_back` with the rows locked by :func:`lock_money_rows`.
    """
    year = grant_year(application)
    if application.granted_amount is None or year is None:
        return
    released = application.granted_amount if amount is None else amount
    records = AnnualGrant.objects.filter(enterprise_id=application.enterprise_id, year=year)
    records.update(total=F("total") - released)
    seal(AnnualGrant, records.values_list("pk", flat=True))


def claw_back(application: Application, amount: Decimal, *, status: str) -> None:
    """A clawback of ``amount`` from a paid application: its money record (the clawed-back amount,
    with the ``status`` the clawback takes it to) and the enterprise-year record, which frees
    that much of the year's cap, written together.

    ``application`` is the instance :func:`lock_money_rows` returned, in the clawback's
    transaction; the audits action checks the transition and the amount.
    """
    release(application, amount)
    application.status = status
    application.clawed_back_amount = amount
    application.save(update_fields=["status", "clawed_back_amount", "updated_at"])


def add_repayment(application: Application, amount: Decimal) -> None:
    """A repayment received against the application's clawback: its money record's repaid sum.
    What the enterprise keeps is unchanged (the clawed-back amount stays clawed back)."""
    application.repaid_amount += amount
    application.save(update_fields=["repaid_amount", "updated_at"])


def add_write_off(application: Application, amount: Decimal) -> None:
    """A write-off of what is outstanding on the application's clawback: its money record's
    written-off sum. What the enterprise keeps is unchanged."""
    application.written_off_amount += amount
    application.save(update_fields=["written_off_amount", "updated_at"])
