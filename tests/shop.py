"""Shared fixtures for the cart and checkout: contracts with a run, its product and its codes,
built by the factories, and learners."""

from dataclasses import dataclass

import pytest

from b2b.models import ContractPage
from courses.models import CourseRun
from ecommerce.models import Product
from tests.b2b.helpers import codes_of
from tests.factories import (
    ContractFactory,
    ContractRunFactory,
    OrganizationFactory,
    UserFactory,
    run_product,
)

SECURITY_KEY = "b2b-test-security-key-0123456789abcdef"


@dataclass
class Offer:
    """A contract with one run on it: the run's product and its usable codes (oldest first)."""

    contract: ContractPage
    run: CourseRun
    product: Product
    codes: list[str]


@pytest.fixture
def make_offer(wagtail_site, catalog):
    """``make_offer("Name", "non-sso", max_learners=5, price="20")``: a contract (of
    ``org``/``key``, University X by default) with a run of ``course`` (catalog.data by default),
    its product and its codes."""

    def make(
        name: str,
        integration_type: str,
        *,
        max_learners: int | None = None,
        price: str | None = None,
        course=None,
        org: str = "University X",
        key: str = "UX",
    ) -> Offer:
        contract = ContractFactory(
            organization=OrganizationFactory(name=org, org_key=key),
            name=name,
            integration_type=integration_type,
            max_learners=max_learners,
            enrollment_fixed_price=price,
        )
        run = ContractRunFactory(b2b_contract=contract, course=course or catalog.data)
        product = run_product(run)
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
