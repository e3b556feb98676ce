"""The adjustment under concurrency (PostgreSQL, real threads, separate connections) and faults.

SPEC §4: one adjustment at a time per contract, on a lock of its own (never the contract row,
which checkout locks); idempotent, so two at once, or a run after one cut short, end in the state
the rule asks for.
"""

import io
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from b2b.models import ContractPage
from b2b.services.codes import CodesReport, codes_adjust
from ecommerce.models import Discount
from tests.b2b.codes_helpers import DATA, MICRO, contract_with_courses, product, tally

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency is tested on PostgreSQL"
)


def _in_threads(*calls, timeout: float = 120):
    """Run each call in its own thread (its own database connection), started together.
    Returns their results, or raises the first exception one of them raised."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def _set(contract, **fields):
    """Change the contract behind the adjustment's back (no adjustment queued)."""
    ContractPage.objects.filter(pk=contract.pk).update(**fields)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_generating_at_once_make_each_code_once(wagtail_site, catalog):
    contract = contract_with_courses("sso")  # free SSO: products, no codes
    _set(contract, integration_type="non-sso", max_learners=400)
    reports = _in_threads(lambda: codes_adjust(contract.pk), lambda: codes_adjust(contract.pk))
    assert sorted(r.total("created") for r in reports) == [0, 800]
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {"one-time active 0.00": 400}
    assert Discount.objects.values("discount_code").distinct().count() == 800


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_lowering_and_repricing_at_once_agree(wagtail_site, catalog):
    contract = contract_with_courses("non-sso", max_learners=300)
    _set(contract, max_learners=120, enrollment_fixed_price=Decimal("7"))
    reports = _in_threads(lambda: codes_adjust(contract.pk), lambda: codes_adjust(contract.pk))
    assert sorted(r.total("deactivated") for r in reports) == [0, 360]
    assert sorted(r.total("repriced") for r in reports) == [0, 240]
    for readable_id in (DATA, MICRO):
        codes = Discount.objects.filter(product_links__product=product(contract, readable_id))
        assert tally(product(contract, readable_id)) == {
            "one-time active 7.00": 120,
            "one-time inactive 0.00": 180,
        }
        # The oldest 120 codes stay.
        assert list(
            codes.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
        ) == list(codes.order_by("pk").values_list("pk", flat=True)[:120])


class _Pause:
    """A progress receiver that holds the adjustment after its first batch until released."""

    def __init__(self) -> None:
        self.paused, self.release = threading.Event(), threading.Event()

    def start(self, plan: CodesReport) -> None:
        pass

    def advance(self, action: str, count: int) -> None:
        self.paused.set()
        assert self.release.wait(60)

    def finish(self, report: CodesReport) -> None:
        pass


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_checkout_locks_go_on_while_an_adjustment_holds_the_codes_lock(wagtail_site, catalog):
    contract = contract_with_courses("sso")
    _set(contract, integration_type="non-sso", max_learners=50)
    pause = _Pause()
    first_done = threading.Event()
    second: list = []

    def first():
        try:
            return codes_adjust(contract.pk, progress=pause)
        finally:
            first_done.set()
            connection.close()

    def later():
        try:
            second.append(codes_adjust(contract.pk))
        finally:
            connection.close()

    adjusting = threading.Thread(target=first)
    adjusting.start()
    assert pause.paused.wait(60)
    waiting = threading.Thread(target=later)
    waiting.start()
    try:
        # What checkout does: lock the contract row and a code row, without waiting.
        with transaction.atomic():
            locked = ContractPage.objects.select_for_update(nowait=True).get(pk=contract.pk)
            code = (
                Discount.objects.select_for_update(nowait=True)
                .filter(product_links__product=product(contract, DATA))
                .first()
            )
        assert (locked.pk, code is not None) == (contract.pk, True)
        # A second adjustment of the same contract waits for the first.
        time.sleep(0.5)
        assert waiting.is_alive() and second == []
    finally:
        pause.release.set()
        adjusting.join(60)
        waiting.join(60)
    assert first_done.is_set()
    assert len(second) == 1 and second[0].changed is False
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {"one-time active 0.00": 50}


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_racing_modify_commands_end_with_codes_matching_the_contract(wagtail_site, catalog):
    contract = contract_with_courses("non-sso", max_learners=100)

    def modify(*argv):
        def call():
            call_command(
                "b2b_contract",
                "modify",
                str(contract.pk),
                *argv,
                stdout=io.StringIO(),
                stderr=io.StringIO(),
            )
            return True

        return call

    assert _in_threads(
        modify("--max-learners", "40", "--price", "15"),
        modify("--max-learners", "160", "--price", "30"),
    ) == [True, True]
    contract.refresh_from_db()
    assert (contract.max_learners, contract.enrollment_fixed_price) in {
        (40, Decimal("15.00")),
        (160, Decimal("30.00")),
    }
    price = f"{contract.enrollment_fixed_price:.2f}"
    for readable_id in (DATA, MICRO):
        counts = tally(product(contract, readable_id))
        assert counts[f"one-time active {price}"] == contract.max_learners
        assert sum(n for key, n in counts.items() if " active " in key) == contract.max_learners
        assert product(contract, readable_id).price == contract.enrollment_fixed_price
    assert codes_adjust(contract.pk).changed is False


class _Crash:
    """A progress receiver that raises after the adjustment's first batch, like a worker killed
    halfway through."""

    def start(self, plan: CodesReport) -> None:
        pass

    def advance(self, action: str, count: int) -> None:
        raise RuntimeError("worker lost")

    def finish(self, report: CodesReport) -> None:
        pass


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"integration_type": "non-sso", "max_learners": 30}, {"one-time active 0.00": 30}),
        (
            {
                "integration_type": "non-sso",
                "max_learners": 30,
                "enrollment_fixed_price": Decimal("4"),
            },
            {"one-time active 4.00": 30},
        ),
    ],
)
def test_an_adjustment_cut_short_is_completed_by_the_next(wagtail_site, catalog, change, expected):
    contract = contract_with_courses("sso")
    _set(contract, **change)
    with pytest.raises(RuntimeError, match="worker lost"):
        codes_adjust(contract.pk, progress=_Crash())
    # Whatever the first run committed, each product has either all its codes or none.
    for readable_id in (DATA, MICRO):
        assert sum(tally(product(contract, readable_id)).values()) in (0, 30)
    codes_adjust(contract.pk)
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == expected
    assert codes_adjust(contract.pk).changed is False


@pytest.mark.django_db(transaction=True)
def test_a_deactivation_cut_short_is_completed_by_the_next(wagtail_site, catalog):
    contract = contract_with_courses("non-sso", max_learners=20)
    _set(contract, max_learners=5)
    with pytest.raises(RuntimeError, match="worker lost"):
        codes_adjust(contract.pk, progress=_Crash())
    report = codes_adjust(contract.pk)
    assert report.total("deactivated") in (15, 30)
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {
            "one-time active 0.00": 5,
            "one-time inactive 0.00": 15,
        }
