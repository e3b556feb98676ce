"""My courses lists the learner's contracts and their runs, one card per run; Enroll (free
contracts) goes through the checkout's service for every attached learner, whatever how they
came (SPEC §5 widened, §6)."""

import pytest

from b2b.models import ContractMembership, ContractPage
from courses.models import CourseRun, CourseRunEnrollment
from tests.factories import ContractRunFactory, UserFactory, run_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client):
    user = UserFactory(username="ada", email="ada@x.example")
    client.force_login(user)
    return user


def cards(response):
    return [
        (s.contract.name, s.source, [(c.run.pk, c.status) for c in s.cards])
        for s in response.context["courses"].contracts
    ]


def test_my_courses_offers_enroll_on_free_contracts_and_buy_on_priced_ones(
    client, ada, world, catalog
):
    code_run = ContractRunFactory(b2b_contract=world.acme_codes, course=catalog.micro)
    priced_run = ContractRunFactory(b2b_contract=world.acme_priced, course=catalog.micro)
    product = run_product(priced_run)
    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="sso")
    ContractMembership.objects.create(user=ada, contract=world.acme_codes, source="code")
    ContractMembership.objects.create(user=ada, contract=world.acme_priced, source="manual")
    free_run = CourseRun.objects.get(b2b_contract=world.acme_free)

    response = client.get("/dashboard/")

    assert cards(response) == [
        ("Acme SSO", "sso", [(free_run.pk, "can-enroll")]),
        ("Acme codes", "code", [(code_run.pk, "can-enroll")]),
        ("Acme priced", "manual", [(priced_run.pk, "buy")]),
    ]
    page = response.content.decode()
    assert page.count(">Enroll</button>") == 2
    assert f'action="/dashboard/enroll/{free_run.pk}/"' in page
    assert f'action="/dashboard/enroll/{code_run.pk}/"' in page
    assert f'href="/cart/add/?product_id={product.pk}">Enroll for $100.00</a>' in page
    assert "course-v1:" not in page  # no internal keys in what a learner reads


def test_enroll_button_enrolls_through_contract_enroll(client, ada, world):
    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="sso")
    run = CourseRun.objects.get(b2b_contract=world.acme_free)
    response = client.post(f"/dashboard/enroll/{run.pk}/")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/dashboard/#contract-{world.acme_free.pk}",
    )
    assert CourseRunEnrollment.objects.filter(user=ada, run=run, active=True).count() == 1
    page = client.get("/dashboard/")
    assert [str(m) for m in page.context["messages"]] == [
        "You are enrolled in Data Analysis for Social Scientists."
    ]
    assert cards(page) == [("Acme SSO", "sso", [(run.pk, "enrolled")])]


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
    # a member, but the contract now has a price: bought from My courses, with no code
    by_cart = (
        "Data Analysis for Social Scientists costs $10.00 under Acme's contract: buy it from My "
        "courses (no code needed), then check out."
    )
    assert messages == [("code-required", by_login), ("run-not-enrollable", by_cart)]
    assert CourseRunEnrollment.objects.filter(user=ada).count() == 0
    assert client.get(f"/dashboard/enroll/{run.pk}/").status_code == 405


def test_a_contract_shows_its_organizations_logo_and_welcome_text(client, ada, world):
    from io import BytesIO

    from django.core.files.images import ImageFile
    from PIL import Image as Picture
    from wagtail.images import get_image_model

    from b2b.models import OrganizationPage

    png = BytesIO()
    Picture.new("RGB", (400, 100), "#a31f34").save(png, "PNG")
    logo = get_image_model().objects.create(
        title="Acme logo", file=ImageFile(BytesIO(png.getvalue()), name="acme.png")
    )
    OrganizationPage.objects.filter(pk=world.acme.pk).update(logo=logo)
    ContractPage.objects.filter(pk=world.acme_free.pk).update(
        welcome_text="Welcome, Acme people.\n\nStart with <Data Analysis>."
    )
    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="sso")

    page = client.get("/dashboard/").content.decode()

    rendition = logo.get_rendition("max-160x64")
    assert (rendition.width, rendition.height) == (160, 40)
    assert f'src="{rendition.url}"' in page
    assert 'class="logo"' in page
    assert (
        '<div class="welcome"><p>Welcome, Acme people.</p>\n\n'
        "<p>Start with &lt;Data Analysis&gt;.</p></div>"
    ) in page


@pytest.mark.parametrize("extra", [0, 3])
def test_my_courses_reads_five_queries_whatever_the_numbers(
    ada, world, catalog, extra, django_assert_num_queries
):
    from b2b.services.my_courses import my_courses

    ContractMembership.objects.create(user=ada, contract=world.acme_free, source="sso")
    ContractMembership.objects.create(user=ada, contract=world.acme_priced, source="manual")
    for _ in range(extra):
        run = ContractRunFactory(b2b_contract=world.acme_priced)
        CourseRunEnrollment.objects.create(user=ada, run=run, active=True)

    with django_assert_num_queries(5):
        courses = my_courses(ada)

    assert [len(s.cards) for s in courses.contracts] == [1, extra]
    assert courses.enrolled_count == extra
