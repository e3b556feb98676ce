"""b2b_list organizations | contracts | courseware: keys, formats, filters (SPEC §2)."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management.base import CommandError

from b2b.models import OrganizationPage
from tests.b2b.helpers import new_contract
from tests.factories import MembershipFactory, contract_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_orgs(wagtail_site, catalog):
    sso = new_contract("SSO", "sso", description="Uncapped SSO")
    typical = new_contract(
        "Typical",
        "non-sso",
        max_learners=200,
        enrollment_fixed_price="12.5",
        contract_start=dt.date(2096, 1, 1),
        contract_end=dt.date(2096, 12, 31),
        org="UniversityX",
        key="UniversityX",
    )
    MembershipFactory(contract=typical)
    return sso, typical


def test_organizations_json(two_orgs, run_command):
    sso, typical = two_orgs
    rows = json.loads(run_command("b2b_list", "organizations", "--format", "json").stdout)
    assert rows == [
        {
            "id": sso.organization_id,
            "name": "University X",
            "org_key": "UX",
            "slug": "university-x",
            "sso_organization_id": None,
            "contracts": 1,
        },
        {
            "id": typical.organization_id,
            "name": "UniversityX",
            "org_key": "UniversityX",
            "slug": "universityx",
            "sso_organization_id": None,
            "contracts": 1,
        },
    ]
    only = json.loads(
        run_command(
            "b2b_list", "organizations", "--org", str(sso.organization_id), "--format", "json"
        ).stdout
    )
    assert [r["id"] for r in only] == [sso.organization_id]


def test_contracts_json_and_filter(two_orgs, run_command):
    sso, typical = two_orgs
    rows = json.loads(run_command("b2b_list", "contracts", "--format", "json").stdout)
    assert rows == [
        {
            "id": sso.pk,
            "name": "SSO",
            "slug": "sso",
            "organization_id": sso.organization_id,
            "organization": "University X",
            "integration_type": "sso",
            "active": True,
            "start": None,
            "end": None,
            "max_learners": None,
            "price": None,
            "learners": 0,
            "description": "Uncapped SSO",
        },
        {
            "id": typical.pk,
            "name": "Typical",
            "slug": "typical",
            "organization_id": typical.organization_id,
            "organization": "UniversityX",
            "integration_type": "non-sso",
            "active": True,
            "start": "2096-01-01",
            "end": "2096-12-31",
            "max_learners": 200,
            "price": "12.50",
            "learners": 1,
            "description": "",
        },
    ]
    filtered = json.loads(
        run_command(
            "b2b_list",
            "contracts",
            "--organization",
            str(typical.organization_id),
            "--format",
            "json",
        ).stdout
    )
    assert [r["id"] for r in filtered] == [typical.pk]


def test_contracts_csv(two_orgs, run_command):
    sso, typical = two_orgs
    rows = list(
        csv.reader(io.StringIO(run_command("b2b_list", "contracts", "--format", "csv").stdout))
    )
    assert rows[0] == [
        "id",
        "name",
        "slug",
        "organization_id",
        "organization",
        "integration_type",
        "active",
        "start",
        "end",
        "max_learners",
        "price",
        "learners",
        "description",
    ]
    assert rows[2] == [
        str(typical.pk),
        "Typical",
        "typical",
        str(typical.organization_id),
        "UniversityX",
        "non-sso",
        "true",
        "2096-01-01",
        "2096-12-31",
        "200",
        "12.50",
        "1",
        "",
    ]


def test_table_output_has_the_rows(two_orgs, run_command):
    out = run_command("b2b_list", "contracts").stdout
    assert "Typical" in out and "UniversityX" in out and "12.50" in out


def test_courseware_json(two_orgs, catalog, run_command):
    _, typical = two_orgs
    contract_program(typical, catalog.program)
    rows = json.loads(
        run_command(
            "b2b_list", "courseware", "--contract", str(typical.pk), "--format", "json"
        ).stdout
    )
    runs = [r for r in rows if r["type"] == "run"]
    assert [r["readable_id"] for r in runs] == [
        "course-v1:MITxT+14.100x",
        "course-v1:MITxT+14.310x",
        "course-v1:MITxT+14.73x",
    ]
    first = runs[0]
    assert {k: first[k] for k in ("title", "start", "end", "price", "codes", "edx_status")} == {
        "title": "Microeconomics",
        "start": "2096-01-01T00:00:00+00:00",
        "end": "2096-12-31T23:59:59+00:00",
        "price": "12.50",
        "codes": 200,
        "edx_status": "not-configured",
    }
    assert rows[-1] == {
        "type": "program",
        "readable_id": "program-v1:MITx+DEDP",
        "run": None,
        "title": "DEDP",
        "start": None,
        "end": None,
        "product_id": None,
        "price": None,
        "codes": None,
        "edx_status": None,
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["organizations", "--org", "999"],
            "No organization with ID 999: `manage.py b2b_list organizations` lists them.",
        ),
        (
            ["contracts", "--org", "999"],
            "No organization with ID 999: `manage.py b2b_list organizations` lists them.",
        ),
        (
            ["courseware", "--contract", "999"],
            "No contract with ID 999: `manage.py b2b_list contracts` lists them.",
        ),
        (["courseware"], "Error: the following arguments are required: --contract"),
        (
            ["contracts", "--codes", "999"],
            "No contract with ID 999: `manage.py b2b_list contracts` lists them.",
        ),
        (
            ["contracts", "--codes-out", "x.csv"],
            "--codes-out needs --codes ID (the contract whose codes to write).",
        ),
        (
            ["contracts", "--format", "xml"],
            "Error: argument --format: invalid choice: 'xml' (choose from 'table', 'json', 'csv')",
        ),
        (
            ["contracts", "--org", "0"],
            "Error: argument --org/--organization: '0' is not an ID: IDs are whole numbers from 1 to 2147483647.",
        ),
        (
            ["courseware", "--contract", "99999999999999999999"],
            "Error: argument --contract: '99999999999999999999' is not an ID: IDs are whole numbers from 1 to 2147483647.",
        ),
    ],
)
def test_listing_refusals(two_orgs, run_command, argv, message):
    with pytest.raises(CommandError) as refusal:
        run_command("b2b_list", *argv)
    assert str(refusal.value) == message


def test_empty_listing(wagtail_site, run_command):
    assert json.loads(run_command("b2b_list", "organizations", "--format", "json").stdout) == []
    assert OrganizationPage.objects.count() == 0
