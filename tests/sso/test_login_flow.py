"""SSO login against a real OpenID provider over HTTP (issue 7's cases, SPEC §6)."""

import pytest

from b2b.models import ContractMembership
from tests.sso.conftest import ACME_ID, BETA_ID, login, new_sub, set_user

pytestmark = pytest.mark.django_db


def sources(user):
    return dict(
        ContractMembership.objects.filter(user=user).values_list("contract__name", "source")
    )


def test_map_claim_with_two_organizations_attaches_to_their_free_sso_contracts(sso, world):
    sub = new_sub()
    set_user(sso, sub, email="ada@acme.example", email_verified=True, name="Ada Lovelace",
             organization={"acme": {"id": ACME_ID}, "beta": {"id": BETA_ID}})
    result = login(sso, sub)
    assert (result.response.status_code, result.location) == (302, "/dashboard/")
    user = result.client.get("/api/v0/me/").wsgi_request.user
    assert (user.email, user.name, user.username) == ("ada@acme.example", "Ada Lovelace",
                                                       f"sso-{sub}")
    assert sources(user) == {"Acme SSO": "sso", "Beta SSO": "sso"}
