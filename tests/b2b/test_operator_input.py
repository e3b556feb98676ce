"""Operator input found wanting by a first-time operator: each refused with a message, nothing
written (names, caps, dates, ended contracts, --codes-out paths, ambiguous listings)."""

import datetime as dt
import os
import stat

import pytest
from django.core.management.base import CommandError

from b2b.services.contracts import contract_modify
from tests.b2b.helpers import new_contract
from tests.factories import ContractRunFactory, contract_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(wagtail_site, catalog):
    return new_contract("Capped", max_learners=2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["University X", "N" * 256, "sso"],
            "The contract name is 256 characters long: keep it to 255.",
        ),
        (
            ["University X", "Two\tcolumns", "sso"],
            "The contract name contains a tab, a line break or another control character: give it "
            "on one line.",
        ),
        (
            ["University X", "C", "sso", "--max-learners", "100001"],
            "The learner cap 100001 is over 100,000: a capped contract gets one code per learner per "
            "course, so give a realistic cap, or leave it empty (--no-learner-cap) for an uncapped "
            "contract.",
        ),
        (
            ["University X", "C", "sso", "--end", "9999-12-31"],
            "The end date 9999-12-31 is out of range: contract dates run from 2000-01-01 to "
            "2100-12-31.",
        ),
        (
            ["University X", "C", "sso", "--start", "1999-12-31"],
            "The start date 1999-12-31 is out of range: contract dates run from 2000-01-01 to "
            "2100-12-31.",
        ),
        (
            ["New\nOrg", "C", "sso", "--create", "--org-key", "NEW"],
            "The organization name contains a tab, a line break or another control character: give "
            "it on one line.",
        ),
        (
            ["O" * 300, "C", "sso", "--create", "--org-key", "NEW"],
            "The organization name is 300 characters long: keep it to 255.",
        ),
        (
            ["University X", "C", "sso", "--description", "red \x1b[31malert"],
            "The contract description contains a control character (such as an escape sequence): "
            "give plain text; line breaks and tabs are fine.",
        ),
        (
            ["University X", "C", "sso", "--description", "d" * 10_001],
            "The contract description is 10,001 characters long: keep it to 10,000.",
        ),
    ],
)
def test_create_refusals(contract, run_command, unchanged, argv, message):
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "create", *argv)
    assert str(refusal.value) == message


def test_courseware_for_an_ended_contract_is_refused(wagtail_site, catalog, run_command, unchanged):
    ended = new_contract("Old", contract_end=dt.date(2020, 1, 1))
    message = (
        f"Contract {ended.pk} ended on 2020-01-01, so its runs would close before they open: "
        f"extend it first (b2b_contract modify {ended.pk} --end YYYY-MM-DD), or add with "
        "--no-create-runs to record the courseware only."
    )
    for readable_id in ("course-v1:MITxT+14.310x", "program-v1:MITx+DEDP"):
        with unchanged(), pytest.raises(CommandError) as refusal:
            run_command("b2b_courseware", "add", str(ended.pk), readable_id)
        assert str(refusal.value) == message
    out = run_command(
        "b2b_courseware", "add", str(ended.pk), "course-v1:MITxT+14.310x", "--no-create-runs"
    )
    assert (
        out.stdout
        == f"Added course-v1:MITxT+14.310x to contract {ended.pk}: recorded without runs.\n"
    )


def test_adding_to_an_inactive_contract_says_it_is_inactive(contract, run_command):
    contract_modify(contract.pk, active=False)
    out = run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    assert (
        f"Contract {contract.pk} is inactive: learners cannot use it until "
        f"`manage.py b2b_contract modify {contract.pk} --active`."
    ) in out.stderr.splitlines()


def test_removing_a_course_that_came_with_a_program_names_the_program(
    contract, catalog, run_command, unchanged
):
    contract_program(contract, catalog.program)
    run = contract.course_runs.get(course__readable_id="course-v1:MITxT+14.100x")
    with unchanged():
        out = run_command("b2b_courseware", "remove", str(contract.pk), "course-v1:MITxT+14.100x")
    assert out.stdout == (
        f"course-v1:MITxT+14.100x is on contract {contract.pk} through program-v1:MITx+DEDP, not "
        f"on its own: remove the program, or the run itself ({run.courseware_id}).\n"
    )


def test_codes_csv_is_private_and_never_replaces_a_link_or_device(
    contract, catalog, run_command, tmp_path, monkeypatch
):
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    monkeypatch.chdir(tmp_path)
    run_command("b2b_list", "contracts", "--codes", str(contract.pk))
    assert stat.S_IMODE(os.stat(tmp_path / f"codes-{contract.pk}.csv").st_mode) == 0o600

    target = tmp_path / "target.txt"
    target.write_text("keep")
    (tmp_path / "link.csv").symlink_to(target)
    os.mkfifo(tmp_path / "pipe.csv")
    for name in ("link.csv", "pipe.csv"):
        with pytest.raises(CommandError) as refusal:
            run_command("b2b_list", "contracts", "--codes", str(contract.pk), "--codes-out", name)
        assert str(refusal.value) == (
            f"--codes-out {name} exists and is not a regular file (a device or a link): give the "
            "name of a new or ordinary file."
        )
    assert target.read_text() == "keep"
    assert (tmp_path / "link.csv").is_symlink()
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe.csv").st_mode)


def test_codes_with_an_organization_filter_is_refused(contract, run_command):
    with pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_list",
            "contracts",
            "--codes",
            str(contract.pk),
            "--org",
            str(contract.organization_id),
        )
    assert (
        str(refusal.value)
        == "--codes ID names one contract: drop --org (it only filters the contract list)."
    )


def test_timezone_far_from_utc_keeps_dates_in_range(contract, run_command, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"
    run_command(
        "b2b_contract", "modify", str(contract.pk), "--start", "2000-01-01", "--end", "2100-12-31"
    )
    run_command("b2b_courseware", "add", str(contract.pk), "course-v1:MITxT+14.310x")
    run = contract.course_runs.get()
    assert run.end_date == dt.datetime(
        2100, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=14))
    )


def test_a_description_keeps_lines_and_tabs_and_refuses_escapes_on_modify(
    contract, run_command, unchanged
):
    run_command("b2b_contract", "modify", str(contract.pk), "--description", "Line 1\n\tLine 2")
    contract.refresh_from_db()
    assert contract.description == "Line 1\n\tLine 2"
    with unchanged(), pytest.raises(CommandError) as refusal:
        run_command("b2b_contract", "modify", str(contract.pk), "--description", "\x1b]0;x\x07")
    assert str(refusal.value) == (
        "The contract description contains a control character (such as an escape sequence): "
        "give plain text; line breaks and tabs are fine."
    )
