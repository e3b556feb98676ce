"""One path for "a contract changed" (SPEC §4, §7): every publish, Wagtail's or a service's, writes
one audit entry and asks for the code adjustment exactly once; services never ask a second time;
a foreground adjustment returns its report to whoever asked."""

from __future__ import annotations

import pytest

import b2b.tasks
from b2b.services.audit import audit_history
from b2b.services.codes.queue import CODES_ADJUST_TASK
from b2b.services.contracts import contract_create, contract_modify
from b2b.services.courseware import courseware_add
from tests.b2b.codes_helpers import DATA
from tests.b2b.helpers import make_contract


@pytest.fixture
def contract(run_command, wagtail_site):
    return make_contract(run_command, "Acme", "non-sso", "--max-learners", "10")


class Sent(list):
    """The contract IDs the adjustment task was sent for, in order."""

    def __init__(self, capture) -> None:
        super().__init__()
        self.capture = capture

    def commit(self):
        """A block whose on-commit work runs when it ends, as a real commit would run it."""
        return self.capture(execute=True)


@pytest.fixture
def sent(settings, monkeypatch, django_capture_on_commit_callbacks):
    """With a broker (Celery not eager): what the adjustment task is sent."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    record = Sent(django_capture_on_commit_callbacks)

    def task_send(name, contract_id):
        assert name == b2b.tasks.contract_codes_adjust.name
        record.append(contract_id)

    monkeypatch.setattr("b2b.services.codes.queue.task_send", task_send)
    return record


def test_the_adjustment_is_sent_under_its_tasks_registered_name():
    assert (
        CODES_ADJUST_TASK
        == b2b.tasks.contract_codes_adjust.name
        == ("b2b.tasks.contract_codes_adjust")
    )


def changes_of(contract) -> list[tuple[str, dict]]:
    return [(e.action, e.changes) for e in audit_history(contract.pk)]


def test_a_modify_is_published_recorded_and_adjusted_once(contract, sent):
    before = changes_of(contract)
    with sent.commit():
        result = contract_modify(contract.pk, max_learners=7)
    assert sent == [contract.pk]
    assert result.codes_queued is True
    assert changes_of(contract)[len(before) :] == [
        ("contract.change", {"max_learners": {"before": 10, "after": 7}})
    ]


def test_a_wagtail_publish_is_recorded_and_adjusted_once(contract, sent):
    before = changes_of(contract)
    contract.max_learners = 8
    with sent.commit():
        contract.save_revision().publish()
    assert sent == [contract.pk]
    assert changes_of(contract)[len(before) :] == [
        ("contract.change", {"max_learners": {"before": 10, "after": 8}})
    ]


def test_a_modify_that_changes_nothing_re_checks_the_codes_once(contract, sent):
    before = changes_of(contract)
    with sent.commit():
        contract_modify(contract.pk, max_learners=10)
    assert sent == [contract.pk]
    assert changes_of(contract) == before


def test_a_deactivation_alone_is_recorded_and_asks_for_nothing(contract, sent):
    with sent.commit():
        result = contract_modify(contract.pk, active=False)
    assert (sent, result.codes_queued, result.codes) == ([], False, None)
    assert changes_of(contract)[-1] == (
        "contract.change",
        {"active": {"before": True, "after": False}},
    )


def test_a_new_contract_is_adjusted_once(wagtail_site, sent):
    with sent.commit():
        result = contract_create(
            organization="Acme U",
            name="New",
            integration_type="non-sso",
            create_organization=True,
            org_key="ACME",
            max_learners=3,
        )
    assert sent == [result.contract.pk]
    assert [e.action for e in audit_history(result.contract.pk)] == ["contract.create"]


def test_a_courseware_change_is_adjusted_once(contract, catalog, sent):
    with sent.commit():
        courseware_add(contract.pk, DATA)
    assert sent == [contract.pk]


class Recorder:
    """A progress receiver that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, plan) -> None:
        self.events.append(("start", plan.action_totals()["create"]))

    def advance(self, action: str, count: int) -> None:
        self.events.append(("advance", action, count))

    def finish(self, report) -> None:
        self.events.append(("finish", report.total("usable_after")))


def test_without_a_broker_the_adjustment_reports_to_whoever_asked(
    contract, catalog, django_capture_on_commit_callbacks
):
    progress = Recorder()
    with django_capture_on_commit_callbacks(execute=True):
        result = courseware_add(contract.pk, DATA, progress=progress)
    assert result.codes is not None and result.codes.report is not None
    assert result.codes.report.summary() == (
        f"contract {contract.pk}: 10 codes created, 0 deactivated, 0 made unlimited, 0 deleted, "
        "0 re-priced/re-dated, 0 products re-priced; 10 usable"
    )
    assert progress.events == [("start", 10), ("advance", "create", 10), ("finish", 10)]

    with django_capture_on_commit_callbacks(execute=True):
        lowered = contract_modify(contract.pk, max_learners=4)
    assert lowered.codes is not None and lowered.codes.report is not None
    assert lowered.codes.report.total("deactivated") == 6
