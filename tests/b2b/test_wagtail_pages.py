"""Organizations and contracts in the Wagtail admin (SPEC §7): forms, rules, publishing, hooks."""

from __future__ import annotations

import html

import pytest
from django.contrib.messages import get_messages
from wagtail.models import Page

from b2b.models import (
    ContractCodesLock,
    ContractMembership,
    ContractPage,
    OrganizationIndexPage,
    OrganizationPage,
)
from b2b.services.audit import audit_history
from b2b.services.codes import CodesAdjustment
from courses.models import CourseRun
from main.models import HomePage
from tests.b2b.helpers import new_contract
from tests.b2b.staff import (
    PASSWORD,
    contract_edit_form,
    contract_form,
    organization_form,
    staff_member,
)
from tests.factories import ContractRunFactory, memberships_bulk


def queued(callbacks) -> list:
    """The code adjustments asked for on commit (contract IDs), among all on-commit callbacks."""
    return [
        cb.__self__.contract_id
        for cb in callbacks
        if isinstance(getattr(cb, "__self__", None), CodesAdjustment)
    ]


def messages_of(response) -> list[str]:
    return [html.unescape(str(m)).strip() for m in get_messages(response.wsgi_request)]


def field_errors(response, field: str) -> list[str]:
    return [str(e) for e in response.context["form"].errors.get(field, [])]


@pytest.fixture
def editor(client, wagtail_site, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def contract(wagtail_site):
    return new_contract("UX Contract", max_learners=200)


def add_url(model: str, parent: Page) -> str:
    return f"/cms/pages/add/b2b/{model}/{parent.pk}/"


# -- creating and publishing -----------------------------------------------------------------------


def test_editor_creates_an_organization_and_a_capped_contract(
    editor, admin_user, django_capture_on_commit_callbacks
):
    index = OrganizationIndexPage.objects.get()
    response = editor.post(
        add_url("organizationpage", index),
        {
            **organization_form(name="Acme University", org_key="ACME", description="Our client"),
            "action-publish": "1",
        },
    )
    assert response.status_code == 302
    org = OrganizationPage.objects.get()
    assert (org.name, org.title, org.org_key, org.slug, org.live) == (
        "Acme University",
        "Acme University",
        "ACME",
        "acme-university",
        True,
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(
            add_url("contractpage", org),
            {
                **contract_form(
                    name="Acme 2026",
                    max_learners=50,
                    enrollment_fixed_price="25.00",
                    contract_start="2026-01-01",
                    contract_end="2026-12-31",
                ),
                "action-publish": "1",
            },
        )
    assert response.status_code == 302
    contract = ContractPage.objects.get()
    assert (contract.organization_id, contract.name, contract.title, contract.slug) == (
        org.pk,
        "Acme 2026",
        "Acme 2026",
        "acme-2026",
    )
    assert (contract.max_learners, str(contract.enrollment_fixed_price), contract.active) == (
        50,
        "25.00",
        True,
    )
    assert contract.live and contract.live_revision_id is not None
    assert queued(callbacks) == [contract.pk]
    assert ContractCodesLock.objects.filter(contract=contract).exists()
    (created,) = audit_history(contract.pk)
    assert (created.action, created.via, created.actor) == (
        "contract.create",
        "wagtail",
        admin_user.email,
    )
    assert created.changes["max_learners"] == {"before": None, "after": 50}
    assert created.changes["organization"] == {"before": None, "after": "Acme University"}
    assert [e.action for e in audit_history(org.pk)] == ["organization.create"]


def test_saving_a_draft_changes_nothing_live_and_queues_nothing(
    editor, contract, django_capture_on_commit_callbacks
):
    url = f"/cms/pages/{contract.pk}/edit/"
    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(url, contract_edit_form(contract, max_learners=150))
    assert response.status_code == 302
    contract.refresh_from_db()
    assert (contract.max_learners, contract.has_unpublished_changes) == (200, True)
    assert queued(callbacks) == []
    assert [e.action for e in audit_history(contract.pk)] == ["contract.create"]

    with django_capture_on_commit_callbacks() as callbacks:
        response = editor.post(
            url, {**contract_edit_form(contract, max_learners=150), "action-publish": "1"}
        )
    assert response.status_code == 302
    contract.refresh_from_db()
    assert (contract.max_learners, contract.has_unpublished_changes) == (150, False)
    assert queued(callbacks) == [contract.pk]
    change = audit_history(contract.pk)[-1]
    assert (change.action, change.via, change.changes) == (
        "contract.change",
        "wagtail",
        {"max_learners": {"before": 200, "after": 150}},
    )


def test_publishing_a_pure_deactivation_queues_no_code_adjustment(
    editor, contract, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        editor.post(
            f"/cms/pages/{contract.pk}/edit/",
            {**contract_edit_form(contract, active=""), "action-publish": "1"},
        )
    contract.refresh_from_db()
    assert contract.active is False
    assert queued(callbacks) == []
    assert audit_history(contract.pk)[-1].changes == {"active": {"before": True, "after": False}}


def test_a_commands_change_is_a_published_revision_recorded_once(
    run_command, contract, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        import io

        from django.core.management import call_command

        call_command(
            "b2b_contract",
            "modify",
            str(contract.pk),
            "--price",
            "10",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    contract.refresh_from_db()
    revision = contract.live_revision.as_object()
    assert (str(contract.enrollment_fixed_price), str(revision.enrollment_fixed_price)) == (
        "10.00",
        "10.00",
    )
    assert queued(callbacks) == [contract.pk]  # the publish and the command asked: once
    change = audit_history(contract.pk)[-1]
    assert (change.action, change.via, change.actor, change.changes) == (
        "contract.change",
        "command",
        "manage.py b2b_contract modify",
        {"price": {"before": None, "after": "10.00"}},
    )


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"max_learners": 0},
            "max_learners",
            "The learner cap must be a whole number of at least 1 (got 0); leave it empty "
            "(--no-learner-cap) for an uncapped contract.",
        ),
        (
            {"max_learners": -5},
            "max_learners",
            "The learner cap must be a whole number of at least 1 (got -5); leave it empty "
            "(--no-learner-cap) for an uncapped contract.",
        ),
        (
            {"enrollment_fixed_price": "100000"},
            "enrollment_fixed_price",
            "The price 100000 is out of range: use an amount from 0.00 to 99999.99 (or --no-price "
            "for a free contract).",
        ),
        (
            {"enrollment_fixed_price": "1.234"},
            "enrollment_fixed_price",
            "The price 1.234 has more than two decimal places: give it in cents at most, for "
            "example 49.99.",
        ),
        (
            {"contract_start": "2026-05-01", "contract_end": "2026-04-30"},
            "contract_end",
            "The contract would end (2026-04-30) before it starts (2026-05-01): give a start date "
            "on "
            "or before the end date.",
        ),
        ({"name": "  "}, "name", "This field is required."),
    ],
)
def test_invalid_contract_fields_show_on_the_form(editor, contract, values, field, message):
    org = contract.organization
    data = {**contract_form(**{"name": "Another", **values}), "action-publish": "1"}
    response = editor.post(add_url("contractpage", org), data)
    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert ContractPage.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"org_key": "bad key!"},
            "org_key",
            "Org key 'bad key!' is not valid: use 1 to 30 letters, digits or underscores (for "
            "example UniversityX or MIT_OL).",
        ),
        (
            {"org_key": "ux"},
            "org_key",
            "Org key 'ux' is already used by 'University X' (ID {org}): choose another.",
        ),
        (
            {"name": "university x"},
            "name",
            "An organization named 'University X' already exists (ID {org}): give this one a "
            "different name.",
        ),
    ],
)
def test_invalid_organization_fields_show_on_the_form(editor, contract, values, field, message):
    org = contract.organization
    data = organization_form(**{"name": "New Org", "org_key": "NEW", **values})
    response = editor.post(
        add_url("organizationpage", OrganizationIndexPage.objects.get()),
        {**data, "action-publish": "1"},
    )
    assert response.status_code == 200
    assert field_errors(response, field) == [message.format(org=org.pk)]
    assert OrganizationPage.objects.count() == 1


def test_the_org_key_is_fixed_once_the_organization_has_contract_runs(editor, contract, catalog):
    org = contract.organization
    url = f"/cms/pages/{org.pk}/edit/"
    form = organization_form(name=org.name, org_key="UX2")
    # without runs it may change
    assert editor.post(url, {**form, "action-publish": "1"}).status_code == 302
    org.refresh_from_db()
    assert org.org_key == "UX2"
    assert audit_history(org.pk)[-1].changes == {"org_key": {"before": "UX", "after": "UX2"}}
    # with a run whose key embeds it, it may not
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    response = editor.post(
        url, {**organization_form(name=org.name, org_key="UX3"), "action-publish": "1"}
    )
    assert response.status_code == 200
    assert field_errors(response, "org_key") == [
        "The org key 'UX2' cannot change: the organization has contract runs whose keys embed "
        "it (course-v1:UAI_UX2+...). Keep it."
    ]
    org.refresh_from_db()
    assert org.org_key == "UX2"


def test_renaming_keeps_the_slug_and_equal_names_get_distinct_slugs(editor, contract):
    org = contract.organization
    editor.post(
        f"/cms/pages/{contract.pk}/edit/",
        {**contract_edit_form(contract, name="Renamed"), "action-publish": "1"},
    )
    contract.refresh_from_db()
    assert (contract.name, contract.title, contract.slug) == ("Renamed", "Renamed", "ux-contract")
    for _ in range(2):
        editor.post(
            add_url("contractpage", org), {**contract_form(name="Same Name"), "action-publish": "1"}
        )
    assert sorted(ContractPage.objects.filter(name="Same Name").values_list("slug", flat=True)) == [
        "same-name",
        "same-name-2",
    ]


def test_page_types_go_only_where_they_belong(contract):
    index, org = OrganizationIndexPage.objects.get(), contract.organization
    home = HomePage.objects.get()
    assert (OrganizationPage.can_create_at(index), OrganizationPage.can_create_at(home)) == (
        True,
        False,
    )
    assert (ContractPage.can_create_at(org), ContractPage.can_create_at(index)) == (True, False)
    assert ContractPage.can_create_at(contract) is False
    assert OrganizationIndexPage.can_create_at(home) is False  # there is one already


def test_a_contract_page_under_the_index_is_refused(editor, contract):
    response = editor.get(add_url("contractpage", OrganizationIndexPage.objects.get()))
    assert response.status_code == 302
    assert ContractPage.objects.count() == 1


def test_pages_are_not_served_publicly(client, contract):
    assert client.get("/organizations/").status_code == 404
    assert (
        client.get(f"/organizations/{contract.organization.slug}/{contract.slug}/").status_code
        == 404
    )


# -- moving, deleting, copying ---------------------------------------------------------------------


def test_moving_a_contract_to_another_organization_is_refused(editor, contract):
    other = new_contract("Other", "sso", org="Other U", key="OU").organization
    response = editor.post(f"/cms/pages/{contract.pk}/move/{other.pk}/confirm/")
    assert response.status_code == 302
    assert messages_of(response)[-1].startswith(
        "Contract 'UX Contract' cannot move to another organization: its organization is part "
        "of its run keys and its codes."
    )
    contract.refresh_from_db()
    assert (contract.get_parent().pk, contract.organization_id) == (
        contract.organization.pk,
        contract.organization.pk,
    )


@pytest.mark.parametrize("in_use", ["learners", "runs"])
def test_deleting_a_contract_in_use_is_refused(editor, contract, catalog, in_use):
    if in_use == "learners":
        memberships_bulk(contract, 3)
        reason = "3 learners"
    else:
        ContractRunFactory(b2b_contract=contract, course=catalog.data)
        reason = "1 course run"
    response = editor.post(f"/cms/pages/{contract.pk}/delete/")
    assert response.status_code == 302
    assert messages_of(response)[-1] == (
        f"Contract 'UX Contract' cannot be deleted: it has {reason}. Deactivate it instead "
        "(untick Active and publish)."
    )
    assert ContractPage.objects.filter(pk=contract.pk).exists()


def test_deleting_an_organization_with_contracts_is_refused(editor, contract):
    org = contract.organization
    response = editor.post(f"/cms/pages/{org.pk}/delete/")
    assert messages_of(response)[-1] == (
        "Organization 'University X' cannot be deleted: it has 1 contract under it. Deactivate "
        "the contracts instead."
    )
    assert OrganizationPage.objects.filter(pk=org.pk).exists()


def test_deleting_an_unused_contract_is_recorded(editor, contract, admin_user):
    response = editor.post(f"/cms/pages/{contract.pk}/delete/")
    assert response.status_code == 302
    assert not ContractPage.objects.filter(pk=contract.pk).exists()
    deleted = audit_history(contract.pk)[-1]
    assert (deleted.action, deleted.actor, deleted.changes["max_learners"]) == (
        "contract.delete",
        admin_user.email,
        {"before": 200, "after": None},
    )


def test_copying_a_contract_makes_a_fresh_inactive_one(editor, contract, catalog):
    memberships_bulk(contract, 2)
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    org = contract.organization
    response = editor.post(
        f"/cms/pages/{contract.pk}/copy/",
        {
            "new_title": "UX Contract 2027",
            "new_slug": "ux-contract-2027",
            "new_parent_page": org.pk,
        },
    )
    copy = ContractPage.objects.exclude(pk=contract.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/cms/pages/{copy.pk}/edit/"
    assert (
        copy.name,
        copy.title,
        copy.slug,
        copy.active,
        copy.max_learners,
        copy.organization_id,
    ) == (
        "UX Contract 2027",
        "UX Contract 2027",
        "ux-contract-2027",
        False,
        200,
        org.pk,
    )
    assert ContractMembership.objects.filter(contract=copy).count() == 0
    assert CourseRun.objects.filter(b2b_contract=copy).count() == 0
    assert copy.courseware.count() == 0
    created = audit_history(copy.pk)[0]
    assert created.changes["copied_from"] == {"before": None, "after": contract.pk}


def test_copying_an_organization_is_refused(editor, contract):
    response = editor.get(f"/cms/pages/{contract.organization.pk}/copy/")
    assert response.status_code == 302
    assert messages_of(response)[-1].startswith("Organization 'University X' cannot be copied")


# -- the read-only status panel ------------------------------------------------------------------


def test_the_contract_editor_shows_courseware_learners_and_codes(editor, contract, catalog):
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    memberships_bulk(contract, 3)
    html = editor.get(f"/cms/pages/{contract.pk}/edit/").content.decode()
    run = CourseRun.objects.get(b2b_contract=contract)
    assert '<p data-b2b="learners">3 of 200 learners</p>' in html
    assert '<td data-b2b="codes-usable">200</td>' in html
    assert '<td data-b2b="codes-redeemed">0</td>' in html
    assert '<td data-b2b="codes-deactivated">0</td>' in html
    assert run.courseware_id in html and "not-configured" in html


# -- the "B2B staff" group -----------------------------------------------------------------------


def test_a_member_of_b2b_staff_manages_contracts_and_nothing_else(client, contract):
    member = staff_member()
    assert client.login(username=member.username, password=PASSWORD)
    org = contract.organization
    response = client.post(
        add_url("contractpage", org),
        {**contract_form(name="By Staff", max_learners=5), "action-publish": "1"},
    )
    assert response.status_code == 302
    made = ContractPage.objects.get(name="By Staff")
    assert made.live and audit_history(made.pk)[0].actor == member.email
    assert client.get(f"/cms/pages/{contract.pk}/edit/").status_code == 200
    assert client.get(f"/cms/pages/{org.pk}/edit/").status_code == 200
    # not Home, not the Organizations page itself
    home = HomePage.objects.get()
    assert client.get(f"/cms/pages/{home.pk}/edit/").status_code == 302
    assert (
        client.post(
            f"/cms/pages/{home.pk}/edit/",
            {"title": "Hacked", "slug": "home", "action-publish": "1"},
        ).status_code
        == 302
    )
    home.refresh_from_db()
    assert home.title == "Home"
    index = OrganizationIndexPage.objects.get()
    assert client.get(f"/cms/pages/{index.pk}/edit/").status_code == 302


def test_staff_outside_the_group_cannot(client, contract):
    outsider = staff_member("outsider", in_group=False)
    assert client.login(username=outsider.username, password=PASSWORD)
    assert client.get("/cms/").status_code == 302  # no admin access: sent to log in
    response = client.post(
        add_url("contractpage", contract.organization),
        {**contract_form(name="Nope"), "action-publish": "1"},
    )
    assert response.status_code == 302
    assert not ContractPage.objects.filter(name="Nope").exists()


def test_b2b_staff_cannot_create_edit_or_delete_accounts_in_wagtail(client, wagtail_site):
    # given a member of "B2B staff", a learner and a superuser
    member = staff_member()
    user_model = type(member)
    learner = user_model.objects.create_user(username="ada", email="ada@example.com")
    root = user_model.objects.create_superuser(username="root", email="root@example.com")
    assert client.login(username=member.username, password=PASSWORD)

    # when the member opens or posts Wagtail's user editor for either account
    for target in (learner, root):
        shown = client.get(f"/cms/users/edit/{target.pk}/")
        posted = client.post(
            f"/cms/users/edit/{target.pk}/",
            {
                "username": target.username,
                "email": target.email,
                "first_name": "X",
                "last_name": "Y",
                "is_superuser": "on",
                "is_active": "on",
                "password1": "taken-over-Pa55",
                "password2": "taken-over-Pa55",
            },
        )
        deleted = client.post(f"/cms/users/delete/{target.pk}/")

        # then each is sent back to the dashboard with Wagtail's refusal, and nothing changed
        assert [r.status_code for r in (shown, posted, deleted)] == [302, 302, 302]
        assert shown.url == "/cms/"
        target.refresh_from_db()
        assert (target.is_superuser, target.check_password("taken-over-Pa55")) == (
            target.username == "root",
            False,
        )
    created = client.post(
        "/cms/users/new/",
        {
            "username": "mallory",
            "email": "m@example.com",
            "first_name": "M",
            "last_name": "M",
            "password1": "taken-over-Pa55",
            "password2": "taken-over-Pa55",
        },
    )
    assert created.status_code == 302
    assert list(user_model.objects.order_by("username").values_list("username", flat=True)) == [
        "ada",
        "root",
        "staffer",
    ]
    # unread refusals pile up: the learner's three, then the one for the superuser's editor
    assert messages_of(shown) == ["Sorry, you do not have permission to access this area."] * 4


def test_b2b_staff_cannot_change_accounts_with_wagtails_bulk_actions(client, wagtail_site):
    from django.contrib.auth.models import Group

    member = staff_member()
    user_model = type(member)
    learner = user_model.objects.create_user(username="ada", email="ada@example.com")
    root = user_model.objects.create_superuser(username="root", email="root@example.com")
    assert client.login(username=member.username, password=PASSWORD)
    staff_group = Group.objects.get(name="B2B staff")

    deactivate = client.post(
        f"/cms/bulk/main/user/set_active_state/?id={learner.pk}&id={root.pk}&next=/cms/users/",
        {"mark_as_active": "False"},
    )
    assign = client.post(
        f"/cms/bulk/main/user/assign_role/?id={learner.pk}&next=/cms/users/",
        {"role": str(staff_group.pk)},
    )

    assert [(r.status_code, r.url) for r in (deactivate, assign)] == [
        (302, "/cms/"),
        (302, "/cms/"),
    ]
    learner.refresh_from_db()
    root.refresh_from_db()
    assert (learner.is_active, root.is_active, list(learner.groups.all())) == (True, True, [])


def test_a_superuser_still_edits_accounts_in_wagtail(editor):
    assert editor.get("/cms/users/new/").status_code == 200
