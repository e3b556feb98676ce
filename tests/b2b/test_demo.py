"""The source document's walkthroughs, end to end on the real catalog (``make demo``'s last step)."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from b2b.models import ContractPage, OrganizationPage
from courses.models import CourseRun
from ecommerce.models import Discount, Product
from main.accounts import email_is_verified
from main.services import site_configure
from tests.b2b.helpers import is_uuid4


@pytest.mark.django_db(transaction=True)
def test_demo_runs_both_walkthroughs(tmp_path, monkeypatch, settings):
    settings.SITE_BASE_URL = "http://127.0.0.1:8000"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"  # as embedded
    settings.EMAIL_FILE_PATH = str(settings.BASE_DIR / "sent-mail")
    monkeypatch.chdir(tmp_path)
    site_configure()
    call_command("load_catalog", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("b2b_demo", stdout=out, stderr=io.StringIO())

    year = timezone.now().astimezone(dt.UTC).year
    sso = ContractPage.objects.get(name="University X SSO Contract")
    typical = ContractPage.objects.get(name="UniversityX Contract")
    assert list(OrganizationPage.objects.order_by("pk").values_list("name", "org_key")) == [
        ("University X", "UX"),
        ("UniversityX", "UniversityX"),
    ]
    assert (
        sso.integration_type,
        sso.max_learners,
        typical.integration_type,
        typical.max_learners,
    ) == (
        "sso",
        None,
        "non-sso",
        200,
    )
    # SSO walkthrough: a course and a whole program (DEDP: 6 courses, 14.310x shared).
    assert sso.course_runs.count() == 6
    assert (
        Discount.objects.filter(product_links__product__course_run__b2b_contract=sso).count() == 0
    )
    # Typical walkthrough: one run with the key format, one product, 200 codes in the CSV.
    run = CourseRun.objects.get(b2b_contract=typical)
    assert run.courseware_id == f"course-v1:UAI_UniversityX+14.100x+{year}_C{typical.pk}"
    product = Product.objects.get(course_run=run, is_active=True)
    rows = list(csv.reader((tmp_path / f"codes-{typical.pk}.csv").open(encoding="utf-8")))
    assert rows[0] == ["Code", "Product", "Redeemed", "Product URL"]
    codes = [r[0] for r in rows[1:]]
    assert len(codes) == 200 and len(set(codes)) == 200
    assert all(is_uuid4(code) for code in codes)
    linked = set(
        Discount.objects.filter(
            discount_code__in=codes, product_links__product=product
        ).values_list("discount_code", flat=True)
    )
    assert linked == set(codes)
    assert {r[3] for r in rows[1:]} == {f"http://127.0.0.1:8000/cart/add/?product_id={product.pk}"}
    text = out.getvalue()
    assert "$ manage.py b2b_list contracts --codes" in text
    assert f"Wrote 200 codes to codes-{typical.pk}.csv" in text
    # the staff login it prints works, and is a B2B staff member, not a superuser
    from django.contrib.auth import authenticate

    assert "Staff login: staff / b2b-staff-demo" in text
    assert (
        "Wagtail admin: http://127.0.0.1:8000/cms/ — Pages → Organizations: organizations and "
        "contracts (basics, learner provisioning, availability)\n"
        f"A contract's own pages: http://127.0.0.1:8000/cms/b2b/contracts/{typical.pk}/ — "
        "overview, courseware (add a course), enrollment codes (CSV, deactivate), learners "
        "(attach by email: ada@example.edu, grace@example.edu, alan@example.edu), history\n"
    ) in text
    assert f"http://127.0.0.1:8000/admin/b2b/contractpage/{typical.pk}/change/" in text
    staff = authenticate(username="staff", password="b2b-staff-demo")
    assert (
        staff.is_staff,
        staff.is_superuser,
        list(staff.groups.values_list("name", flat=True)),
    ) == (
        True,
        False,
        ["B2B staff"],
    )
    # Walkthrough 3: a manager for UniversityX and three seats assigned by email, each holding
    # one of the CSV's codes (the learner below gets one that no seat holds).
    from b2b.models import OrganizationManager, SeatAssignment, SeatAssignmentCode

    assert list(OrganizationManager.objects.values_list("email", "organization__name")) == [
        ("manager@universityx.example.edu", "UniversityX")
    ]
    assert sorted(SeatAssignment.objects.values_list("email", "status")) == [
        ("amara.new@universityx.example.edu", "open"),
        ("bao.new@universityx.example.edu", "open"),
        ("carmen.new@universityx.example.edu", "open"),
    ]
    assert "Manager login: manager / manage-universityx" in text
    assert authenticate(username="manager", password="manage-universityx") is not None
    held = set(SeatAssignmentCode.objects.values_list("discount__discount_code", flat=True))
    assert len(held) == 3 and held <= set(codes)
    codes = [c for c in codes if c not in held]
    # What a learner needs to try the cart: a Product URL, a login, an unused code of the CSV.
    assert text.endswith(
        "== Try it as a learner (run `make run`)\n"
        "New learner: sign up at http://127.0.0.1:8000/signup/, open the confirmation link of "
        "the mail, then join with the code below and enroll from My courses (no other code "
        "needed).\n"
        f"Join link: http://127.0.0.1:8000/join/{codes[0]}/ (or type the code at "
        "http://127.0.0.1:8000/join/)\n"
        f"Enrollment code: {codes[0]}\n"
        "Learner login: learner / learn-with-a-code\n"
        "Product URL (the course link, with the same code): "
        f"http://127.0.0.1:8000/cart/add/?product_id={product.pk}\n"
        "Sent mail: written to sent-mail/ (one .log file per mail, readable in any editor)\n"
    )
    assert authenticate(username="learner", password="learn-with-a-code") is not None
    # The demo learner's address counts as confirmed: the login page lets them in at once.
    login = Client().post("/login/", {"login": "learner", "password": "learn-with-a-code"})
    assert (login.status_code, login["Location"]) == (302, "/dashboard/")
    assert email_is_verified(
        get_user_model().objects.get(username="learner"), "learner@example.edu"
    )
    # So does the staff member's: the login page takes them to Wagtail's admin.
    staff = Client().post("/login/", {"login": "staff", "password": "b2b-staff-demo"})
    assert (staff.status_code, staff["Location"]) == (302, "/cms/")


@pytest.mark.django_db
def test_demo_without_catalog_says_what_to_do(wagtail_site):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as refusal:
        call_command("b2b_demo", stdout=io.StringIO(), stderr=io.StringIO())
    assert str(refusal.value) == (
        "The catalog is not loaded (course-v1:MITxT+14.310x, course-v1:MITxT+14.100x, "
        "program-v1:MITx+DEDP missing): run `manage.py load_catalog` first, or `make demo`, "
        "which does everything."
    )
