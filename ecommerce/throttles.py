"""How often a learner may try enrollment codes (SPEC §5): per learner and per address.

The cart page (``/cart/code/``) and the API (``POST /api/v0/basket/code/``) call
``code_attempt_check`` before applying a code, so both count the same attempts against the same
limits. Each limit is a Django REST framework throttle (a sliding window kept in Django's cache:
Redis when ``CACHE_URL`` names one, the process's memory otherwise); its rate is a setting,
``CODE_ATTEMPTS_PER_LEARNER`` and ``CODE_ATTEMPTS_PER_ADDRESS`` (``"<n>/<second|minute|hour|day>"``,
empty for no limit).
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from main.exceptions import TooManyAttempts
from main.security import client_ip


class _CodeAttempts(SimpleRateThrottle):
    """A DRF throttle whose rate is read from a Django setting when it is made."""

    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting, None) or None


class CodeAttemptsPerLearner(_CodeAttempts):
    """Code attempts by one learner (whatever the address)."""

    scope = "code-attempts-learner"
    setting = "CODE_ATTEMPTS_PER_LEARNER"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class CodeAttemptsPerAddress(_CodeAttempts):
    """Code attempts from one address (whoever the learners): ``main.security.client_ip``."""

    scope = "code-attempts-address"
    setting = "CODE_ATTEMPTS_PER_ADDRESS"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


def code_attempt_check(request: Any) -> None:
    """Count one code attempt by ``request``'s learner from its address; ``TooManyAttempts``
    (code ``too-many-attempts``, ``retry_after`` in whole seconds) when either limit is reached.
    A refused attempt is not counted."""
    for throttle in (CodeAttemptsPerLearner(), CodeAttemptsPerAddress()):
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]  # the view is unused
            seconds = max(1, math.ceil(throttle.wait() or 1))
            raise TooManyAttempts(
                f"Too many attempts to apply a code: wait {seconds} second"
                f"{'s' if seconds != 1 else ''}, then try again.",
                retry_after=seconds,
            )
