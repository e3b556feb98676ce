"""GET /api/v0/courses/: the public catalog. Source runs and B2B runs never appear (SPEC §1)."""

import datetime as dt

import pytest

from b2b.models import ContractPage, OrganizationPage
from tests.factories import CourseFactory, CourseRunFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def contract(wagtail_site):
    index = wagtail_site.home.get_children().get().specific
    organization = OrganizationPage(title="Acme", slug="acme", name="Acme", org_key="ACME")
    index.add_child(instance=organization)
    contract = ContractPage(
        title="Acme 2026", slug="acme-2026", name="Acme 2026", integration_type="non-sso"
    )
    organization.add_child(instance=contract)
    return contract


@pytest.fixture
def public_catalog(contract):
    """Course A with every kind of run; B with only a (live) source run; C not live."""
    a = CourseFactory(readable_id="course-v1:TestX+A1", title="Course A")
    CourseRunFactory(
        course=a,
        run_tag="1T2024",
        start_date=dt.datetime(2024, 2, 1, tzinfo=UTC),
        end_date=dt.datetime(2024, 5, 31, 23, 59, 59, tzinfo=UTC),
        enrollment_start=dt.datetime(2024, 1, 1, tzinfo=UTC),
    )
    CourseRunFactory(course=a, run_tag="2T2024", title="Course A, self-paced", is_self_paced=True)
    CourseRunFactory(course=a, run_tag="3T2024", live=False)  # not live
    CourseRunFactory(course=a, run_tag="SOURCE", is_source_run=True, live=False)
    # a contract run, and a run that was one (removed from its contract): both live
    CourseRunFactory(course=a, run_tag="2026_C1", is_b2b=True, b2b_contract=contract)
    CourseRunFactory(course=a, run_tag="2025_C9", is_b2b=True, b2b_contract=None)

    b = CourseFactory(readable_id="course-v1:TestX+B1", title="Course B")
    CourseRunFactory(course=b, run_tag="SOURCE", is_source_run=True, live=True)
    CourseRunFactory(
        course=b, run_tag="2026_C1", is_b2b=True, b2b_contract=contract, is_self_paced=True
    )

    c = CourseFactory(readable_id="course-v1:TestX+C1", title="Course C", live=False)
    CourseRunFactory(course=c, run_tag="1T2024")


COURSE_A = {
    "readable_id": "course-v1:TestX+A1",
    "title": "Course A",
    "runs": [
        {
            "courseware_id": "course-v1:TestX+A1+1T2024",
            "run_tag": "1T2024",
            "title": "Course A",
            "start_date": "2024-02-01T00:00:00Z",
            "end_date": "2024-05-31T23:59:59Z",
            "enrollment_start": "2024-01-01T00:00:00Z",
            "enrollment_end": None,
            "is_self_paced": False,
        },
        {
            "courseware_id": "course-v1:TestX+A1+2T2024",
            "run_tag": "2T2024",
            "title": "Course A, self-paced",
            "start_date": None,
            "end_date": None,
            "enrollment_start": None,
            "enrollment_end": None,
            "is_self_paced": True,
        },
    ],
}


def test_lists_live_courses_with_their_public_runs_only(
    client, public_catalog, django_assert_num_queries
):
    # given courses with public, unpublished, source and B2B runs
    # when an anonymous visitor asks for the catalog
    with django_assert_num_queries(2):
        response = client.get("/api/v0/courses/")

    # then only live courses appear, each with its live non-source non-B2B runs
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == [
        COURSE_A,
        {"readable_id": "course-v1:TestX+B1", "title": "Course B", "runs": []},
    ]


def test_one_course_by_readable_id(client, public_catalog):
    response = client.get("/api/v0/courses/course-v1:TestX+A1/")

    assert response.status_code == 200
    assert response.json() == COURSE_A


def test_a_course_that_is_not_live_is_not_found(client, public_catalog):
    response = client.get("/api/v0/courses/course-v1:TestX+C1/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not-found",
        "message": "Nothing here: check the ID in the URL.",
    }


def test_a_run_removed_from_its_contract_stays_out_of_the_catalog(client, public_catalog):
    # given the contract run of course B released from its contract (it stays a B2B run)
    from courses.models import CourseRun

    run = CourseRun.objects.get(courseware_id="course-v1:TestX+B1+2026_C1")
    run.b2b_contract = None
    run.save(update_fields=["b2b_contract"])

    # when / then
    response = client.get("/api/v0/courses/course-v1:TestX+B1/")
    assert response.json() == {"readable_id": "course-v1:TestX+B1", "title": "Course B", "runs": []}


def test_an_empty_catalog_is_an_empty_list(client, db):
    response = client.get("/api/v0/courses/")

    assert (response.status_code, response.json()) == (200, [])


def test_the_catalog_is_read_only(client, public_catalog):
    from courses.models import Course

    response = client.post(
        "/api/v0/courses/",
        {"readable_id": "course-v1:TestX+Z1", "title": "Z"},
        content_type="application/json",
    )

    assert response.status_code == 405
    assert Course.objects.count() == 3
