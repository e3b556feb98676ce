"""Helpers for b2b tests: make contracts the way an operator does, inspect codes."""

import uuid

from b2b.models import ContractPage
from ecommerce.models import Discount


def make_contract(
    run_command, *argv: str, org: str = "University X", key: str = "UX"
) -> ContractPage:
    """``b2b_contract create`` (creating the organization when needed); returns the contract."""
    from b2b.models import OrganizationPage

    extra = (
        []
        if OrganizationPage.objects.filter(org_key=key).exists()
        else ["--create", "--org-key", key]
    )
    out = run_command("b2b_contract", "create", org, *argv, *extra)
    return ContractPage.objects.get(pk=int(out.stdout))


def codes_of(product) -> list[Discount]:
    return list(Discount.objects.filter(product_links__product=product).order_by("pk"))


def is_uuid4(text: str) -> bool:
    try:
        value = uuid.UUID(text)
    except ValueError:
        return False
    return value.version == 4 and str(value) == text
