"""The Django Admin's B2B pages (SPEC §7): view-only organizations and contracts, the User page's
contract memberships, read-only enrollment codes, catalog upkeep; bounded queries."""

from __future__ import annotations

import html

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from b2b.models import ContractMembership, ContractPage
from b2b.services.audit import audit_history
from b2b.services.contracts import contract_modify
from b2b.services.courseware import courseware_add
from courses.models import CourseRun
from ecommerce.models import Discount
from tests.b2b.helpers import new_contract
from tests.b2b.staff import PASSWORD, form_fields, staff_member
from tests.factories import (
    ContractRunFactory,
    MembershipFactory,
    RedemptionFactory,
    UserFactory,
    memberships_bulk,
    run_product,
)

User = get_user_model()


def messages_of(response) -> list[str]:
    return [html.unescape(str(m)) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def contract(wagtail_site):
    return new_contract("UX Contract", max_learners=3)


@pytest.fixture
def superuser_client(client, admin_user):
    client.force_login(admin_user)
    return client


# -- view only -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["organizationpage", "contractpage", "contractmembership"])
def test_organizations_contracts_and_memberships_are_view_only_even_for_superusers(
    superuser_client, contract, model
):
    obj = {"organizationpage": contract.organization, "contractpage": contract}.get(model)
    if obj is None:
        obj = MembershipFactory(contract=contract)
    base = f"/admin/b2b/{model}/"
    listing = superuser_client.get(base)
    assert listing.status_code == 200
    assert f'href="{base}add/"' not in listing.content.decode()
    assert superuser_client.get(f"{base}add/").status_code == 403
    detail = superuser_client.get(f"{base}{obj.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    before = ContractPage.objects.values().get(pk=contract.pk)
    assert superuser_client.post(f"{base}{obj.pk}/change/", {"name": "Changed"}).status_code == 403
    assert superuser_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ContractPage.objects.values().get(pk=contract.pk) == before


def test_contract_list_filters_and_search(superuser_client, contract):
    new_contract("Other SSO", "sso", org="Other U", key="OU", active=False)

    def names(query: str) -> list[str]:
        response = superuser_client.get(f"/admin/b2b/contractpage/?{query}")
        return [c.name for c in response.context["cl"].result_list]

    assert names("") == ["Other SSO", "UX Contract"]
    assert names("integration_type__exact=sso") == ["Other SSO"]
    assert names("active__exact=1") == ["UX Contract"]
    assert names(f"organization__id__exact={contract.organization_id}") == ["UX Contract"]
    assert names("q=other+u") == ["Other SSO"]
    assert names("q=UX") == ["UX Contract"]


def test_contract_detail_shows_learners_codes_courseware_and_history(
    superuser_client, contract, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        courseware_add(contract.pk, catalog.data.readable_id)
    memberships_bulk(contract, 2)
    page = superuser_client.get(f"/admin/b2b/contractpage/{contract.pk}/change/").content.decode()
    assert '<span data-b2b="learners">2 of 3 learners</span>' in page
    assert '<span data-b2b="codes">3 usable, 0 redeemed, 0 deactivated</span>' in page
    assert CourseRun.objects.get(b2b_contract=contract).courseware_id in page
    assert "Courseware added to the contract" in page and "Enrollment codes adjusted" in page


# -- bounded queries -------------------------------------------------------------------------


@pytest.fixture
def big_contract(wagtail_site, catalog):
    """A contract with 2,000 learners and 5,000 codes, one of them redeemed."""
    contract = new_contract("UX Contract", max_learners=5000)
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    learners = memberships_bulk(contract, 2000)
    code = Discount.objects.filter(product_links__product=run_product(contract.course_runs.get()))
    RedemptionFactory(redeemed_discount=code.order_by("pk").first(), redeemed_by=learners[0])
    assert (ContractMembership.objects.count(), Discount.objects.count()) == (2000, 5000)
    return contract


@pytest.mark.parametrize(
    ("url", "limit"),
    [
        ("/admin/b2b/contractpage/", 12),
        ("/admin/b2b/contractpage/{contract}/change/", 20),
        ("/admin/b2b/organizationpage/", 12),
        ("/admin/b2b/organizationpage/{org}/change/", 16),
        ("/admin/b2b/contractmembership/?contract__id__exact={contract}", 14),
        ("/admin/ecommerce/discount/?contract={contract}&state=usable", 14),
        ("/admin/ecommerce/discount/?q={code}", 14),
        ("/admin/main/user/{learner}/change/", 22),
        ("/admin/main/user/", 12),
    ],
)
def test_admin_pages_run_a_bounded_number_of_queries(
    superuser_client, big_contract, url, limit, django_assert_max_num_queries
):
    membership = ContractMembership.objects.order_by("pk").first()
    url = url.format(
        contract=big_contract.pk,
        org=big_contract.organization_id,
        learner=membership.user_id,
        code=Discount.objects.order_by("pk").first().discount_code,
    )
    with django_assert_max_num_queries(limit):
        response = superuser_client.get(url)
    assert response.status_code == 200


def test_contract_detail_counts_the_big_contract(superuser_client, big_contract):
    page = superuser_client.get(
        f"/admin/b2b/contractpage/{big_contract.pk}/change/"
    ).content.decode()
    assert '<span data-b2b="learners">2000 of 5000 learners</span>' in page
    import re

    assert re.findall(r'<span data-b2b="codes">[^<]*</span>', page) == [
        '<span data-b2b="codes">4999 usable, 1 redeemed, 0 deactivated</span>'
    ]


# -- the User page: contract memberships --------------------------------------------------------


def user_form(client, user) -> dict:
    response = client.get(f"/admin/main/user/{user.pk}/change/")
    assert response.status_code == 200
    return form_fields(response.content.decode(), "user_form")


def add_membership(client, user, contract) -> object:
    data = user_form(client, user)
    data["contract_memberships-2-0-contract"] = str(contract.pk)
    return client.post(f"/admin/main/user/{user.pk}/change/", data)


def test_staff_attach_a_learner_through_the_inline(
    client, contract, django_capture_on_commit_callbacks
):
    member = staff_member()
    learner = UserFactory()
    client.login(username=member.username, password=PASSWORD)
    response = add_membership(client, learner, contract)
    assert response.status_code == 302
    membership = ContractMembership.objects.get()
    assert (membership.user, membership.contract, membership.source) == (
        learner,
        contract,
        "manual",
    )
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor, entry.changes) == (
        "membership.add",
        "admin",
        member.email,
        {
            "learner": {"before": None, "after": learner.email},
            "source": {"before": None, "after": "manual"},
            "learners": {"before": 0, "after": 1},
        },
    )
    page = client.get(f"/admin/main/user/{learner.pk}/change/").content.decode()
    assert "UX Contract (ID" in page and "University X" in page and "1 of 3" in page


def test_a_full_contract_refuses_with_a_message(superuser_client, contract):
    memberships_bulk(contract, 3)
    learner = UserFactory()
    response = add_membership(superuser_client, learner, contract)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][1].formset.errors
    assert errors[0]["contract"] == [
        f"Contract {contract.pk} ('UX Contract') is full: 3 of its 3 learners are attached. "
        "Raise its learner cap or detach a learner first."
    ]
    assert not ContractMembership.objects.filter(user=learner).exists()


def test_an_inactive_contract_is_refused(superuser_client, contract):
    contract_modify(contract.pk, active=False)
    learner = UserFactory()
    response = add_membership(superuser_client, learner, contract)
    errors = response.context["inline_admin_formsets"][1].formset.errors
    assert errors[0]["contract"] == [
        f"Contract {contract.pk} ('UX Contract') is inactive, so no learner can be attached to "
        f"it: activate it first (in Wagtail, or `b2b_contract modify {contract.pk} --active`)."
    ]
    assert ContractMembership.objects.count() == 0


def test_the_autocomplete_offers_active_contracts_by_name(superuser_client, contract):
    new_contract("UX Old", active=False)
    response = superuser_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "b2b",
            "model_name": "contractmembership",
            "field_name": "contract",
            "term": "ux",
        },
    )
    assert response.json()["results"] == [{"id": str(contract.pk), "text": "UX Contract"}]


def test_staff_remove_a_membership(superuser_client, contract, admin_user):
    learner = UserFactory()
    membership = MembershipFactory(user=learner, contract=contract, source="sso")
    data = user_form(superuser_client, learner)
    data["contract_memberships-0-DELETE"] = "on"
    assert data["contract_memberships-0-id"] == str(membership.pk)
    response = superuser_client.post(f"/admin/main/user/{learner.pk}/change/", data)
    assert response.status_code == 302
    assert ContractMembership.objects.count() == 0
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.actor, entry.changes["source"]) == (
        "membership.remove",
        admin_user.email,
        {"before": "sso", "after": None},
    )


def test_staff_who_are_not_superusers_cannot_change_staff_accounts(client, wagtail_site):
    member = staff_member()
    other = staff_member("colleague")
    client.login(username=member.username, password=PASSWORD)
    data = user_form(client, other)  # shown read-only
    assert "is_superuser" not in data
    data["email"] = "changed@example.com"
    assert client.post(f"/admin/main/user/{other.pk}/change/", data).status_code == 403
    other.refresh_from_db()
    assert other.email == "colleague@example.com"


# -- what B2B staff cannot do to an account (they manage memberships only) ----------------------

IDENTITY = ("username", "email", "name", "first_name", "last_name", "is_active", "password")


def account_state(user) -> dict:
    return User.objects.values(
        "username", "email", "name", "is_active", "is_staff", "is_superuser", "password"
    ).get(pk=user.pk)


@pytest.fixture
def staff_client(client, wagtail_site):
    member = staff_member()
    client.login(username=member.username, password=PASSWORD)
    client.member = member
    return client


def test_b2b_staff_get_403_from_a_learners_password_form_and_the_password_stays(staff_client):
    learner = UserFactory(username="ada")
    before = account_state(learner)
    url = f"/admin/main/user/{learner.pk}/password/"

    assert staff_client.get(url).status_code == 403
    response = staff_client.post(
        url,
        {"password1": "taken-over-1", "password2": "taken-over-1", "set_usable_password": "true"},
    )

    assert response.status_code == 403
    assert account_state(learner) == before
    learner.refresh_from_db()
    assert learner.check_password("learner-password") is True
    assert staff_client.login(username="ada", password="taken-over-1") is False
    # Their own account's password form is a superuser's too: they use "Change password".
    own = f"/admin/main/user/{staff_client.member.pk}/password/"
    assert staff_client.get(own).status_code == 403


def test_b2b_staff_see_a_learners_identity_read_only_with_no_password_link(staff_client):
    learner = UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    response = staff_client.get(f"/admin/main/user/{learner.pk}/change/")
    page = response.content.decode()

    form = response.context["adminform"].form
    assert sorted(form.fields) == []
    shown = flatten_fieldsets(response.context["adminform"].fieldsets)
    assert shown == [
        "username",
        "name",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
        "last_login",
        "date_joined",
    ]
    assert set(shown) <= set(response.context["adminform"].readonly_fields)
    assert "password/" not in page and "Reset password" not in page
    assert "ada@example.edu" in page and "Ada Lovelace" in page
    posted = form_fields(page, "user_form")
    assert not set(posted) & set(IDENTITY)


def test_b2b_staff_posts_cannot_change_a_learners_email_username_or_active(staff_client, contract):
    learner = UserFactory(username="ada", email="ada@example.edu")
    before = account_state(learner)
    data = user_form(staff_client, learner)
    data.update(
        {
            "username": "attacker",
            "email": "attacker@example.com",
            "name": "Attacker",
            "password": "md5$x$y",
            "is_superuser": "on",
            "is_staff": "on",
        }
    )
    data.pop("is_active", None)  # an unticked box: is_active=False if the field were there
    data["contract_memberships-2-0-contract"] = str(contract.pk)

    response = staff_client.post(f"/admin/main/user/{learner.pk}/change/", data)

    # The membership is saved: that is their job; the identity is untouched.
    assert response.status_code == 302
    assert account_state(learner) == before
    assert list(ContractMembership.objects.values_list("user_id", "contract_id")) == [
        (learner.pk, contract.pk)
    ]


def test_b2b_staff_cannot_add_or_delete_users(staff_client):
    learner = UserFactory()
    assert staff_client.get("/admin/main/user/add/").status_code == 403
    response = staff_client.post(
        "/admin/main/user/add/",
        {"username": "new", "email": "new@example.edu", "password1": "x-Y-z-123456"},
    )
    assert response.status_code == 403
    assert (
        staff_client.post(f"/admin/main/user/{learner.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    listing = staff_client.get("/admin/main/user/").content.decode()
    assert 'href="/admin/main/user/add/"' not in listing
    assert "delete_selected" not in listing
    assert sorted(User.objects.values_list("username", flat=True)) == [
        learner.username,
        "staffer",
    ]


def test_a_superuser_keeps_the_password_form_and_the_identity_fields(superuser_client):
    learner = UserFactory(username="ada", email="ada@example.edu")
    url = f"/admin/main/user/{learner.pk}/password/"
    assert superuser_client.get(url).status_code == 200
    response = superuser_client.post(
        url,
        {
            "password1": "New-pass-2026!",
            "password2": "New-pass-2026!",
            "set_usable_password": "true",
        },
    )
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.check_password("New-pass-2026!") is True

    data = user_form(superuser_client, learner)
    assert {"username", "email", "is_active"} <= set(data)
    data["email"] = "ada.lovelace@example.edu"
    assert superuser_client.post(f"/admin/main/user/{learner.pk}/change/", data).status_code == 302
    learner.refresh_from_db()
    assert learner.email == "ada.lovelace@example.edu"


# -- enrollment codes and the catalog ------------------------------------------------------------


def test_codes_are_read_only_and_searchable(superuser_client, contract, catalog):
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    codes = list(Discount.objects.order_by("pk"))
    Discount.objects.filter(pk=codes[0].pk).update(is_active=False)
    base = "/admin/ecommerce/discount/"
    found = superuser_client.get(base, {"q": f"  {codes[1].discount_code.upper()} "})
    assert [c.pk for c in found.context["cl"].result_list] == [codes[1].pk]
    deactivated = superuser_client.get(base, {"state": "deactivated", "contract": contract.pk})
    assert [c.pk for c in deactivated.context["cl"].result_list] == [codes[0].pk]
    usable = superuser_client.get(base, {"state": "usable", "contract": contract.pk})
    assert sorted(c.pk for c in usable.context["cl"].result_list) == [codes[1].pk, codes[2].pk]
    assert superuser_client.get(f"{base}add/").status_code == 403
    assert superuser_client.post(f"{base}{codes[1].pk}/change/", {"amount": "1"}).status_code == 403


def test_staff_flag_a_source_run_and_a_second_one_is_refused(client, catalog, wagtail_site):
    member = staff_member()
    client.login(username=member.username, password=PASSWORD)
    run = CourseRun.objects.create(
        course=catalog.no_source,
        courseware_id="course-v1:MITxT+JPAL102x+SOURCE",
        run_tag="SOURCE",
        title="Randomized Evaluations",
    )
    url = f"/admin/courses/courserun/{run.pk}/change/"
    data = form_fields(client.get(url).content.decode(), "courserun_form")
    data["is_source_run"] = "on"
    assert client.post(url, data).status_code == 302
    run.refresh_from_db()
    assert run.is_source_run is True

    second = CourseRun.objects.create(
        course=catalog.no_source,
        courseware_id="course-v1:MITxT+JPAL102x+1T2026",
        run_tag="1T2026",
        title="Randomized Evaluations",
    )
    url = f"/admin/courses/courserun/{second.pk}/change/"
    data = form_fields(client.get(url).content.decode(), "courserun_form")
    data["is_source_run"] = "on"
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["is_source_run"] == [
        "course-v1:MITxT+JPAL102x already has a source run (course-v1:MITxT+JPAL102x+SOURCE): "
        "untick it there first (a course has one source run)."
    ]


RUN_FIELDS = (
    "title",
    "run_tag",
    "start_date",
    "end_date",
    "enrollment_start",
    "enrollment_end",
    "live",
    "is_self_paced",
    "is_source_run",
)


def run_state(run) -> dict:
    return CourseRun.objects.values(*RUN_FIELDS).get(pk=run.pk)


def run_edit(client, run, **changes) -> object:
    """The run's change form as the page fills it in, with ``changes`` (False unticks)."""
    url = f"/admin/courses/courserun/{run.pk}/change/"
    data = form_fields(client.get(url).content.decode(), "courserun_form")
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return client.post(url, data)


def split(name: str, when: str) -> dict:
    """A datetime field as the admin posts it (``name_0`` date, ``name_1`` time)."""
    date, time = when.split(" ")
    return {f"{name}_0": date, f"{name}_1": time}


def test_b2b_staff_change_is_source_run_only_on_a_public_run(staff_client, catalog):
    run = CourseRun.objects.create(
        course=catalog.no_source,
        courseware_id="course-v1:MITxT+JPAL102x+1T2026",
        run_tag="1T2026",
        title="Randomized Evaluations",
        live=True,
    )
    before = run_state(run)
    page = staff_client.get(f"/admin/courses/courserun/{run.pk}/change/")
    assert sorted(page.context["adminform"].form.fields) == ["is_source_run"]

    response = run_edit(
        staff_client,
        run,
        title="Hijacked",
        run_tag="EVIL",
        live=False,
        is_self_paced=True,
        is_source_run=True,
        **split("start_date", "2020-01-01 00:00:00"),
        **split("end_date", "2020-01-02 00:00:00"),
        **split("enrollment_start", "2020-01-01 00:00:00"),
        **split("enrollment_end", "2020-01-02 00:00:00"),
    )

    assert response.status_code == 302
    assert run_state(run) == {**before, "is_source_run": True}


def test_b2b_staff_cannot_change_a_contract_runs_fields(
    staff_client, contract, catalog, run_command
):
    run_command("b2b_courseware", "add", str(contract.pk), catalog.data.readable_id)
    run = CourseRun.objects.get(b2b_contract=contract)
    before = run_state(run)
    history = len(audit_history(contract.pk))

    response = run_edit(staff_client, run, title="Hijacked", live=False)

    assert response.status_code == 302
    assert run_state(run) == before
    assert len(audit_history(contract.pk)) == history


def test_a_superuser_changes_a_public_runs_title_and_dates(superuser_client, catalog):
    run = CourseRun.objects.create(
        course=catalog.no_source,
        courseware_id="course-v1:MITxT+JPAL102x+1T2026",
        run_tag="1T2026",
        title="Randomized Evaluations",
    )
    response = run_edit(
        superuser_client,
        run,
        title="Randomized Evaluations (2026)",
        live=True,
        **split("start_date", "2026-01-05 00:00:00"),
        **split("end_date", "2026-04-30 00:00:00"),
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.title, run.live, run.start_date.isoformat(), run.end_date.isoformat()) == (
        "Randomized Evaluations (2026)",
        True,
        "2026-01-05T00:00:00+00:00",
        "2026-04-30T00:00:00+00:00",
    )


def test_a_run_ending_before_it_starts_is_refused(superuser_client, catalog):
    run = CourseRun.objects.create(
        course=catalog.no_source,
        courseware_id="course-v1:MITxT+JPAL102x+1T2026",
        run_tag="1T2026",
        title="Randomized Evaluations",
    )
    before = run_state(run)
    response = run_edit(
        superuser_client,
        run,
        **split("start_date", "2026-04-30 00:00:00"),
        **split("end_date", "2026-01-05 00:00:00"),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["end_date"] == [
        "It must not be before the start date."
    ]
    assert run_state(run) == before


def test_a_superusers_change_to_a_contract_run_is_in_the_contracts_history(
    superuser_client, admin_user, contract, catalog, run_command, django_capture_on_commit_callbacks
):
    run_command("b2b_courseware", "add", str(contract.pk), catalog.data.readable_id)
    run = CourseRun.objects.get(b2b_contract=contract)
    old_title = run.title

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = run_edit(superuser_client, run, title="Data Analysis (UX cohort)", live=False)

    assert response.status_code == 302
    assert callbacks == []  # Open edX is off: nothing queued
    entry = audit_history(contract.pk)[-1]
    assert (entry.action, entry.via, entry.actor, entry.changes) == (
        "courseware.change",
        "admin",
        admin_user.email,
        {
            "run": run.courseware_id,
            "title": {"before": old_title, "after": "Data Analysis (UX cohort)"},
            "live": {"before": True, "after": False},
        },
    )
    # Saved unchanged: nothing recorded.
    assert run_edit(superuser_client, run).status_code == 302
    assert audit_history(contract.pk)[-1] == entry
