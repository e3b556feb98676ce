"""Login through the organization's identity provider: Keycloak or any OpenID Connect provider
(SPEC §6, §8).

social-auth-app-django runs the authorization-code flow (with PKCE) and verifies the ID token:
signature with the provider's JWKS, issuer, audience, expiry, issue time and nonce. This module
adds the product's rules as pipeline steps (``SOCIAL_AUTH_PIPELINE`` in settings):

1. a returning user is found by the provider's stable subject (``social_user``, library);
2. else, only when ``email_verified`` is true, by email (``user_by_verified_email``), never
   an account whose address is unconfirmed here;
3. else a new user is created with the email and name of the claims (``user_create``);
4. email and name follow the claims on every login (``user_refresh``), and the email is the
   account's primary address, verified when the provider says ``email_verified``
   (``email_record``, ``main.accounts.account_email_record``);
5. the ``organization`` claim attaches and detaches the learner: the B2B app's own step
   (``b2b.sso_pipeline.contracts_sync``); a refusal (a full contract) is shown to the learner.

SSO is on when settings name a provider (``OIDC_DISCOVERY_URL``, or ``KEYCLOAK_SERVER_URL`` and
``KEYCLOAK_REALM``) and a client (``KEYCLOAK_CLIENT_ID``); otherwise the site keeps Django's own
login and shows nothing about SSO.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from social_core.backends.open_id_connect import OpenIdConnectAuth

from main.accounts import account_email_record, person_name

log = logging.getLogger(__name__)

BACKEND_PATH = "main.sso.SSOBackend"


class SSOBackend(OpenIdConnectAuth):
    """The organization login: OpenID Connect against ``SOCIAL_AUTH_SSO_OIDC_ENDPOINT``."""

    name = "sso"
    title = "Your organization"


def sso_enabled() -> bool:
    """Whether the organization login is configured (and its backend installed)."""
    return BACKEND_PATH in settings.AUTHENTICATION_BACKENDS and bool(
        settings.SOCIAL_AUTH_SSO_OIDC_ENDPOINT and settings.SOCIAL_AUTH_SSO_KEY
    )


def claims_of(backend: Any, response: dict[str, Any]) -> dict[str, Any]:
    """The login's claims: the userinfo response, overridden by the verified ID token's."""
    return {**(response or {}), **(getattr(backend, "id_token", None) or {})}


def user_by_verified_email(
    backend: Any, details: dict[str, Any], response: dict[str, Any], user: Any = None, **_: Any
) -> dict[str, Any] | None:
    """A user not found by subject is matched by email, only when the provider says the email
    is verified (``email_verified`` is true), exactly one user has it (case-insensitive), no
    staff or superuser account has it, and that user owns it here too: the address is verified
    on the account, or the account has no address records at all (made by an operator, not by
    a sign-up). An unconfirmed sign-up is never matched: anyone can sign up with an address
    they cannot read, and matching it would hand the provider's verification, and the SSO
    learner's contracts, to whoever chose that account's password (``is_new`` learner instead).
    """
    if user is not None:
        return None
    claims = claims_of(backend, response)
    email = (claims.get("email") or "").strip()
    if not email or claims.get("email_verified") is not True:
        return None
    users = get_user_model().objects.filter(email__iexact=email)
    # Never a staff or superuser account: an email the provider vouches for must not open the
    # admin sites (link such an account by its subject instead, in the Django Admin).
    if users.filter(Q(is_staff=True) | Q(is_superuser=True)).exists():
        log.warning(
            "SSO: the email %s belongs to a staff account, which is never matched by email: "
            "a new learner account is created",
            email,
        )
        return None
    found = list(users[:2])
    if len(found) != 1:
        if found:
            log.warning("SSO: several users have the email %s: a new user is created", email)
        return None
    addresses = EmailAddress.objects.filter(user=found[0])
    if addresses.exists() and not addresses.filter(email__iexact=email, verified=True).exists():
        log.warning(
            "SSO: the email %s is unconfirmed on user %s, which is never matched by it: "
            "a new learner account is created",
            email,
            found[0].pk,
        )
        return None
    return {"user": found[0], "is_new": False}


def _name(claims: dict[str, Any]) -> str:
    """The claims' ``name``, else ``given_name family_name``, as ``person_name`` keeps it (no
    control or format character: the provider's text reaches operators' terminals and mail)."""
    name = person_name(str(claims.get("name") or ""))
    if not name:
        name = person_name(f"{claims.get('given_name') or ''} {claims.get('family_name') or ''}")
    return name


def user_create(
    backend: Any, response: dict[str, Any], uid: str, user: Any = None, **_: Any
) -> dict[str, Any] | None:
    """A new user for a login matched by neither subject nor verified email: email and name
    from the claims; the username is ``sso-<subject>`` (unique per provider subject)."""
    if user is not None:
        return None
    claims = claims_of(backend, response)
    model = get_user_model()
    username = f"sso-{uid}"[:150]
    suffix = 1
    while model.objects.filter(username=username).exists():
        suffix += 1
        username = f"sso-{uid}"[: 150 - len(str(suffix)) - 1] + f"-{suffix}"
    created = model.objects.create_user(
        username=username, email=(claims.get("email") or "").strip(), name=_name(claims)
    )
    return {"user": created, "is_new": True}


def user_refresh(backend: Any, response: dict[str, Any], user: Any, **_: Any) -> None:
    """Email and name follow the provider's claims on every login (when they are given)."""
    claims = claims_of(backend, response)
    email, name = (claims.get("email") or "").strip(), _name(claims)
    changed = []
    if email and user.email != email:
        user.email = email
        changed.append("email")
    if name and user.name != name:
        user.name = name
        changed.append("name")
    if changed:
        user.save(update_fields=changed)


def email_record(backend: Any, response: dict[str, Any], user: Any, **_: Any) -> None:
    """The claims' email becomes the account's primary address; verified when the provider
    says ``email_verified`` is true (an unverified claim never unverifies an address)."""
    claims = claims_of(backend, response)
    account_email_record(
        user, (claims.get("email") or "").strip(), verified=claims.get("email_verified") is True
    )
