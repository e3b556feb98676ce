"""A worker killed mid-adjustment (ARCHITECTURE rule 12): the contract converges with no
operator, on a real Celery worker, Redis and PostgreSQL.

- The whole worker is SIGKILLed (its process group) halfway through the 119,998 codes a raised cap asks for:
  its message stays unacknowledged on Redis (for the visibility timeout, 900 s), so only the
  contract's marker can bring the adjustment back; another worker, with beat and a 2-second
  period, re-queues it and the codes converge.
- Only the pool process is SIGKILLed: the worker hands the message back to the broker (late
  acknowledgement, rejected on worker loss) and runs it again, without beat.

Runs on PostgreSQL with ``TEST_CELERY_BROKER_URL`` set, as ``.ci/run`` does; skipped otherwise.
"""

import io
import json
import os
import re
import signal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from b2b.models import ContractCodesPending
from ecommerce.models import Discount
from tests.b2b.codes_helpers import DATA, MICRO, contract_with_courses, product, tally
from tests.celery_worker import (
    BROKER,
    broker_up,
    forget_queue,
    kill,
    manage,
    pool_processes,
    start_worker,
    stop,
    task_results,
    wait_for,
    worker_env,
)

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the worker needs the PostgreSQL test database"
    ),
    pytest.mark.skipif(
        not BROKER, reason="set TEST_CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/3)"
    ),
    pytest.mark.django_db(transaction=True),
]

CAP = 60_000  # per product: two products, 120,000 codes, created in batches of 20,000
PERIOD = "2"  # REQUEUE_PENDING_AFTER of the second worker, seconds


def codes_of(contract) -> int:
    return Discount.objects.filter(
        product_links__product__course_run__b2b_contract=contract
    ).count()


def whole(contract) -> bool:
    return (
        not ContractCodesPending.objects.filter(contract=contract).exists()
        and codes_of(contract) == 2 * CAP
    )


def check(contract) -> tuple[int, list]:
    """``b2b_check --contract N --format json``: (exit status, findings)."""
    out = io.StringIO()
    try:
        call_command(
            "b2b_check",
            "--contract",
            str(contract.pk),
            "--format",
            "json",
            stdout=out,
            stderr=io.StringIO(),
        )
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue() or "[]")


def raise_the_cap_through_the_broker(env, contract) -> None:
    """``b2b_contract modify --max-learners`` in its own process: the adjustment (59,999 codes
    to create per product) goes to the worker."""
    modified = manage(env, "b2b_contract", "modify", str(contract.pk), "--max-learners", str(CAP))
    assert modified.returncode == 0, modified.stderr
    assert "The enrollment-code adjustment is queued for the Celery worker." in modified.stderr


def halfway(contract) -> bool:
    """Some batches of codes committed, not all."""
    return 2 < codes_of(contract) < 2 * CAP


def test_a_worker_killed_mid_adjustment_is_made_up_for_by_beat_with_no_operator(
    wagtail_site, catalog, run_command, tmp_path
):
    assert broker_up(), f"the broker at {BROKER} does not answer"
    contract = contract_with_courses("non-sso", max_learners=1)
    env = worker_env()
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(env, first_log)
    second = None
    try:
        raise_the_cap_through_the_broker(env, contract)
        wait_for(lambda: halfway(contract), seconds=120, what="codes", log=first_log, every=0.05)
        kill(first)

        # Half done: the PostgreSQL sessions of the dead worker are gone with their open batch.
        left = codes_of(contract)
        assert 2 < left < 2 * CAP
        assert ContractCodesPending.objects.filter(contract=contract).exists()
        code, findings = check(contract)
        assert code == 3
        assert {f["kind"] for f in findings} == {"codes-count"}

        second = start_worker(
            {**env, "REQUEUE_PENDING_AFTER": PERIOD}, second_log, beat=tmp_path / "beat"
        )
        seconds = wait_for(
            lambda: whole(contract), seconds=180, what="the contract to converge", log=second_log
        )
    finally:
        for worker in (first, second):
            if worker is not None:
                stop(worker)
        forget_queue(env)

    # Beat's task re-queued exactly this contract, and one adjustment completed the work.
    assert f"[{contract.pk}]" in task_results(second_log, "b2b.tasks.codes_adjust_requeue")
    assert len(task_results(second_log, "b2b.tasks.contract_codes_adjust")) >= 1
    assert "b2b.tasks.contract_codes_adjust" not in "".join(
        line for line in first_log.read_text().splitlines() if " succeeded in " in line
    )
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {"one-time active 0.00": CAP}
    assert Discount.objects.values("discount_code").distinct().count() == 2 * CAP
    assert check(contract) == (0, [])
    # Within the period and the adjustment's own time, from the second worker's start.
    print(f"converged {seconds:.1f} s after the second worker was ready")


def test_a_pool_process_killed_mid_adjustment_is_redelivered_and_completes(
    wagtail_site, catalog, run_command, tmp_path
):
    assert broker_up(), f"the broker at {BROKER} does not answer"
    contract = contract_with_courses("non-sso", max_learners=1)
    env = worker_env()
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, pool="prefork")
    try:
        [child] = pool_processes(worker)
        raise_the_cap_through_the_broker(env, contract)
        wait_for(lambda: halfway(contract), seconds=120, what="codes", log=log, every=0.05)
        os.kill(child, signal.SIGKILL)

        wait_for(lambda: whole(contract), seconds=180, what="the contract to converge", log=log)
    finally:
        stop(worker)
        forget_queue(env)

    text = log.read_text()
    assert "exited with 'signal 9 (SIGKILL)'" in text
    # The same message ran twice: once killed, once to the end.
    received = re.findall(r"b2b\.tasks\.contract_codes_adjust\[([0-9a-f-]+)\] received", text)
    assert len(received) == 2
    assert received[0] == received[1]
    assert len(task_results(log, "b2b.tasks.contract_codes_adjust")) == 1
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {"one-time active 0.00": CAP}
    assert check(contract) == (0, [])
