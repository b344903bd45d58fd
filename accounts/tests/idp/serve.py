"""Run the test OpenID provider: ``python -m accounts.tests.idp.serve``.

Creates its SQLite database, its users (``IDP_USERS``) and the platform's client
(``IDP_CLIENT_ID``/``IDP_CLIENT_SECRET``, redirect URIs ``IDP_REDIRECT_URIS``), binds
127.0.0.1 on a free port and prints ``READY <port>``; serves until terminated.
"""

from __future__ import annotations

import json
import os
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "accounts.tests.idp.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    for spec in json.loads(os.environ.get("IDP_USERS", "[]")):
        User.objects.create_user(username=spec["username"], password=spec["password"])
    Application.objects.create(
        name="影都算力补助平台",
        client_id=os.environ["IDP_CLIENT_ID"],
        client_secret=os.environ["IDP_CLIENT_SECRET"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=os.environ["IDP_REDIRECT_URIS"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    server = make_server(
        "127.0.0.1", 0, get_wsgi_application(), server_class=_Server, handler_class=_QuietHandler
    )
    print(f"READY {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
