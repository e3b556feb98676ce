"""The durable marker of a code adjustment (ARCHITECTURE rule 12): written with the change,
rolled back with it, cleared by the adjustment unless a newer change came meanwhile, and
re-queued by the periodic task once older than ``REQUEUE_PENDING_AFTER``.

The worker-kill scenarios with a real Celery worker on Redis are in ``test_codes_worker_kill``.
"""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from b2b.models import ContractCodesPending, ContractPage
from b2b.services.codes import CodesReport, codes_adjust
from b2b.services.codes_pending import codes_pending_mark, codes_pending_overdue
from b2b.services.contracts import contract_modify
from b2b.tasks import codes_adjust_requeue
from tests.b2b.codes_helpers import DATA, contract_with_courses, product, tally

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency is tested on PostgreSQL"
)


def markers() -> list[int]:
    return list(
        ContractCodesPending.objects.order_by("contract_id").values_list("contract_id", flat=True)
    )


def age(contract: ContractPage, seconds: float) -> dt.datetime:
    """Make the contract's marker ``seconds`` old (as if its change were made then)."""
    requested_on = timezone.now() - dt.timedelta(seconds=seconds)
    assert ContractCodesPending.objects.filter(contract=contract).update(requested_on=requested_on)
    return requested_on


@pytest.fixture
def contract(run_command, wagtail_site, catalog):
    """A non-SSO contract capped at 3 with one course: whole, its adjustments done."""
    return contract_with_courses("non-sso", max_learners=3, courses=(DATA,))


# -- written with the change -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_change_writes_the_marker_in_its_transaction_and_queues_one_adjustment(
    contract, django_capture_on_commit_callbacks
):
    assert markers() == []  # the set-up's adjustments cleared theirs
    before = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        contract_modify(contract.pk, max_learners=5)
        # Inside the change's transaction, before any commit.
        assert markers() == [contract.pk]
    marker = ContractCodesPending.objects.get()
    assert before <= marker.requested_on <= timezone.now()
    assert len(callbacks) == 1
    # The task has not run: the codes are as before.
    assert tally(product(contract, DATA)) == {"one-time active 0.00": 3}


@pytest.mark.django_db
def test_a_change_rolled_back_leaves_no_marker_and_queues_nothing(
    contract, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        contract_modify(contract.pk, max_learners=5)
        assert markers() == [contract.pk]
        raise RuntimeError("the request failed after the change")
    assert markers() == []
    assert callbacks == []
    assert ContractPage.objects.get(pk=contract.pk).max_learners == 3


@pytest.mark.django_db
def test_two_changes_in_one_transaction_leave_one_marker_and_converge(
    contract, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        contract_modify(contract.pk, max_learners=5)
        first = ContractCodesPending.objects.get()
        contract_modify(contract.pk, price=Decimal("12"))
        second = ContractCodesPending.objects.get()
        assert second.requested_on == first.requested_on  # the oldest request is kept
        assert second.request_id != first.request_id
    # Each change asks once (contracts.contract_changed); the second adjustment finds nothing left.
    assert len(callbacks) == 2
    assert markers() == []
    assert tally(product(contract, DATA)) == {"one-time active 12.00": 5}


# -- cleared by the adjustment -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_adjustment_clears_the_marker_when_done(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        contract_modify(contract.pk, max_learners=5)  # committed; its task not run yet
    assert markers() == [contract.pk]

    report = codes_adjust(contract.pk)

    assert report.total("created") == 2
    assert markers() == []
    assert tally(product(contract, DATA)) == {"one-time active 0.00": 5}


class _ChangeMidway:
    """A progress receiver that commits another change of the contract once the adjustment has
    read it (its plan is made), as an operator's command would while a worker adjusts."""

    def __init__(self, contract_id: int, capture) -> None:
        self.contract_id, self.capture = contract_id, capture

    def start(self, plan: CodesReport) -> None:
        with self.capture():
            contract_modify(self.contract_id, max_learners=7)

    def advance(self, action: str, count: int) -> None:
        pass

    def finish(self, report: CodesReport) -> None:
        pass


@pytest.mark.django_db
def test_a_change_made_while_the_adjustment_runs_keeps_the_marker_for_the_next_run(
    contract, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        contract_modify(contract.pk, max_learners=5)
    first = ContractCodesPending.objects.get()

    codes_adjust(
        contract.pk, progress=_ChangeMidway(contract.pk, django_capture_on_commit_callbacks)
    )

    # The run adjusted to the contract it read (5), and left the newer request's marker.
    assert tally(product(contract, DATA)) == {"one-time active 0.00": 5}
    kept = ContractCodesPending.objects.get()
    assert (kept.contract_id, kept.requested_on) == (contract.pk, first.requested_on)
    assert kept.request_id != first.request_id

    codes_adjust(contract.pk)

    assert tally(product(contract, DATA)) == {"one-time active 0.00": 7}
    assert markers() == []


@pytest.mark.django_db
def test_an_adjustment_with_nothing_asked_leaves_a_marker_made_meanwhile(contract):
    # b2b_check --fix runs the adjustment with no marker; a request made meanwhile is kept.
    class _Mark(_ChangeMidway):
        def start(self, plan: CodesReport) -> None:
            codes_pending_mark(self.contract_id)

    codes_adjust(contract.pk, progress=_Mark(contract.pk, None))

    assert markers() == [contract.pk]


# -- re-queued by the periodic task --------------------------------------------------------------


@pytest.mark.django_db
def test_the_periodic_task_requeues_exactly_the_contracts_pending_past_the_period(
    run_command, wagtail_site, catalog, settings, django_capture_on_commit_callbacks
):
    settings.REQUEUE_PENDING_AFTER = 60
    lost, older, recent, whole = (
        contract_with_courses("non-sso", max_learners=2, courses=(DATA,)) for _ in range(4)
    )
    # Three changes commit, and the process dies before it hands their tasks to the broker.
    with django_capture_on_commit_callbacks() as dropped:
        for contract in (lost, older, recent):
            contract_modify(contract.pk, max_learners=4)
    assert len(dropped) == 3
    age(lost, 61)
    age(older, 600)
    age(recent, 59)
    assert markers() == [lost.pk, older.pk, recent.pk]

    # Beat's task (eager here: the adjustments it queues run at once), oldest first.
    queued = codes_adjust_requeue()

    assert queued == [older.pk, lost.pk]
    assert markers() == [recent.pk]
    for contract in (lost, older):
        assert tally(product(contract, DATA)) == {"one-time active 0.00": 4}
    assert tally(product(recent, DATA)) == {"one-time active 0.00": 2}
    assert tally(product(whole, DATA)) == {"one-time active 0.00": 2}
    # Nothing left past the period: the next run queues nothing.
    assert codes_adjust_requeue() == []


@pytest.mark.django_db
def test_overdue_markers_can_be_limited_to_some_contracts(
    run_command, wagtail_site, catalog, settings
):
    settings.REQUEUE_PENDING_AFTER = 60
    first = contract_with_courses("non-sso", max_learners=2, courses=())
    second = contract_with_courses("non-sso", max_learners=2, courses=())
    for contract in (first, second):
        codes_pending_mark(contract.pk)
    first_on, second_on = age(first, 100), age(second, 200)

    assert codes_pending_overdue() == {second.pk: second_on, first.pk: first_on}
    assert codes_pending_overdue([first.pk]) == {first.pk: first_on}
    assert codes_pending_overdue([]) == {}


@pytest.mark.django_db
def test_a_deleted_contract_takes_its_marker_with_it(run_command, wagtail_site, catalog):
    contract = contract_with_courses("non-sso", courses=())
    codes_pending_mark(contract.pk)
    assert markers() == [contract.pk]
    contract.delete()
    assert markers() == []


# -- under concurrency (PostgreSQL, real threads, separate connections) ---------------------------


def _in_thread(call, errors: list) -> threading.Thread:
    def run():
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class _Pause:
    """Holds the adjustment once it has read the contract, until released."""

    def __init__(self) -> None:
        self.paused, self.release = threading.Event(), threading.Event()

    def start(self, plan: CodesReport) -> None:
        self.paused.set()
        assert self.release.wait(60)

    def advance(self, action: str, count: int) -> None:
        pass

    def finish(self, report: CodesReport) -> None:
        pass


@pytest.fixture
def broker_without_worker(settings):
    """Tasks queued on commit go to an in-memory broker that no worker reads (really commits
    run their callbacks, so eager Celery would run the adjustment in the committing thread,
    where it would wait for the code lock the paused adjustment holds). ``CodesAdjustment.send``
    reads the setting; Celery reads its own configuration: both say "not eager"."""
    from main.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    yield
    app.conf.task_always_eager = eager


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_by_another_process_mid_adjustment_keeps_the_marker(
    wagtail_site, catalog, run_command, broker_without_worker
):
    contract = contract_with_courses("non-sso", max_learners=3, courses=(DATA,))
    contract_modify(contract.pk, max_learners=5)
    pause, errors = _Pause(), []
    worker = _in_thread(lambda: codes_adjust(contract.pk, progress=pause), errors)
    assert pause.paused.wait(60)

    # An operator's change commits in its own transaction while the worker adjusts.
    contract_modify(contract.pk, max_learners=7)
    pause.release.set()
    worker.join(60)

    assert errors == []
    assert tally(product(contract, DATA)) == {"one-time active 0.00": 5}
    assert markers() == [contract.pk]
    codes_adjust(contract.pk)
    assert tally(product(contract, DATA)) == {"one-time active 0.00": 7}
    assert markers() == []


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_transactions_marking_one_contract_at_once_leave_one_marker(
    wagtail_site, catalog, run_command
):
    contract = contract_with_courses("non-sso", max_learners=3, courses=())
    barrier, errors = threading.Barrier(2), []

    def mark():
        with transaction.atomic():
            barrier.wait(30)
            codes_pending_mark(contract.pk)

    threads = [_in_thread(mark, errors) for _ in range(2)]
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert markers() == [contract.pk]
