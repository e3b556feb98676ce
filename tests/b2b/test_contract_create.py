"""b2b_contract create: SPEC §2, and every refusal of issue 2's "Bad input"."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management.base import CommandError

from b2b.models import ContractCodesLock, ContractPage, OrganizationPage
from tests.b2b.helpers import new_contract

pytestmark = pytest.mark.django_db


def test_create_with_new_organization(wagtail_site, run_command):
    out = run_command(
        "b2b_contract",
        "create",
        "University X",
        "Contract Name",
        "sso",
        "--description",
        "Test uncapped SSO contract",
        "--create",
        "--org-key",
        "UX",
    )
    org = OrganizationPage.objects.get()
    contract = ContractPage.objects.get()
    assert out.stdout == f"{contract.pk}\n"
    assert out.stderr.splitlines()[:2] == [
        f"Created organization 'University X' (ID {org.pk}, org key UX).",
        f"Created contract 'Contract Name' (ID {contract.pk}, slug contract-name) for "
        f"'University X'. Next: manage.py b2b_courseware add {contract.pk} <readable ID>",
    ]
    assert (org.name, org.org_key, org.slug, org.title, org.live) == (
        "University X",
        "UX",
        "university-x",
        "University X",
        True,
    )
    assert org.get_parent().specific_class.__name__ == "OrganizationIndexPage"
    assert contract.get_parent().pk == org.pk
    assert contract.organization_id == org.pk
    assert (
        contract.name,
        contract.slug,
        contract.integration_type,
        contract.active,
        contract.max_learners,
        contract.enrollment_fixed_price,
        contract.contract_start,
        contract.contract_end,
        contract.description,
    ) == (
        "Contract Name",
        "contract-name",
        "sso",
        True,
        None,
        None,
        None,
        None,
        "Test uncapped SSO contract",
    )
    # Published: the latest revision holds what the command wrote.
    assert contract.live and contract.latest_revision is not None
    assert contract.latest_revision.as_object().max_learners is None
    assert ContractCodesLock.objects.filter(contract=contract).exists()


def test_create_with_every_option_and_json_output(wagtail_site, run_command):
    import json

    out = run_command(
        "b2b_contract",
        "create",
        "UniversityX",
        "UniversityX Contract",
        "non-sso",
        "--create",
        "--org-key",
        "UniversityX",
        "--start",
        "2026-01-01",
        "--end",
        "2026-12-31",
        "--max-learners",
        "200",
        "--price",
        "49.9",
        "--description",
        "Capped",
        "--format",
        "json",
    )
    contract = ContractPage.objects.get()
    assert json.loads(out.stdout) == {
        "id": contract.pk,
        "name": "UniversityX Contract",
        "slug": "universityx-contract",
        "organization_id": contract.organization_id,
        "organization": "UniversityX",
        "integration_type": "non-sso",
        "active": True,
        "start": "2026-01-01",
        "end": "2026-12-31",
        "max_learners": 200,
        "price": "49.90",
        "learners": 0,
        "description": "Capped",
    }
    assert contract.enrollment_fixed_price == Decimal("49.90")
    assert contract.contract_start == dt.date(2026, 1, 1)


def test_existing_organization_found_by_name_or_key_case_insensitively(wagtail_site, run_command):
    run_command(
        "b2b_contract", "create", "University X", "First", "sso", "--create", "--org-key", "UX"
    )
    run_command("b2b_contract", "create", "university x", "Second", "sso")
    run_command("b2b_contract", "create", "ux", "Third", "non-sso")
    # --create for an existing organization with the same key uses it.
    run_command(
        "b2b_contract", "create", "University X", "Fourth", "sso", "--create", "--org-key", "ux"
    )
    org = OrganizationPage.objects.get()
    assert sorted(org.contracts.values_list("name", flat=True)) == [
        "First",
        "Fourth",
        "Second",
        "Third",
    ]


def test_two_contracts_with_the_same_name_get_distinct_slugs(wagtail_site, run_command):
    run_command("b2b_contract", "create", "U", "Same", "sso", "--create", "--org-key", "U")
    run_command("b2b_contract", "create", "U", "Same", "sso")
    assert list(ContractPage.objects.order_by("pk").values_list("slug", flat=True)) == [
        "same",
        "same-1",
    ]


def test_free_price_zero_is_stored_as_cents(wagtail_site, run_command):
    run_command(
        "b2b_contract",
        "create",
        "U",
        "Free",
        "non-sso",
        "--create",
        "--org-key",
        "U",
        "--price",
        "0",
    )
    assert ContractPage.objects.get().enrollment_fixed_price == Decimal("0.00")


@pytest.fixture
def existing_org(wagtail_site):
    new_contract("Existing", "sso")


REFUSALS = [
    pytest.param(
        ["Nowhere U", "C", "sso"],
        "No organization named or keyed 'Nowhere U': to create it, add --create --org-key "
        "<org key>; `manage.py b2b_list organizations` lists the existing ones.",
        id="unknown-organization-without-create",
    ),
    pytest.param(
        ["Nowhere U", "C", "sso", "--create"],
        "--create needs --org-key: give the new organization's key, for example --create "
        "--org-key UniversityX.",
        id="create-without-org-key",
    ),
    pytest.param(
        ["Other U", "C", "sso", "--create", "--org-key", "ux"],
        "Org key 'ux' is already used by 'University X' (ID {org_id}): choose another --org-key.",
        id="duplicate-org-key",
    ),
    pytest.param(
        ["University X", "C", "sso", "--create", "--org-key", "UXX"],
        "Organization 'University X' already exists with org key 'UX', not 'UXX': drop --create "
        "to use it, or give a different name for a new organization.",
        id="create-existing-organization-with-other-key",
    ),
    pytest.param(
        ["Other U", "C", "sso", "--create", "--org-key", "bad key!"],
        "Org key 'bad key!' is not valid: use 1 to 30 letters, digits or underscores (for "
        "example UniversityX or MIT_OL).",
        id="malformed-org-key",
    ),
    pytest.param(
        ["Other U", "C", "sso", "--create", "--org-key", "K" * 31],
        f"Org key '{'K' * 31}' is not valid: use 1 to 30 letters, digits or underscores (for "
        "example UniversityX or MIT_OL).",
        id="org-key-too-long",
    ),
    pytest.param(
        ["University X", "C", "sso", "--org-key", "UX"],
        "--org-key only applies with --create (when the organization is new); drop it to use an "
        "existing organization.",
        id="org-key-without-create",
    ),
    pytest.param(
        ["University X", "C", "sso", "--start", "2026-13-01"],
        "Error: argument --start: --start '2026-13-01' is not a date: use YYYY-MM-DD, for "
        "example 2026-01-31.",
        id="bad-start-date",
    ),
    pytest.param(
        ["University X", "C", "sso", "--end", "31/12/2026"],
        "Error: argument --end: --end '31/12/2026' is not a date: use YYYY-MM-DD, for example "
        "2026-01-31.",
        id="bad-end-date",
    ),
    pytest.param(
        ["University X", "C", "sso", "--start", "2026-12-31", "--end", "2026-01-01"],
        "The contract would end (2026-01-01) before it starts (2026-12-31): give a start date on "
        "or before the end date.",
        id="reversed-dates",
    ),
    pytest.param(
        ["University X", "C", "sso", "--price", "-1"],
        "The price -1 is out of range: use an amount from 0.00 to 99999.99 (or --no-price for a "
        "free contract).",
        id="negative-price",
    ),
    pytest.param(
        ["University X", "C", "sso", "--price", "100000"],
        "The price 100000 is out of range: use an amount from 0.00 to 99999.99 (or --no-price "
        "for a free contract).",
        id="price-too-large",
    ),
    pytest.param(
        ["University X", "C", "sso", "--price", "10.005"],
        "The price 10.005 has more than two decimal places: give it in cents at most, for "
        "example 49.99.",
        id="price-too-precise",
    ),
    pytest.param(
        ["University X", "C", "sso", "--price", "ten"],
        "Error: argument --price: 'ten' is not a price: give an amount such as 250 or 49.99.",
        id="price-not-a-number",
    ),
    pytest.param(
        ["University X", "C", "sso", "--max-learners", "0"],
        "The learner cap must be a whole number of at least 1 (got 0); leave it empty "
        "(--no-learner-cap) for an uncapped contract.",
        id="cap-below-one",
    ),
    pytest.param(
        ["University X", "C", "sso", "--max-learners", "many"],
        "Error: argument --max-learners: 'many' is not a number of learners: give a whole number "
        "of at least 1.",
        id="cap-not-a-number",
    ),
    pytest.param(
        ["University X", "C", "both"],
        "Error: argument integration_type: invalid choice: 'both' (choose from 'sso', 'non-sso')",
        id="bad-integration-type",
    ),
    pytest.param(
        ["University X", "  ", "sso"],
        "The contract name is empty: give the contract a descriptive name.",
        id="empty-contract-name",
    ),
]


@pytest.mark.parametrize(("argv", "message"), REFUSALS)
def test_refusals_change_nothing(existing_org, run_command, unchanged, argv, message):
    org_id = OrganizationPage.objects.get().pk
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "create", *argv)
    assert str(refusal.value) == message.format(org_id=org_id)
