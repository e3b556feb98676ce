"""b2b_contract modify (SPEC §2): every option, contradictory flags, unknown IDs."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management.base import CommandError

from b2b.models import ContractPage
from tests.b2b.helpers import new_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(wagtail_site):
    return new_contract("C", max_learners=10, contract_start=dt.date(2026, 1, 1))


def test_modify_every_field(contract, run_command):
    out = run_command(
        "b2b_contract",
        "modify",
        str(contract.pk),
        "--end",
        "2026-12-31",
        "--max-learners",
        "20",
        "--price",
        "99.5",
        "--description",
        "New",
        "--integration-type",
        "sso",
        "--format",
        "json",
    )
    assert json.loads(out.stdout) == {
        "contract_id": contract.pk,
        "dry_run": False,
        "changes": [
            {"field": "description", "before": "", "after": "New"},
            {"field": "integration_type", "before": "non-sso", "after": "sso"},
            {"field": "end", "before": None, "after": "2026-12-31"},
            {"field": "max_learners", "before": 10, "after": 20},
            {"field": "price", "before": None, "after": "99.50"},
        ],
        "codes_adjustment_queued": True,
    }
    contract.refresh_from_db()
    assert (
        contract.description,
        contract.integration_type,
        str(contract.contract_end),
        contract.max_learners,
        contract.enrollment_fixed_price,
    ) == ("New", "sso", "2026-12-31", 20, Decimal("99.50"))
    # A command's change is a published revision.
    assert contract.latest_revision.as_object().max_learners == 20


def test_clearing_options(contract, run_command):
    run_command("b2b_contract", "modify", str(contract.pk), "--price", "10")
    run_command(
        "b2b_contract",
        "modify",
        str(contract.pk),
        "--no-price",
        "--no-learner-cap",
        "--no-start-date",
        "--no-end-date",
    )
    contract.refresh_from_db()
    assert (
        contract.enrollment_fixed_price,
        contract.max_learners,
        contract.contract_start,
        contract.contract_end,
    ) == (None, None, None, None)


def test_deactivate_alone_queues_nothing(contract, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks() as callbacks:
        call_command(
            "b2b_contract",
            "modify",
            str(contract.pk),
            "--delete",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert callbacks == []
    contract.refresh_from_db()
    assert contract.active is False


def test_any_other_change_queues_the_adjustment(contract, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks() as callbacks:
        call_command(
            "b2b_contract",
            "modify",
            str(contract.pk),
            "--inactive",
            "--max-learners",
            "5",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert len(callbacks) == 1


def test_table_output_lists_changes(contract, run_command):
    out = run_command("b2b_contract", "modify", str(contract.pk), "--max-learners", "12")
    lines = out.stdout.splitlines()
    assert lines[0].strip() == f"Changed contract {contract.pk}"
    assert any("max_learners" in line and "10" in line and "12" in line for line in lines)


def test_dry_run_changes_nothing(contract, run_command, unchanged):
    with unchanged():
        out = run_command(
            "b2b_contract",
            "modify",
            str(contract.pk),
            "--max-learners",
            "12",
            "--dry-run",
            "--format",
            "json",
        )
    assert json.loads(out.stdout)["changes"] == [
        {"field": "max_learners", "before": 10, "after": 12}
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--active", "--inactive"],
            "Error: argument --inactive/--delete: not allowed with argument --active",
        ),
        (
            ["--price", "5", "--no-price"],
            "Error: argument --no-price: not allowed with argument --price",
        ),
        (
            ["--max-learners", "5", "--no-learner-cap"],
            "Error: argument --no-learner-cap: not allowed with argument --max-learners",
        ),
        (
            ["--start", "2026-01-01", "--no-start-date"],
            "Error: argument --no-start-date: not allowed with argument --start",
        ),
        (
            ["--end", "2026-01-01", "--no-end-date"],
            "Error: argument --no-end-date: not allowed with argument --end",
        ),
        (
            ["--end", "2025-12-31"],
            "The contract would end (2025-12-31) before it starts (2026-01-01): give a start date on or before the end date.",
        ),
        (
            ["--max-learners", "-3"],
            "The learner cap must be a whole number of at least 1 (got -3); leave it empty (--no-learner-cap) for an uncapped contract.",
        ),
        (
            ["--price", "123456"],
            "The price 123456 is out of range: use an amount from 0.00 to 99999.99 (or --no-price for a free contract).",
        ),
        (
            [],
            "Nothing to change: give at least one option, for example --max-learners 100 (see `manage.py b2b_contract modify --help`).",
        ),
        (
            ["--integration-type", "saml"],
            "Error: argument --integration-type: invalid choice: 'saml' (choose from 'sso', 'non-sso')",
        ),
    ],
)
def test_refusals_change_nothing(contract, run_command, unchanged, argv, message):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "modify", str(contract.pk), *argv)
    assert str(refusal.value) == message


@pytest.mark.parametrize("argv", [["--max-learners", "3"], ["--dry-run"], []])
def test_unknown_contract(contract, run_command, unchanged, argv):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "modify", "424242", *argv)
    assert (
        str(refusal.value)
        == "No contract with ID 424242: `manage.py b2b_list contracts` lists them."
    )


def test_modify_keeps_the_slug(contract, run_command):
    run_command("b2b_contract", "modify", str(contract.pk), "--description", "x")
    assert ContractPage.objects.get(pk=contract.pk).slug == "c"
