"""SSO login against a real OpenID provider over HTTP (issue 7's cases, SPEC §6)."""

import datetime as dt
import logging

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from b2b.models import ContractMembership, ContractPage, OrganizationPage
from b2b.services.audit import audit_history
from courses.models import CourseRun, CourseRunEnrollment
from main.accounts import email_is_verified
from main.models import User
from tests.factories import UserFactory
from tests.oidc import ACME_ID, BETA_ID, login, login_begin, new_sub, set_user

pytestmark = pytest.mark.django_db


def sources(user):
    return dict(
        ContractMembership.objects.filter(user=user).values_list("contract__name", "source")
    )


def test_map_claim_with_two_organizations_attaches_to_their_free_sso_contracts(sso, world):
    sub = new_sub()
    set_user(
        sso,
        sub,
        email="ada@acme.example",
        email_verified=True,
        name="Ada Lovelace",
        organization={"acme": {"id": ACME_ID}, "beta": {"id": BETA_ID}},
    )
    result = login(sso, sub)
    assert (result.response.status_code, result.location) == (302, "/dashboard/")
    user = result.client.get("/api/v0/me/").wsgi_request.user
    assert (user.email, user.name, user.username) == (
        "ada@acme.example",
        "Ada Lovelace",
        f"sso-{sub}",
    )
    assert sources(user) == {"Acme SSO": "sso", "Beta SSO": "sso"}


def test_list_claim_matches_aliases_by_org_key(sso, world):
    sub = new_sub()
    set_user(sso, sub, email="l@x.example", organization=["acme", "BETA"])
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert sources(user) == {"Acme SSO": "sso", "Beta SSO": "sso"}


def test_single_string_claim(sso, world):
    sub = new_sub()
    set_user(sso, sub, email="s@x.example", organization="beta")
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert sources(user) == {"Beta SSO": "sso"}


def test_map_claim_without_ids_is_matched_by_org_key(sso, world):
    sub = new_sub()
    set_user(sso, sub, email="m@x.example", organization={"acme": {}})
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert sources(user) == {"Acme SSO": "sso"}


def test_ids_win_over_aliases_and_names_never_match(sso, world):
    # The alias says "beta" but the id is Acme's: matched by id. A display name is no alias.
    sub = new_sub()
    set_user(sso, sub, email="i@x.example", organization={"beta": {"id": ACME_ID}})
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert sources(user) == {"Acme SSO": "sso"}
    other = new_sub()
    OrganizationPage.objects.filter(pk=world.beta.pk).update(name="Beta University")
    set_user(sso, other, email="n@x.example", organization="Beta University")
    user = login(sso, other).client.get("/dashboard/").wsgi_request.user
    assert sources(user) == {}


def test_unknown_organization_id_attaches_nothing(sso, world):
    sub = new_sub()
    set_user(
        sso,
        sub,
        email="u@x.example",
        organization={"ghost": {"id": "00000000-0000-4000-8000-000000000000"}},
    )
    result = login(sso, sub)
    assert result.location == "/dashboard/"
    assert ContractMembership.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"active": False},
        {"contract_end": dt.date(2020, 12, 31), "contract_start": dt.date(2020, 1, 1)},
        {"contract_start": dt.date(2099, 1, 1)},
    ],
    ids=["inactive", "expired", "future"],
)
def test_contracts_not_in_force_are_not_attached(sso, world, change):
    ContractPage.objects.filter(pk=world.acme_free.pk).update(**change)
    sub = new_sub()
    set_user(sso, sub, email="f@x.example", organization={"acme": {"id": ACME_ID}})
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert sources(user) == {}


def test_full_contract_is_refused_logged_and_shown_others_unaffected(sso, world, caplog):
    ContractPage.objects.filter(pk=world.acme_free.pk).update(max_learners=1)
    ContractMembership.objects.create(
        user=UserFactory(username="first"), contract=world.acme_free, source="manual"
    )
    sub = new_sub()
    set_user(
        sso,
        sub,
        email="full@x.example",
        organization={"acme": {"id": ACME_ID}, "beta": {"id": BETA_ID}},
    )
    with caplog.at_level(logging.WARNING, logger="b2b.services.sso"):
        result = login(sso, sub)
    dashboard = result.client.get(result.location)
    user = dashboard.wsgi_request.user
    assert sources(user) == {"Beta SSO": "sso"}
    assert ContractMembership.objects.filter(contract=world.acme_free).count() == 1
    assert [r.getMessage() for r in caplog.records if r.name == "b2b.services.sso"] == [
        f"SSO: full@x.example not attached to contract {world.acme_free.pk}: Contract "
        f"{world.acme_free.pk} ('Acme SSO') is full: 1 of its 1 learners are attached. Raise "
        "its learner cap or detach a learner first."
    ]
    assert [str(m) for m in dashboard.context["messages"]] == [
        "The contract “Acme SSO” of Acme has no seats left, so you were not added to it: "
        "contact your organization."
    ]


def test_removed_organization_detaches_only_that_learners_sso_memberships(sso, world, catalog):
    sub, other = new_sub(), new_sub()
    both = {"acme": {"id": ACME_ID}, "beta": {"id": BETA_ID}}
    set_user(sso, sub, email="r@x.example", organization=both)
    set_user(sso, other, email="o@x.example", organization=both)
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    login(sso, other)
    # This learner also holds a code membership on Acme's code contract and an enrollment.
    ContractMembership.objects.create(user=user, contract=world.acme_codes, source="code")
    run = CourseRun.objects.get(b2b_contract=world.acme_free)
    CourseRunEnrollment.objects.create(user=user, run=run)
    set_user(sso, sub, email="r@x.example", organization={"beta": {"id": BETA_ID}})
    login(sso, sub)
    assert sources(user) == {"Acme codes": "code", "Beta SSO": "sso"}
    assert CourseRunEnrollment.objects.filter(user=user, run=run, active=True).count() == 1
    other_user = ContractMembership.objects.exclude(user=user).first().user
    assert sources(other_user) == {"Acme SSO": "sso", "Beta SSO": "sso"}
    entries = audit_history(world.acme_free.pk)
    assert [
        (e.action, e.via, e.changes["learner"])
        for e in entries
        if e.action.startswith("membership")
    ] == [
        ("membership.add", "sso", {"before": None, "after": "r@x.example"}),
        ("membership.add", "sso", {"before": None, "after": "o@x.example"}),
        ("membership.remove", "sso", {"before": "r@x.example", "after": None}),
    ]
    # An empty claim detaches the remaining SSO membership, never the code one.
    set_user(sso, sub, email="r@x.example", organization=[])
    login(sso, sub)
    assert sources(user) == {"Acme codes": "code"}


def test_absent_claim_changes_nothing(sso, world, caplog):
    sub = new_sub()
    set_user(sso, sub, email="a@x.example", organization={"acme": {"id": ACME_ID}})
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    set_user(sso, sub, email="a@x.example")
    with caplog.at_level(logging.INFO, logger="b2b.services.sso"):
        login(sso, sub)
    assert sources(user) == {"Acme SSO": "sso"}
    assert [r.getMessage() for r in caplog.records if r.name == "b2b.services.sso"] == [
        "SSO: a@x.example logged in without an organization claim: memberships unchanged"
    ]


def test_returning_user_is_matched_by_subject_after_changing_email(sso, world):
    sub = new_sub()
    set_user(sso, sub, email="old@x.example", email_verified=True, name="Old Name")
    first = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    set_user(sso, sub, email="new@x.example", email_verified=True, name="New Name")
    again = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.email, again.name) == ("new@x.example", "New Name")
    assert User.objects.count() == 1


def test_the_providers_verified_email_is_recorded_as_the_accounts_verified_address(sso, world):
    verified, unverified = new_sub(), new_sub()
    set_user(sso, verified, email="Ada@Acme.example", email_verified=True)
    set_user(sso, unverified, email="bo@acme.example", email_verified=False)

    ada = login(sso, verified).client.get("/dashboard/").wsgi_request.user
    bo = login(sso, unverified).client.get("/dashboard/").wsgi_request.user

    def addresses(user):
        return list(
            EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")
        )

    assert addresses(ada) == [("ada@acme.example", True, True)]
    assert addresses(bo) == [("bo@acme.example", False, True)]
    assert email_is_verified(ada, "ada@acme.example") is True
    # The provider changes the address: the new one replaces the old, verified as it says.
    set_user(sso, verified, email="ada@new.example", email_verified=True)
    login(sso, verified)
    assert addresses(ada) == [("ada@new.example", True, True)]
    ada.refresh_from_db()
    assert ada.email == "ada@new.example"


def test_verified_email_matches_an_existing_user_unverified_does_not(sso, world):
    grace = UserFactory(username="grace", email="grace@x.example")
    hopper = UserFactory(username="hopper", email="hopper@x.example")
    verified = new_sub()
    set_user(sso, verified, email="Grace@x.example", email_verified=True)
    user = login(sso, verified).client.get("/dashboard/").wsgi_request.user
    assert user.pk == grace.pk
    unverified = new_sub()
    set_user(sso, unverified, email="hopper@x.example", email_verified=False)
    stranger = login(sso, unverified).client.get("/dashboard/").wsgi_request.user
    assert stranger.pk not in (grace.pk, hopper.pk)
    assert (stranger.username, stranger.email) == (f"sso-{unverified}", "hopper@x.example")


def test_a_verified_email_never_opens_a_staff_or_superuser_account(sso, world, caplog):
    staff = UserFactory(username="staffer", email="staff@x.example", is_staff=True)
    root = UserFactory(username="root", email="root@x.example", is_superuser=True)
    for account in (staff, root):
        sub = new_sub()
        set_user(sso, sub, email=account.email.upper(), email_verified=True, name="Mallory")
        with caplog.at_level(logging.WARNING, logger="main.sso"):
            user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
        assert (user.username, user.email, user.is_staff, user.is_superuser) == (
            f"sso-{sub}",
            account.email.upper(),
            False,
            False,
        )
        account.refresh_from_db()
        assert (account.name, account.social_auth.count()) == (f"Learner {account.username}", 0)
    assert [r.getMessage() for r in caplog.records if "staff account" in r.getMessage()] == [
        "SSO: the email STAFF@X.EXAMPLE belongs to a staff account, which is never matched by "
        "email: a new learner account is created",
        "SSO: the email ROOT@X.EXAMPLE belongs to a staff account, which is never matched by "
        "email: a new learner account is created",
    ]


def test_forged_or_replayed_callbacks_are_refused(sso, world):
    # A callback whose state is not this browser's: no login, no user.
    sub = new_sub()
    set_user(sso, sub, email="x@x.example", organization="acme")
    callback = login_begin(Client(), sso, sub)
    response = Client().get(callback)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert User.objects.count() == 0


def test_sso_not_configured_shows_only_the_password_login(client, settings):
    page = client.get("/login/").content.decode()
    assert "organization" not in page.lower()
    assert 'name="login"' in page
    assert client.post("/login/sso/").status_code == 404


def test_sso_configured_offers_the_organization_login(client, sso):
    page = client.get("/login/").content.decode()
    assert '<button type="submit" class="primary">Log in with your organization</button>' in page


def test_an_unconfirmed_sign_up_is_never_the_account_a_verified_sso_email_opens(sso, world):
    # Someone signs up with the learner's address and a password of their own, and never
    # confirms it (they cannot read that mailbox). The learner then logs in through SSO.
    squatter = Client()
    signup = squatter.post(
        "/signup/",
        {"name": "Not Ada", "email": "ada@acme.example", "password1": "squatters-password"},
    )
    assert (signup.status_code, signup["Location"]) == (302, "/confirm-email/")
    unconfirmed = User.objects.get(email="ada@acme.example")

    sub = new_sub()
    set_user(
        sso,
        sub,
        email="ada@acme.example",
        email_verified=True,
        name="Ada Lovelace",
        organization={"acme": {"id": ACME_ID}},
    )
    ada = login(sso, sub).client.get("/dashboard/").wsgi_request.user

    assert ada.pk != unconfirmed.pk
    assert (ada.username, ada.email, ada.name) == (
        f"sso-{sub}",
        "ada@acme.example",
        "Ada Lovelace",
    )
    assert sources(ada) == {"Acme SSO": "sso"}
    # The squatter's password opens nothing of Ada's: their account is still unconfirmed.
    attempt = squatter.post(
        "/login/", {"login": "ada@acme.example", "password": "squatters-password"}
    )
    assert attempt.status_code == 200
    assert [str(e) for e in attempt.context["form"].errors["__all__"]] == [
        "The email address and/or password you specified are not correct."
    ]
    assert squatter.get("/api/v0/me/").status_code == 403
    assert list(EmailAddress.objects.filter(user=unconfirmed).values_list("email", "verified")) == [
        ("ada@acme.example", False)
    ]
    assert ContractMembership.objects.filter(user=unconfirmed).count() == 0


def test_the_providers_name_reaches_the_account_without_control_characters(sso, world):
    sub = new_sub()
    set_user(sso, sub, email="e@x.example", name="Eve\x1b]8;;https://evil.example/\x1b\\ \u202eX")
    user = login(sso, sub).client.get("/dashboard/").wsgi_request.user
    assert user.name == "Eve]8;;https://evil.example/\\ X"
    other = new_sub()
    set_user(sso, other, email="f@x.example", given_name="Fa\x1b[2Jy", family_name="\u200bLee")
    user = login(sso, other).client.get("/dashboard/").wsgi_request.user
    assert user.name == "Fa[2Jy Lee"
