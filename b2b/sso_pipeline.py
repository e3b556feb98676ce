"""The organization login's B2B step: the ``organization`` claim attaches and detaches the learner
(SPEC §6, §8).

A step of social-auth's pipeline (``SOCIAL_AUTH_PIPELINE`` in settings), run after the steps of
``main.sso`` have found or made the user. The rule is ``b2b.services.sso``'s; this step reads the
claim and shows each refusal (a full contract) to the learner.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages

from b2b.services.sso import ABSENT, sso_contracts_sync
from main.actors import Via, acting_as
from main.sso import claims_of


def contracts_sync(
    backend: Any, strategy: Any, response: dict[str, Any], user: Any, **_: Any
) -> None:
    """Attach and detach the learner by the ``organization`` claim (``sso_contracts_sync``); each
    refusal becomes a message on the learner's next page."""
    claims = claims_of(backend, response)
    with acting_as(Via.SSO, user=user, name="SSO login"):
        result = sso_contracts_sync(user, claims.get("organization", ABSENT))
    request = getattr(strategy, "request", None)
    if request is not None:
        for text in result.refused.values():
            messages.warning(request, text)
