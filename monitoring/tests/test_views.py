"""The provider portal and the staff providers page: access control, tokens shown once, approval."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.roles import Role
from agent.signing import public_key_b64
from enterprises.models import Provider
from ledger.models import AuditEvent
from monitoring.actions import authenticate_token, issue_token
from monitoring.ingest import record_usage_batch
from monitoring.models import ApiToken, Node
from monitoring.tests.factories import hourly, make_node, signed
from testing.fixtures import PASSWORD, BaseTestCase, make_user


class PortalTests(BaseTestCase):
    node: Node
    key: Ed25519PrivateKey
    other_provider: Provider
    other_node: Node
    other_token: ApiToken
    sysadmin: User

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.node, cls.key = make_node(cls.provider)
        cls.other_provider = Provider.objects.create(name="其他算力公司", status=Provider.Status.APPROVED)
        cls.other_node, _key = make_node(cls.other_provider, "other-secret-node")
        cls.other_token, _raw = issue_token(cls.other_provider, actor=None)
        cls.sysadmin = make_user("sys", Role.SYSADMIN)

    def test_a_provider_sees_its_nodes_batches_and_rejections_but_not_other_providers(self) -> None:
        record_usage_batch(
            self.provider,
            [*hourly(self.key, 2), {**signed(self.key, gpu="GPU-z"), "gpu_seconds": 1}],
            actor_repr="t",
        )
        self.login(self.provider_user)
        response = self.client.get("/monitoring/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, self.node.public_key)
        self.assertContains(response, "签名无效")
        self.assertNotContains(response, "other-secret-node")

    def test_people_without_the_provider_role_get_403(self) -> None:
        for user in (self.alice, self.reviewer, self.outsider):
            self.login(user)
            with self.subTest(user=user.username):
                self.assertEqual(self.client.get("/monitoring/").status_code, 403)
                self.assertEqual(self.client.post("/monitoring/tokens/create/").status_code, 403)
        self.client.logout()
        self.assertEqual(self.client.get("/monitoring/").status_code, 302)

    def test_a_new_token_is_shown_once_and_works(self) -> None:
        self.login(self.provider_user)
        response = self.client.post("/monitoring/tokens/create/", {"name": "机房A"})
        self.assertEqual(response.status_code, 200)
        raw = response.context["new_token"]
        self.assertContains(response, raw)
        self.assertEqual(response["Cache-Control"], "no-store")
        token = authenticate_token(raw)
        assert token is not None
        self.assertEqual((token.provider, token.name), (self.provider, "机房A"))
        self.assertNotContains(self.client.get("/monitoring/"), raw)

    def test_a_token_is_revoked_and_another_providers_token_is_out_of_reach(self) -> None:
        token, raw = issue_token(self.provider, actor=None)
        self.login(self.provider_user)
        self.assertEqual(
            self.client.post(f"/monitoring/tokens/{self.other_token.pk}/revoke/").status_code, 404
        )
        self.assertIsNone(ApiToken.objects.get(pk=self.other_token.pk).revoked_at)
        self.client.post(f"/monitoring/tokens/{token.pk}/revoke/")
        self.assertIsNone(authenticate_token(raw))

    def test_a_node_is_registered_from_the_portal_and_a_bad_key_is_explained(self) -> None:
        self.login(self.provider_user)
        bad = self.client.post("/monitoring/nodes/add/", {"node_id": "hz-gpu-002", "public_key": "abc"})
        self.assertEqual(bad.status_code, 400)
        self.assertContains(bad, "公钥须为32字节Ed25519公钥的Base64编码", status_code=400)
        key = public_key_b64(Ed25519PrivateKey.generate())
        self.client.post("/monitoring/nodes/add/", {"node_id": "hz-gpu-002", "public_key": key})
        self.assertEqual(Node.objects.get(node_id="hz-gpu-002").provider, self.provider)
        self.assertEqual(self.client.post(f"/monitoring/nodes/{self.other_node.pk}/toggle/").status_code, 404)

    def test_inspectors_and_sysadmins_see_all_providers_others_get_403(self) -> None:
        for user in (self.inspector, self.sysadmin):
            self.login(user)
            response = self.client.get("/monitoring/providers/")
            self.assertContains(response, "其他算力公司")
            self.assertEqual(
                self.client.get(f"/monitoring/providers/{self.other_provider.pk}/").status_code, 200
            )
        for user in (self.provider_user, self.reviewer, self.alice):
            self.login(user)
            self.assertEqual(self.client.get("/monitoring/providers/").status_code, 403)
            self.assertEqual(
                self.client.post(
                    f"/monitoring/providers/{self.provider.pk}/status/", {"status": "suspended"}
                ).status_code,
                403,
            )

    def test_the_providers_list_costs_the_same_queries_for_more_providers(self) -> None:
        self.login(self.inspector)
        self.client.get("/monitoring/providers/")
        with CaptureQueriesContext(connection) as few:
            self.client.get("/monitoring/providers/")
        for n in range(5):
            make_node(Provider.objects.create(name=f"算力{n}"), f"n-{n}")
        with CaptureQueriesContext(connection) as many:
            self.client.get("/monitoring/providers/")
        self.assertEqual(len(few), len(many))


class RegistrationTests(BaseTestCase):
    def test_a_registered_provider_waits_for_approval_before_it_may_report(self) -> None:
        response = self.client.post(
            "/monitoring/register/",
            {
                "name": "怀柔云算科技有限公司",
                "uscc": "91110116MA01ABCD11",
                "contact_name": "赵六",
                "contact_phone": "13800138000",
                "contact_email": "zhao@example.cn",
                "username": "zhao",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )
        self.assertRedirects(response, "/monitoring/")
        provider = Provider.objects.get(name="怀柔云算科技有限公司")
        self.assertEqual(provider.status, Provider.Status.PENDING)
        self.assertTrue(provider.users.get().has_role(Role.PROVIDER))
        node, key = make_node(provider, "yun-1")
        _token, raw = issue_token(provider, actor=None)
        batch = {"records": [signed(key, node_id="yun-1")]}
        def post() -> Any:
            return self.client.post(
                "/api/v1/usage/batches",
                batch,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )

        self.assertEqual(post().status_code, 403)

        self.login(self.inspector)
        self.client.post(f"/monitoring/providers/{provider.pk}/status/", {"status": "approved"})
        provider.refresh_from_db()
        self.assertEqual(provider.status, Provider.Status.APPROVED)
        self.assertTrue(AuditEvent.objects.filter(action="provider.status", actor=self.inspector).exists())
        self.assertEqual(post().json()["results"][0]["status"], "accepted")
