"""``b2b_list learners`` and ``b2b_list history``, and the audit trail every surface writes."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from b2b.models import ContractMembership
from b2b.services.audit import AUDIT_ACTIONS, audit_history, audit_record, changes_text
from b2b.services.memberships import membership_add
from main.actors import Actor, Via, acting_as, actor_current
from tests.b2b.helpers import make_contract
from tests.factories import UserFactory

STAFF = Actor(via=Via.COMMAND, name="test")


@pytest.fixture
def contract(run_command, wagtail_site):
    return make_contract(run_command, "UX Contract", "non-sso", "--max-learners", "5")


def test_learners_lists_email_name_source_and_since(contract, run_command):
    ada = UserFactory(username="ada", email="ada@example.edu", name="Ada Lovelace")
    alan = UserFactory(username="alan", email="alan@example.edu", name="Alan Turing")
    first = membership_add(ada, contract_id=contract.pk, source="manual", actor=STAFF).membership
    second = membership_add(alan, contract_id=contract.pk, source="code", actor=STAFF).membership

    out = run_command("b2b_list", "learners", "--contract", str(contract.pk), "--format", "json")
    assert json.loads(out.stdout) == [
        {
            "email": "ada@example.edu",
            "name": "Ada Lovelace",
            "source": "manual",
            "since": first.created_on.isoformat(),
        },
        {
            "email": "alan@example.edu",
            "name": "Alan Turing",
            "source": "code",
            "since": second.created_on.isoformat(),
        },
    ]
    csv_out = run_command("b2b_list", "learners", "--contract", str(contract.pk), "--format", "csv")
    assert csv_out.stdout.splitlines() == [
        "email,name,source,since",
        f"ada@example.edu,Ada Lovelace,manual,{first.created_on.isoformat()}",
        f"alan@example.edu,Alan Turing,code,{second.created_on.isoformat()}",
    ]
    table = run_command("b2b_list", "learners", "--contract", str(contract.pk)).stdout
    assert "ada@example.edu" in table and "Alan Turing" in table and "manual" in table


def test_learners_of_an_unknown_contract_is_refused(wagtail_site):
    with pytest.raises(CommandError) as refusal:
        call_command("b2b_list", "learners", "--contract", "4242")
    assert (str(refusal.value), refusal.value.returncode) == (
        "No contract with ID 4242: `manage.py b2b_list contracts` lists them.",
        1,
    )


def test_history_shows_every_change_from_the_commands(contract, catalog, run_command):
    run_command("b2b_contract", "modify", str(contract.pk), "--max-learners", "3", "--price", "20")
    run_command("b2b_courseware", "add", str(contract.pk), catalog.data.readable_id)
    run_command("b2b_courseware", "remove", str(contract.pk), catalog.data.readable_id)

    out = run_command("b2b_list", "history", "--contract", str(contract.pk), "--format", "json")
    rows = json.loads(out.stdout)
    assert all(list(row) == ["at", "actor", "via", "action", "changes"] for row in rows)
    assert [(r["action"], r["via"], r["actor"]) for r in rows] == [
        ("contract.create", "command", "manage.py b2b_contract create"),
        ("contract.change", "command", "manage.py b2b_contract modify"),
        ("courseware.add", "command", "manage.py b2b_courseware add"),
        ("codes.adjust", "task", "the enrollment-code adjustment"),
        ("courseware.remove", "command", "manage.py b2b_courseware remove"),
    ]
    assert rows[1]["changes"] == {
        "max_learners": {"before": 5, "after": 3},
        "price": {"before": None, "after": "20.00"},
    }
    run = contract.course_runs.model.objects.get(course=catalog.data, is_b2b=True).courseware_id
    assert rows[2]["changes"] == {
        "courseware": {"before": None, "after": catalog.data.readable_id},
        "runs added": [run],
    }
    assert rows[3]["changes"] == {
        "created": 3,
        "deactivated": 0,
        "made unlimited": 0,
        "deleted": 0,
        "re-priced": 0,
        "products re-priced": 0,
        "usable": 3,
    }
    assert rows[4]["changes"] == {
        "courseware": {"before": catalog.data.readable_id, "after": None},
        "runs removed": [run],
        "codes deactivated": 3,
    }
    assert changes_text(rows[1]["changes"]) == "cap 5 → 3; price — → 20.00"
    table = run_command("b2b_list", "history", "--contract", str(contract.pk)).stdout
    assert "contract.change" in table and "manage.py b2b_courseware remove" in table


def test_history_of_an_unknown_id_is_refused(wagtail_site):
    with pytest.raises(CommandError) as refusal:
        call_command("b2b_list", "history", "--contract", "4242")
    assert (
        str(refusal.value) == "No contract with ID 4242: `manage.py b2b_list contracts` lists them."
    )


def test_entries_outside_any_interface_name_the_process(contract):
    entry = audit_record(
        contract, action="contract.change", changes={"x": {"before": 1, "after": 2}}
    )
    assert entry.data["via"] == "process"
    assert entry.user_id is None
    with pytest.raises(ValueError):
        audit_record(contract, action="contract.explode", changes={})


def test_an_admin_user_entry_links_the_user(contract):
    staff = UserFactory(username="boss", email="boss@example.com")
    with acting_as(Via.ADMIN, user=staff):
        membership_add(
            UserFactory(), contract_id=contract.pk, source="manual", actor=actor_current()
        )
    entry = audit_history(contract.pk)[-1]
    assert (entry.via, entry.actor) == ("admin", "boss@example.com")
    assert ContractMembership.objects.count() == 1
    assert set(AUDIT_ACTIONS) >= {"membership.add", "codes.adjust", "contract.change"}
