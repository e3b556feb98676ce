"""An organization's managers (SPEC §9): granted and removed by command and in Wagtail, invited
by mail when they have no account, linked when they sign up, recorded in the history."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from b2b.models import OrganizationManager
from b2b.services.audit import audit_history
from b2b.services.managers import managed_organizations
from main.models import OutgoingMail
from tests.b2b.helpers import new_contract
from tests.b2b.staff import staff_member
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(wagtail_site, settings):
    settings.SITE_BASE_URL = "https://learn.example.edu"
    return new_contract("UX 2026", max_learners=10).organization


def test_add_links_an_account_and_invites_an_address_without_one(org, run_command):
    ada = UserFactory(email="ada@example.edu", name="Ada Lovelace")
    out = run_command(
        "b2b_organization",
        "managers",
        "add",
        str(org.pk),
        "Ada@Example.edu",
        "new@example.edu",
        "--format",
        "json",
    )
    assert json.loads(out.stdout) == [
        {"email": "ada@example.edu", "outcome": "added"},
        {"email": "new@example.edu", "outcome": "invited"},
    ]
    rows = list(
        OrganizationManager.objects.order_by("email").values_list("organization", "email", "user")
    )
    assert rows == [(org.pk, "ada@example.edu", ada.pk), (org.pk, "new@example.edu", None)]
    mails = {m.to: m for m in OutgoingMail.objects.order_by("to")}
    assert sorted(mails) == ["ada@example.edu", "new@example.edu"]
    assert mails["ada@example.edu"].subject == "You now manage University X on Learning"
    assert "https://learn.example.edu/manage/" in mails["ada@example.edu"].body_text
    assert mails["new@example.edu"].subject == (
        "You are invited to manage University X on Learning"
    )
    assert "https://learn.example.edu/signup/?next=/manage/" in mails["new@example.edu"].body_text
    assert {m.status for m in mails.values()} == {"sent"}
    entries = [(e.action, e.via, e.changes) for e in audit_history(org.pk)[-2:]]
    assert entries == [
        ("manager.add", "command", {"manager": {"before": None, "after": "ada@example.edu"}}),
        ("manager.add", "command", {"manager": {"before": None, "after": "new@example.edu"}}),
    ]


def test_adding_again_changes_nothing_and_mails_nothing(org, run_command):
    run_command("b2b_organization", "managers", "add", str(org.pk), "ada@example.edu")
    out = run_command(
        "b2b_organization", "managers", "add", str(org.pk), "ADA@example.edu", "--format", "json"
    )
    assert json.loads(out.stdout) == [{"email": "ada@example.edu", "outcome": "already-manager"}]
    assert (OrganizationManager.objects.count(), OutgoingMail.objects.count()) == (1, 1)


def test_list_in_every_format_and_remove(org, run_command):
    UserFactory(email="ada@example.edu", name="Ada Lovelace")
    run_command("b2b_organization", "managers", "add", str(org.pk), "ada@example.edu", "b@x.org")
    since = {m.email: m.created_on.isoformat() for m in OrganizationManager.objects.all()}
    listed = run_command("b2b_organization", "managers", "list", str(org.pk), "--format", "json")
    assert json.loads(listed.stdout) == [
        {
            "organization_id": org.pk,
            "email": "ada@example.edu",
            "name": "Ada Lovelace",
            "account": True,
            "alerts": True,
            "since": since["ada@example.edu"],
        },
        {
            "organization_id": org.pk,
            "email": "b@x.org",
            "name": "",
            "account": False,
            "alerts": True,
            "since": since["b@x.org"],
        },
    ]
    csv_out = run_command("b2b_organization", "managers", "list", str(org.pk), "--format", "csv")
    assert csv_out.stdout.splitlines() == [
        "organization_id,email,name,account,alerts,since",
        f"{org.pk},ada@example.edu,Ada Lovelace,true,true,{since['ada@example.edu']}",
        f"{org.pk},b@x.org,,false,true,{since['b@x.org']}",
    ]
    table = run_command("b2b_organization", "managers", "list", str(org.pk)).stdout
    assert "ada@example.edu" in table and "Ada Lovelace" in table

    removed = run_command(
        "b2b_organization",
        "managers",
        "remove",
        str(org.pk),
        "b@x.org",
        "c@x.org",
        "--format",
        "json",
    )
    assert json.loads(removed.stdout) == [
        {"email": "b@x.org", "outcome": "removed"},
        {"email": "c@x.org", "outcome": "not-a-manager"},
    ]
    assert list(OrganizationManager.objects.values_list("email", flat=True)) == ["ada@example.edu"]
    assert audit_history(org.pk)[-1].changes == {"manager": {"before": "b@x.org", "after": None}}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["add", "{org}", "ada@example.edu", "not-an-address"],
            "'not-an-address' is not an email address: give one like name@example.com.",
        ),
        (["add", "{org}"], "`managers add` needs at least one EMAIL address."),
        (
            ["list", "{org}", "ada@example.edu"],
            "`managers list` takes no email addresses: give only the ID.",
        ),
        (
            ["add", "4242", "ada@example.edu"],
            "No organization with ID 4242: `manage.py b2b_list organizations` lists them.",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(org, argv, message):
    with pytest.raises(CommandError) as refusal:
        call_command("b2b_organization", "managers", *[a.format(org=org.pk) for a in argv])
    assert (str(refusal.value), refusal.value.returncode) == (message, 1)
    assert (OrganizationManager.objects.count(), OutgoingMail.objects.count()) == (0, 0)


def test_an_invited_address_manages_once_its_account_verifies_it(org, run_command):
    run_command("b2b_organization", "managers", "add", str(org.pk), "new@example.edu")
    unverified = UserFactory(username="other", email="new@example.edu", email_verified=False)
    assert list(managed_organizations(unverified)) == []
    newcomer = UserFactory(username="newcomer", email="New@Example.edu")
    assert list(managed_organizations(newcomer)) == [org]
    assert OrganizationManager.objects.get().user == newcomer
    other = OrganizationFactory(name="Other Org", org_key="OO")
    assert other not in managed_organizations(newcomer)


def test_staff_add_and_remove_managers_in_wagtail(org, client):
    staff = staff_member()
    client.force_login(staff)
    url = reverse("b2b_organization:managers", args=[org.pk])
    edit = client.get(reverse("wagtailadmin_pages:edit", args=[org.pk]))
    assert url in edit.content.decode()

    bad = client.post(url, {"email": "nope"})
    assert bad.status_code == 200 and "Enter a valid email address." in bad.content.decode()
    added = client.post(url, {"email": "ada@example.edu"}, follow=True)
    text = added.content.decode()
    assert "ada@example.edu now manages University X. They have no account yet" in text
    assert "Invited, no account yet" in text
    entry = audit_history(org.pk)[-1]
    assert (entry.action, entry.via, entry.actor) == ("manager.add", "wagtail", staff.email)

    removed = client.post(
        reverse("b2b_organization:manager_remove", args=[org.pk]),
        {"email": "ada@example.edu"},
        follow=True,
    )
    assert "ada@example.edu no longer manages University X." in removed.content.decode()
    assert OrganizationManager.objects.count() == 0


def test_wagtail_managers_page_refuses_others(org, client):
    outsider = staff_member("outsider", in_group=False)
    outsider.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(outsider)
    response = client.post(
        reverse("b2b_organization:managers", args=[org.pk]), {"email": "a@b.org"}
    )
    assert response.status_code == 302
    assert OrganizationManager.objects.count() == 0


def test_an_unconfirmed_address_is_not_linked_until_confirmed(org, run_command):
    from main.accounts import account_email_record

    squatter = UserFactory(username="squatter", email="boss@example.edu", email_verified=False)
    account_email_record(squatter, "boss@example.edu", verified=False)  # as sign-up leaves it
    out = run_command(
        "b2b_organization", "managers", "add", str(org.pk), "boss@example.edu", "--format", "json"
    )
    assert json.loads(out.stdout) == [{"email": "boss@example.edu", "outcome": "invited"}]
    assert list(managed_organizations(squatter)) == []
    account_email_record(squatter, "boss@example.edu", verified=True)
    assert list(managed_organizations(squatter)) == [org]


def test_a_manager_address_longer_than_any_column_is_refused_with_its_reason():
    from b2b.exceptions import InvalidContractInput
    from b2b.services.managers import email_normalise

    too_long = "a" * 250 + "@x.com"
    with pytest.raises(InvalidContractInput) as refusal:
        email_normalise(too_long)
    assert str(refusal.value) == (
        f"{too_long!r} is not an email address: give one like name@example.com."
    )
