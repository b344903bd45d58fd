import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The inbox message and the text message records, formerly the review app's, in the state of
    ``core``; their tables (``review_notification``, ``review_smsmessage``) stay where they are."""

    dependencies = [
        ("applications", "0008_works_and_offers"),
        ("review", "0010_notification_sms_to_core"),
        ("yingdu", "0002_outbox_email"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SmsMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("submission_receipt", "受理回执"),
                                    ("supplement_notice", "补正告知"),
                                    ("approval", "审批通过"),
                                    ("rejection", "未通过"),
                                    ("payment", "补贴已兑现"),
                                    ("resubmitted", "企业已补正"),
                                    ("reminder", "办理期限提醒"),
                                    ("data_notice", "核查数据告知"),
                                    ("objection", "企业异议"),
                                    ("finding_decision", "核查结论"),
                                    ("clawback", "补贴追回"),
                                    ("blacklist", "列入黑名单"),
                                    ("registration", "企业注册"),
                                    ("verification", "企业核验结果"),
                                    ("rating_request", "办件评价邀请"),
                                    ("rating_follow_up", "差评回访"),
                                    ("follow_up_reply", "差评回访答复"),
                                    ("offer", "补助推送"),
                                    ("offer_reminder", "补助申报提醒"),
                                    ("offer_expired", "补助推送已过期"),
                                ],
                                max_length=30,
                                verbose_name="模板",
                            ),
                        ),
                        ("phone_masked", models.CharField(max_length=20, verbose_name="手机号（脱敏）")),
                        ("text", models.CharField(max_length=70, verbose_name="内容")),
                        (
                            "status",
                            models.CharField(
                                choices=[("queued", "待发送"), ("sent", "已发送"), ("failed", "发送失败")],
                                default="queued",
                                max_length=10,
                                verbose_name="状态",
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="尝试次数")),
                        (
                            "last_error",
                            models.CharField(blank=True, max_length=200, verbose_name="最近一次错误"),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                        ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="发送时间")),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="接收人",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "短信",
                        "verbose_name_plural": "短信",
                        "db_table": "review_smsmessage",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("submission_receipt", "受理回执"),
                                    ("supplement_notice", "补正告知"),
                                    ("approval", "审批通过"),
                                    ("rejection", "未通过"),
                                    ("payment", "补贴已兑现"),
                                    ("resubmitted", "企业已补正"),
                                    ("reminder", "办理期限提醒"),
                                    ("data_notice", "核查数据告知"),
                                    ("objection", "企业异议"),
                                    ("finding_decision", "核查结论"),
                                    ("clawback", "补贴追回"),
                                    ("blacklist", "列入黑名单"),
                                    ("registration", "企业注册"),
                                    ("verification", "企业核验结果"),
                                    ("rating_request", "办件评价邀请"),
                                    ("rating_follow_up", "差评回访"),
                                    ("follow_up_reply", "差评回访答复"),
                                    ("offer", "补助推送"),
                                    ("offer_reminder", "补助申报提醒"),
                                    ("offer_expired", "补助推送已过期"),
                                ],
                                max_length=24,
                                verbose_name="类别",
                            ),
                        ),
                        ("title", models.CharField(max_length=200, verbose_name="标题")),
                        ("body", models.TextField(verbose_name="内容")),
                        ("link", models.CharField(blank=True, max_length=200, verbose_name="链接")),
                        ("read_at", models.DateTimeField(blank=True, null=True, verbose_name="阅读时间")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="时间")),
                        (
                            "application",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="applications.application",
                                verbose_name="申请",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="接收人",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "站内消息",
                        "verbose_name_plural": "站内消息",
                        "db_table": "review_notification",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["user", "read_at"], name="review_notification_unread")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
