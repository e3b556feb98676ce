"""Shared fixtures for the cart and checkout: contracts with a run, its product and its codes,
made the way an operator makes them (the real commands), and learners."""

from dataclasses import dataclass

import pytest

from b2b.models import ContractPage
from courses.models import CourseRun
from ecommerce.models import Product
from tests.b2b.helpers import codes_of, make_contract
from tests.factories import UserFactory

SECURITY_KEY = "b2b-test-security-key-0123456789abcdef"


@dataclass
class Offer:
    """A contract with one run on it: the run's product and its usable codes (oldest first)."""

    contract: ContractPage
    run: CourseRun
    product: Product
    codes: list[str]


@pytest.fixture
def make_offer(wagtail_site, catalog, run_command):
    """``make_offer("Name", "non-sso", "--max-learners", "5")``: contract + course + codes."""

    def make(*argv: str, course=None, org: str = "University X", key: str = "UX") -> Offer:
        contract = make_contract(run_command, *argv, org=org, key=key)
        course = course or catalog.data
        run_command("b2b_courseware", "add", str(contract.pk), course.readable_id)
        run = CourseRun.objects.get(b2b_contract=contract, course=course)
        product = Product.objects.get(course_run=run, is_active=True)
        return Offer(contract, run, product, [d.discount_code for d in codes_of(product)])

    return make


@pytest.fixture
def learner(db):
    return UserFactory(username="ada", email="ada@example.edu", name="Ada Learner")


@pytest.fixture
def payments(settings):
    """CyberSource configured with a known security key (the gateway itself is never called)."""
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_ACCESS_KEY = "test-access-key"
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_PROFILE_ID = "test-profile-id"
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURITY_KEY = SECURITY_KEY
    settings.MITOL_PAYMENT_GATEWAY_CYBERSOURCE_SECURE_ACCEPTANCE_URL = (
        "https://testsecureacceptance.cybersource.com/pay"
    )
    settings.SITE_BASE_URL = "http://testserver"
    return settings
