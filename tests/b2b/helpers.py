"""Helpers for b2b tests: contracts built by the factories or made the way an operator does,
codes inspected."""

import uuid
from typing import Any

from b2b.models import ContractPage
from ecommerce.models import Discount
from tests.factories import ContractFactory, OrganizationFactory


def make_contract(
    run_command, *argv: str, org: str = "University X", key: str = "UX"
) -> ContractPage:
    """``b2b_contract create`` as an operator runs it (creating the organization when needed);
    returns the contract. For tests of the commands: others build theirs with ``new_contract``."""
    from b2b.models import OrganizationPage

    extra = (
        []
        if OrganizationPage.objects.filter(org_key=key).exists()
        else ["--create", "--org-key", key]
    )
    out = run_command("b2b_contract", "create", org, *argv, *extra)
    return ContractPage.objects.get(pk=int(out.stdout))


def new_contract(
    name: str,
    integration_type: str = "non-sso",
    *,
    org: str = "University X",
    key: str = "UX",
    **fields: Any,
) -> ContractPage:
    """A contract of organization ``org`` (``key``; made when missing), built by the factories:
    what ``b2b_contract create`` leaves. ``fields`` are the contract's (``max_learners``,
    ``enrollment_fixed_price``, ``contract_start``, ``description``...)."""
    return ContractFactory(
        organization=OrganizationFactory(name=org, org_key=key),
        name=name,
        integration_type=integration_type,
        **fields,
    )


def codes_of(product) -> list[Discount]:
    return list(Discount.objects.filter(product_links__product=product).order_by("pk"))


def is_uuid4(text: str) -> bool:
    try:
        value = uuid.UUID(text)
    except ValueError:
        return False
    return value.version == 4 and str(value) == text
