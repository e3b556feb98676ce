"""The commands as an operator runs them: exit codes, stderr, never a traceback (SPEC §2)."""

import json
import os
import subprocess
import sys

import pytest

from tests.b2b.operator import PROJECT, manage


@pytest.mark.parametrize(
    ("argv", "code", "stderr"),
    [
        (
            ["b2b_contract", "create", "Nowhere U", "C", "sso"],
            1,
            "CommandError: No organization named or keyed 'Nowhere U': to create it, add --create "
            "--org-key <org key>; `manage.py b2b_list organizations` lists the existing ones.\n",
        ),
        (
            ["b2b_list", "courseware", "--contract", "77"],
            1,
            "CommandError: No contract with ID 77: `manage.py b2b_list contracts` lists them.\n",
        ),
        (
            ["b2b_courseware", "add", "77", "program:x"],
            1,
            "CommandError: 'program:x' is not a program ID: program readable IDs must begin with "
            "'program-v1:', for example program-v1:MITx+DEDP.\n",
        ),
        (
            ["b2b_check", "--contract", "77"],
            1,
            "CommandError: No contract with ID 77: `manage.py b2b_list contracts` lists them.\n",
        ),
        (
            ["load_catalog", "/nonexistent/catalog.json"],
            1,
            "CommandError: No catalog file at /nonexistent/catalog.json: give the path of a catalog "
            "JSON file.\n",
        ),
    ],
)
def test_refusals_exit_1_with_one_line(operator_env, argv, code, stderr):
    result = manage(operator_env, *argv)
    assert (result.returncode, result.stdout, result.stderr) == (code, "", stderr)


@pytest.mark.parametrize(
    ("argv", "tail"),
    [
        (
            ["b2b_contract", "modify", "1", "--active", "--inactive"],
            "error: argument --inactive/--delete: not allowed with argument --active\n",
        ),
        (
            ["b2b_contract", "modify", "1", "--price", "1", "--no-price"],
            "error: argument --no-price: not allowed with argument --price\n",
        ),
        (
            ["b2b_contract", "create", "U", "C", "sso", "--max-learners", "lots"],
            "error: argument --max-learners: 'lots' is not a number of learners: give a whole number "
            "of at least 1.\n",
        ),
        (["b2b_list"], "error: the following arguments are required: SUBCOMMAND\n"),
        # int() and Decimal() take other scripts' digits; an operator means ASCII ones
        (
            ["b2b_contract", "modify", "1", "--max-learners", "\uff15"],
            "error: argument --max-learners: '\uff15' is not a number of learners: give a whole "
            "number of at least 1.\n",
        ),
        (
            ["b2b_contract", "modify", "\uff13", "--max-learners", "5"],
            "error: argument contract_id: '\uff13' is not an ID: give a whole number such as 12.\n",
        ),
        (
            ["b2b_contract", "modify", "1", "--price", "1e3"],
            "error: argument --price: '1e3' is not a price: give an amount such as 250 or 49.99.\n",
        ),
        (
            ["b2b_check", "--contract", "1", "--org", "1"],
            "error: argument --org/--organization: not allowed with argument --contract\n",
        ),
    ],
)
def test_malformed_command_lines_exit_2(operator_env, argv, tail):
    result = manage(operator_env, *argv)
    assert result.returncode == 2
    assert result.stderr.endswith(tail)
    assert "Traceback" not in result.stderr


def test_success_exits_0(operator_env):
    result = manage(operator_env, "b2b_list", "organizations", "--format", "json")
    assert (result.returncode, result.stdout) == (0, "[]\n")


def test_b2b_check_exits_0_when_whole_and_3_on_an_error(operator_env):
    assert manage(operator_env, "b2b_check", "--format", "json").returncode == 0
    created = manage(
        operator_env,
        "b2b_contract",
        "create",
        "Check U",
        "Capped",
        "non-sso",
        "--create",
        "--org-key",
        "CHK",
        "--max-learners",
        "1",
    )
    contract_id = created.stdout.strip()
    script = (
        "from b2b.models import ContractMembership; from main.models import User; "
        f"[ContractMembership.objects.create(contract_id={contract_id}, source='manual', "
        "user=User.objects.create(username=f'over{n}')) for n in range(2)]"
    )
    assert manage(operator_env, "shell", "-c", script).returncode == 0
    result = manage(operator_env, "b2b_check", "--contract", contract_id, "--format", "csv")
    assert (result.returncode, result.stdout.splitlines()[1].split(",")[:3]) == (
        3,
        [contract_id, "seats-over-cap", "error"],
    )
    assert result.stderr == (
        "Checked 1 contract: 1 error(s), 0 warning(s), 0 note(s).\n"
        "CommandError: 1 error(s) found; the fix column says how to mend each.\n"
    )


def test_an_unmigrated_database_says_to_set_it_up(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        DJANGO_SETTINGS_MODULE="main.settings",
    )
    result = manage(env, "b2b_list", "contracts")
    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: The database is not set up (")
    assert result.stderr.endswith(
        " migrations not applied): run `make setup` (or `manage.py migrate`) first.\n"
    )


def test_an_unreachable_database_says_to_check_the_url():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/none", DJANGO_SETTINGS_MODULE="main.settings"
    )
    result = manage(env, "b2b_list", "contracts")
    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: Cannot reach the database (")
    assert result.stderr.endswith("): check DATABASE_URL and that the server runs.\n")
    assert "Traceback" not in result.stderr


def test_a_reader_closing_early_stops_the_command_quietly(operator_env):
    # `manage.py b2b_list ... | head`: the reader is gone before the command writes.
    process = subprocess.Popen(
        [sys.executable, "manage.py", "b2b_list", "organizations", "--format", "json"],
        cwd=PROJECT,
        env=operator_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    stderr = process.stderr.read()
    assert (process.wait(), stderr) == (141, "")


def test_a_reader_closing_mid_list_stops_the_streamed_codes_quietly(operator_env):
    # `manage.py b2b_list contracts --codes ID --format json | head`: 2,000 codes, far more than
    # a pipe holds, so the reader goes away in the middle of the streamed query.
    for argv in (
        ["load_catalog"],
        [
            "b2b_contract",
            "create",
            "Acme",
            "Acme staff",
            "non-sso",
            "--create",
            "--org-key",
            "Acme",
        ],
    ):
        assert manage(operator_env, *argv).returncode == 0
    contract_id = manage(operator_env, "b2b_list", "contracts", "--format", "json")
    contract_id = str(json.loads(contract_id.stdout)[0]["id"])
    steps = (
        ["b2b_contract", "modify", contract_id, "--max-learners", "2000"],
        ["b2b_courseware", "add", contract_id, "course-v1:MITxT+14.100x"],
    )
    for argv in steps:
        assert manage(operator_env, *argv).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "manage.py", "b2b_list", "contracts", "--codes", contract_id]
        + ["--format", "json"],
        cwd=PROJECT,
        env=operator_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.read(3) == "[\n "
    process.stdout.close()
    stderr = process.stderr.read()
    assert (process.wait(), stderr) == (141, "")
