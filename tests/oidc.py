"""A real OpenID provider for the SSO tests: ``oidc-provider-mock`` over HTTP on loopback, and
the product configured to use it (SPEC §6, issue 7)."""

import os
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from b2b.models import ContractPage, OrganizationPage
from tests.factories import ContractFactory, ContractRunFactory, OrganizationFactory

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the provider speaks plain HTTP here

CLIENT_ID = "b2b-contracts"
CLIENT_SECRET = "b2b-contracts-secret"


@pytest.fixture(scope="session")
def oidc_provider():
    """The provider's base URL (``http://localhost:<port>``), serving for the whole session."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def sso(settings, oidc_provider):
    """The product pointed at the provider through ``OIDC_DISCOVERY_URL``'s settings."""
    from social_core.backends import utils

    settings.AUTHENTICATION_BACKENDS = [
        "main.security.LoginThrottleBackend",
        "main.sso.SSOBackend",
        "allauth.account.auth_backends.AuthenticationBackend",
    ]
    settings.SOCIAL_AUTH_SSO_OIDC_ENDPOINT = oidc_provider
    settings.SOCIAL_AUTH_SSO_KEY = CLIENT_ID
    settings.SOCIAL_AUTH_SSO_SECRET = CLIENT_SECRET
    utils.BACKENDSCACHE.clear()
    yield oidc_provider
    utils.BACKENDSCACHE.clear()


def set_user(provider: str, sub: str, **claims) -> None:
    """``PUT /users/<sub>``: the claims the provider returns for that subject."""
    response = requests.put(f"{provider}/users/{sub}", json=claims, timeout=10)
    assert response.status_code == 204, response.text


@dataclass
class Login:
    client: Client
    response: object  # the app's answer to the callback

    @property
    def location(self) -> str:
        return self.response["Location"]


def login_begin(client: Client, provider: str, sub: str) -> str:
    """Start at the app's login view, consent at the provider as ``sub``; returns the app's
    callback path with the code and the state."""
    begin = client.post("/login/sso/")
    assert begin.status_code == 302
    authorize = begin["Location"]
    assert authorize.startswith(f"{provider}/oauth2/authorize?")
    params = parse_qs(urlsplit(authorize).query)
    assert sorted(params["scope"][0].split()) == ["email", "openid", "organization:*", "profile"]
    assert "nonce" in params and "code_challenge" in params
    consent = requests.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    callback = urlsplit(consent.headers["Location"])
    assert callback.path == "/complete/sso/"
    return f"{callback.path}?{callback.query}"


def login(provider: str, sub: str, client: Client | None = None) -> Login:
    """The whole authorization-code flow through the app's login views."""
    client = client or Client()
    callback = login_begin(client, provider, sub)
    return Login(client, client.get(callback))


@dataclass
class World:
    acme: OrganizationPage
    beta: OrganizationPage
    acme_free: ContractPage
    acme_codes: ContractPage
    acme_priced: ContractPage
    beta_free: ContractPage


ACME_ID = "3f1c6a52-8a7e-4c0b-9d2e-0a4b5c6d7e81"
BETA_ID = "7b2d9e14-1c3f-4a5b-8e6d-2f3a4b5c6d92"


@pytest.fixture
def world(wagtail_site, catalog):
    """Two organizations with SSO ids; Acme has a free SSO contract (with a course), a code
    contract and a priced SSO contract; Beta a free SSO contract."""
    acme = OrganizationFactory(name="Acme", org_key="ACME", sso_organization_id=ACME_ID)
    acme_free = ContractFactory(organization=acme, name="Acme SSO", sso=True)
    ContractRunFactory(b2b_contract=acme_free, course=catalog.data)
    acme_codes = ContractFactory(organization=acme, name="Acme codes")
    acme_priced = ContractFactory(
        organization=acme, name="Acme priced", sso=True, enrollment_fixed_price="100"
    )
    beta = OrganizationFactory(name="Beta", org_key="BETA", sso_organization_id=BETA_ID)
    beta_free = ContractFactory(organization=beta, name="Beta SSO", sso=True)
    return World(acme, beta, acme_free, acme_codes, acme_priced, beta_free)


def new_sub() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"
