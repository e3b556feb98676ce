"""The learner's dashboard lists their contracts and courses; Enroll for free SSO contracts only
goes through the checkout's service (SPEC §5, §6)."""

import pytest

from b2b.models import ContractMembership, ContractPage
from courses.models import CourseRun, CourseRunEnrollment
from tests.factories import ContractRunFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client):
    user = UserFactory(username="ada", email="ada@x.example")
    client.force_login(user)
    return user


def test_dashboard_lists_contracts_with_enroll_only_for_free_sso(client, ada, world, catalog):
    ContractRunFactory(b2b_contract=world.acme_codes, course=catalog.micro)
    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="sso")
    ContractMembership.objects.create(user=ada, contract=world.acme_codes, source="code")
    free_run = CourseRun.objects.get(b2b_contract=world.acme_free)
    code_run = CourseRun.objects.get(b2b_contract=world.acme_codes)
    response = client.get("/dashboard/")
    items = response.context["contracts"]
    assert [
        (i.contract.name, i.source, [(r.run.pk, r.enrolled, r.can_enroll) for r in i.runs])
        for i in items
    ] == [
        ("Acme SSO", "sso", [(free_run.pk, False, True)]),
        ("Acme codes", "code", [(code_run.pk, False, False)]),
    ]
    page = response.content.decode()
    assert page.count(">Enroll</button>") == 1
    assert f'action="/dashboard/enroll/{free_run.pk}/"' in page


def test_enroll_button_enrolls_through_contract_enroll(client, ada, world):
    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="sso")
    run = CourseRun.objects.get(b2b_contract=world.acme_free)
    response = client.post(f"/dashboard/enroll/{run.pk}/")
    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert CourseRunEnrollment.objects.filter(user=ada, run=run, active=True).count() == 1
    page = client.get("/dashboard/")
    assert [str(m) for m in page.context["messages"]] == [
        "You are enrolled in Data Analysis for Social Scientists."
    ]
    assert [(r.enrolled, r.can_enroll) for r in page.context["contracts"][0].runs] == [
        (True, False)
    ]


def test_enroll_refused_without_membership_or_on_a_priced_contract(client, ada, world):
    run = CourseRun.objects.get(b2b_contract=world.acme_free)
    client.post(f"/dashboard/enroll/{run.pk}/")
    ContractPage.objects.filter(pk=world.acme_free.pk).update(enrollment_fixed_price="10.00")
    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="manual")
    client.post(f"/dashboard/enroll/{run.pk}/")
    messages = [(m.extra_tags, str(m)) for m in client.get("/dashboard/").context["messages"]]
    # not a member of a free SSO contract: the organization's login is the way in
    by_login = (
        "This course is offered to the learners of Acme through their organization's login: log "
        "in with your organization, then enroll from My courses."
    )
    # a member, but the contract now has a price: its learners use codes
    by_code = (
        "This course is offered through your organization: enter the enrollment code you were "
        "given to enroll."
    )
    assert messages == [("code-required", by_login), ("code-required", by_code)]
    assert CourseRunEnrollment.objects.filter(user=ada).count() == 0
    assert client.get(f"/dashboard/enroll/{run.pk}/").status_code == 405
