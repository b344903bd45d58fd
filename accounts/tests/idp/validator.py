"""Extra claims of the test provider's users: the enterprise's USCC, legal representative, amr."""

from __future__ import annotations

import json
import os
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


def user_claims() -> dict[str, dict[str, Any]]:
    return {u["username"]: u.get("claims", {}) for u in json.loads(os.environ.get("IDP_USERS", "[]"))}


class Validator(OAuth2Validator):  # type: ignore[misc]  # the toolkit ships no type hints
    # Every claim of the user goes into the ID token, whatever the scope.
    oidc_claim_scope = None

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        claims = dict(user_claims().get(request.user.username, {}))
        claims.setdefault("preferred_username", request.user.username)
        return claims
