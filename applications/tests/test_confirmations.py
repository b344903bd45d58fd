"""Withdrawing (with a required reason) and deleting a draft happen only after a confirmation page."""

from __future__ import annotations

import time_machine
from django.core.files.storage import default_storage
from django.urls import reverse

from applications import actions
from applications.models import Application, Material, MaterialKind
from applications.states import Status
from applications.tests.factories import NOW, checked, make_draft, make_submittable
from ledger.models import AuditEvent
from testing.fixtures import BaseTestCase, pdf_bytes


@time_machine.travel(NOW, tick=False)
class WithdrawalTests(BaseTestCase):
    def setUp(self) -> None:
        self.login(self.alice)

    def submitted(self) -> Application:
        application = make_submittable(self.alice)
        return actions.submit_application(application, actor=self.alice)

    def test_it_withdraws_only_after_the_confirmation_with_a_chosen_reason(self) -> None:
        application = self.submitted()
        url = reverse("applications:withdraw", args=[application.pk])
        page = self.client.get(url)
        self.assertContains(page, "撤回后本申请不再办理")
        self.assertContains(page, '<label for="id_reason_choice_1">项目取消</label>', html=True)
        self.assertContains(page, "其他（请说明）")
        # The old one-click form (a POST without the confirmation) only shows the page again.
        self.client.post(url, {"reason": "随便"})
        missing = self.client.post(url, {"confirmed": "1"})
        self.assertContains(missing, "这个字段是必填项", status_code=400)
        other = self.client.post(url, {"confirmed": "1", "reason_choice": "other", "reason_text": " "})
        self.assertContains(other, "选择“其他”时请说明原因", status_code=400)
        application.refresh_from_db()
        self.assertEqual(application.status, Status.SUBMITTED)
        response = self.client.post(url, {"confirmed": "1", "reason_choice": "project_cancelled"})
        self.assertRedirects(response, reverse("applications:detail", args=[application.pk]))
        application.refresh_from_db()
        self.assertEqual(application.status, Status.WITHDRAWN)
        event = AuditEvent.objects.get(action="application.withdraw", object_id=str(application.pk))
        self.assertEqual((event.after or {})["opinion"], "项目取消")
        timeline = self.client.get(reverse("applications:detail", args=[application.pk]))
        self.assertContains(timeline, "项目取消")

    def test_it_stores_the_text_given_for_another_reason(self) -> None:
        application = self.submitted()
        url = reverse("applications:withdraw", args=[application.pk])
        self.client.post(url, {"confirmed": "1", "reason_choice": "other", "reason_text": "合作方退出"})
        event = AuditEvent.objects.get(action="application.withdraw", object_id=str(application.pk))
        self.assertEqual((event.after or {})["opinion"], "合作方退出")

    def test_the_action_refuses_a_withdrawal_without_a_reason(self) -> None:
        application = self.submitted()
        with self.assertRaisesMessage(actions.ActionRefused, "请填写撤回原因"):
            actions.withdraw_application(application, actor=self.alice, reason="  ")
        application.refresh_from_db()
        self.assertEqual(application.status, Status.SUBMITTED)


@time_machine.travel(NOW, tick=False)
class DraftDeletionTests(BaseTestCase):
    def setUp(self) -> None:
        self.login(self.alice)

    def test_it_deletes_a_draft_never_submitted_with_its_files_only_after_confirming(self) -> None:
        draft = make_draft(self.alice)
        actions.add_material(
            draft, MaterialKind.BUSINESS_LICENSE, checked("执照.pdf", pdf_bytes()), actor=self.alice
        )
        path = str(Material.objects.get(application=draft).file.name)
        self.assertTrue(default_storage.exists(path))
        detail = self.client.get(reverse("applications:detail", args=[draft.pk]))
        self.assertContains(detail, 'id="delete-link"')
        self.assertNotContains(detail, 'id="withdraw-link"')
        url = reverse("applications:delete", args=[draft.pk])
        self.assertContains(self.client.get(url), "已上传的 1 份材料将被永久删除")
        self.client.post(url)  # no confirmation: nothing happens
        self.assertTrue(Application.objects.filter(pk=draft.pk).exists())
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, {"confirmed": "1"})
        self.assertRedirects(response, reverse("applications:list"))
        self.assertFalse(Application.objects.filter(pk=draft.pk).exists())
        self.assertFalse(default_storage.exists(path))
        event = AuditEvent.objects.get(action="application.delete_draft", object_id=str(draft.pk))
        self.assertEqual((event.before or {})["materials"][0]["name"], "执照.pdf")

    def test_a_withdrawn_draft_can_be_deleted_but_a_submitted_application_cannot(self) -> None:
        draft = make_draft(self.alice)
        actions.withdraw_application(draft, actor=self.alice, reason="重复创建")
        self.client.post(reverse("applications:delete", args=[draft.pk]), {"confirmed": "1"})
        self.assertFalse(Application.objects.filter(pk=draft.pk).exists())
        submitted = actions.submit_application(make_submittable(self.alice), actor=self.alice)
        response = self.client.post(reverse("applications:delete", args=[submitted.pk]), {"confirmed": "1"})
        self.assertRedirects(response, reverse("applications:detail", args=[submitted.pk]))
        self.assertTrue(Application.objects.filter(pk=submitted.pk).exists())
        self.client.logout()
        self.login(self.bob)
        self.assertEqual(self.client.get(reverse("applications:delete", args=[submitted.pk])).status_code, 404)
