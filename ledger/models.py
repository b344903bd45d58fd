from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:  # the stubs make fields generic; at run time they are plain classes
    BigIntegerField = models.BigIntegerField[int, int]
else:
    BigIntegerField = models.BigIntegerField


_M = TypeVar("_M", bound=models.Model)


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete a row of an append-only table."""


class AppendOnlyQuerySet(models.QuerySet[_M]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    """One audited event (等保 2.0 安全审计): who did what to which object, when, from where.

    Rows are never updated or deleted by the application: the queryset and the model
    refuse it, and on PostgreSQL a trigger refuses it for any client using the app role.
    Each event is also appended to the tamper-evident ledger (``ledger.actions``).
    """

    class Result(models.TextChoices):
        SUCCESS = "success", _("成功")
        FAILURE = "failure", _("失败")

    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.PROTECT
    )
    actor_repr = models.CharField(_("操作人标识"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=80, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=80, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=80, blank=True, db_index=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)
    result = models.CharField(_("结果"), max_length=10, choices=Result.choices, default=Result.SUCCESS)
    ip = models.GenericIPAddressField(_("IP地址"), null=True, blank=True)
    enterprise_id_ref = models.BigIntegerField(_("相关企业"), null=True, blank=True, db_index=True)
    leaf_index = models.BigIntegerField(_("日志叶序号"), null=True, blank=True, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_repr} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")


class LeafIndexField(BigIntegerField):
    """A 64-bit integer primary key that SQLite stores as its rowid.

    SQLite only aliases the rowid for a column declared exactly ``integer``; a ``bigint``
    primary key gets a second index and halves the append rate.
    """

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)


class LogState(models.Model):
    """The one row that describes the log: its hash, size and root, and the writers' lock.

    Every append locks this row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write
    transaction serialises on its own), so two application servers can never fork the tree.
    """

    class HashAlg(models.TextChoices):
        SHA256 = "sha256", "SHA-256"
        SM3 = "sm3", "SM3"

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    log_id = models.CharField(_("日志标识"), max_length=32, unique=True)
    origin = models.CharField(_("日志来源名"), max_length=200)
    hash_alg = models.CharField(_("哈希算法"), max_length=10, choices=HashAlg.choices)
    size = models.BigIntegerField(_("条目数"), default=0)
    root_hash = models.BinaryField(_("根哈希"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("日志状态")
        verbose_name_plural = _("日志状态")

    def __str__(self) -> str:
        return f"{self.origin} ({self.hash_alg}, {self.size})"


class Entry(models.Model):
    """One leaf of the log: the exact bytes that were hashed, never changed or deleted.

    ``enterprise_id``/``provider_id`` say whom the entry concerns, so scoping the entry API
    is one primary-key read; they are plain numbers, not foreign keys, because the log
    outlives the rows it mentions. Leaf hashes live in the tiles (``Tile``), not here.
    """

    leaf_index = LeafIndexField(_("叶序号"), primary_key=True)
    kind = models.CharField(_("类型"), max_length=32)
    data = models.BinaryField(_("内容"))
    enterprise_id = models.BigIntegerField(_("相关企业"), null=True, blank=True)
    provider_id = models.BigIntegerField(_("相关算力提供方"), null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("日志条目")
        verbose_name_plural = _("日志条目")
        indexes = [
            # Only audit entries are indexed, so usage records append without index upkeep
            # while verification finds the audit entries of a range without a scan.
            models.Index(
                fields=["leaf_index"], condition=models.Q(kind="audit_event"), name="ledger_entry_audit_idx"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.leaf_index} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger entries are append-only")


class Tile(models.Model):
    """A C2SP tile: up to 256 concatenated node hashes of height 8·level, followed by the
    tile's inner nodes of heights 4..7 (layout in ``ledger.tiles``).

    Full tiles never change; the partial tile at the right edge of each level grows with
    each append until it is full. ``key`` is ``level << 48 | index``.
    """

    key = models.BigIntegerField(primary_key=True)
    level = models.PositiveSmallIntegerField(_("层"))
    index = models.BigIntegerField(_("序号"))
    hashes = models.BinaryField(_("哈希"))

    class Meta:
        verbose_name = _("哈希瓦片")
        verbose_name_plural = _("哈希瓦片")

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index}"


class Checkpoint(models.Model):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) for one tree size."""

    tree_size = models.BigIntegerField(_("树大小"))
    root_hash = models.BinaryField(_("根哈希"))
    note = models.TextField(_("签名检查点"))
    key_hash = models.CharField(_("密钥哈希"), max_length=8)
    created_at = models.DateTimeField(_("签署时间"), default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("检查点")
        verbose_name_plural = _("检查点")
        ordering = ["-tree_size"]
        constraints = [
            models.UniqueConstraint(fields=["key_hash", "tree_size"], name="ledger_checkpoint_key_size")
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("checkpoints are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("checkpoints are append-only")


class VerificationRun(models.Model):
    """The result of one full verification (``yingdu ledger verify`` or the inspector page)."""

    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    tree_size = models.BigIntegerField(_("树大小"), default=0)
    root_hash = models.BinaryField(_("根哈希"), default=b"")
    checkpoints_checked = models.IntegerField(_("核对的检查点数"), default=0)
    ok = models.BooleanField(_("通过"), default=False)
    first_bad_index = models.BigIntegerField(_("首个异常序号"), null=True, blank=True)
    problems = models.JSONField(_("问题"), default=list, blank=True)
    actor_repr = models.CharField(_("发起人"), max_length=150, blank=True)
    # A full run on PostgreSQL that kept every leaf its row checks named: the xmin of the snapshot it
    # started from, under an HMAC of the site's key (``ledger.unchanged``). Empty otherwise.
    snapshot_xmin = models.BigIntegerField(_("快照起点事务号"), null=True, blank=True)
    rows_named = models.JSONField(_("记录行问题所在序号"), default=list, blank=True)
    mark = models.CharField(_("校验标记"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("校验记录")
        verbose_name_plural = _("校验记录")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {'OK' if self.ok else 'FAIL'}"


class WitnessPolicy(models.Model):
    """The one row holding the witness policy (C2SP tlog-policy: witness, group and quorum lines).

    The ``log`` line is not stored: it is the platform's current checkpoint key
    (``ledger.witnessing.policy_text``).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    text = models.TextField(_("见证策略"))
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("见证策略")
        verbose_name_plural = _("见证策略")

    def __str__(self) -> str:
        return f"witness policy ({self.updated_at:%Y-%m-%d %H:%M})"


class Witness(models.Model):
    """A witness that cosigns the log's checkpoints (C2SP tlog-witness), and what the platform knows of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("尚未联系")
        OK = "ok", _("正常副署")
        DOWN = "down", _("无法连接")
        REFUSED = "refused", _("拒绝副署")
        SPLIT_VIEW = "split_view", _("发现日志分叉")

    name = models.CharField(_("名称"), max_length=200, unique=True)
    verifier_key = models.CharField(_("验证公钥"), max_length=400)
    url = models.CharField(_("提交地址"), max_length=500)
    in_policy = models.BooleanField(_("列入当前策略"), default=True)
    known_size = models.BigIntegerField(_("见证方已副署的大小"), default=0)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PENDING)
    detail = models.CharField(_("说明"), max_length=500, blank=True)
    checked_at = models.DateTimeField(_("最近联系时间"), null=True, blank=True)
    alarm_size = models.BigIntegerField(_("告警时的日志大小"), null=True, blank=True)
    alarm_at = models.DateTimeField(_("告警时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("见证方")
        verbose_name_plural = _("见证方")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Cosignature(models.Model):
    """A witness's cosignature/v1 on one checkpoint: the signature line as the witness sent it."""

    checkpoint = models.ForeignKey(
        Checkpoint, verbose_name=_("检查点"), on_delete=models.PROTECT, related_name="cosignatures"
    )
    witness = models.ForeignKey(Witness, verbose_name=_("见证方"), on_delete=models.PROTECT)
    line = models.TextField(_("副署行"))
    cosigned_at = models.DateTimeField(_("副署时间"))
    created_at = models.DateTimeField(_("收到时间"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("见证副署")
        verbose_name_plural = _("见证副署")
        ordering = ["checkpoint", "witness"]
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "witness"], name="ledger_cosignature_once")
        ]

    def __str__(self) -> str:
        return f"{self.witness_id} on checkpoint {self.checkpoint_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("cosignatures are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("cosignatures are append-only")


class RowSeal(models.Model):
    """The canonical text of a covered row as one ``row_state`` entry logged it (``ledger.rows``).

    One row per entry, never changed: the latest seal of a row is the one with the highest
    leaf index. ``canon`` is NULL when the entry logged the row's deletion.
    """

    leaf_index = models.BigIntegerField(_("日志叶序号"), primary_key=True)
    tbl = models.CharField(_("数据表"), max_length=63)
    row_id = models.BigIntegerField(_("记录编号"))
    canon = models.TextField(_("规范文本"), null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("行状态记录")
        verbose_name_plural = _("行状态记录")
        indexes = [models.Index(fields=["tbl", "row_id", "leaf_index"], name="ledger_rowseal_row_idx")]

    def __str__(self) -> str:
        return f"#{self.leaf_index} {self.tbl} {self.row_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("row seals are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("row seals are append-only")
