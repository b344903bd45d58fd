"""A real OpenID provider for the tests: a second Django project with django-oauth-toolkit.

``serve.py`` runs it in a subprocess on 127.0.0.1 (a free port it reports on stdout). Its
users and their extra claims come from the ``IDP_USERS`` environment variable (JSON). The
``/test/mode/`` endpoint makes the provider misbehave on purpose (a forged, expired,
wrong-nonce or foreign-issuer ID token) so the platform's refusals are tested against real
tokens, not a mock of the client.
"""
