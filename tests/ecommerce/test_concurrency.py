"""Exactly once under concurrency (SPEC §5), on PostgreSQL: real threads, each with its own
database connection, released together by a barrier, each running the real checkout service.

SQLite has no row locks and serialises every writer: these races cannot happen there, so these
tests run on PostgreSQL only (``DATABASE_URL=postgres://...``; ``.ci/run`` does).
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from b2b.models import ContractMembership, ContractPage
from courses.models import CourseRunEnrollment
from ecommerce.models import DiscountRedemption, Order
from ecommerce.services.basket import basket_code_apply, basket_replace
from ecommerce.services.checkout import basket_checkout, payment_response_apply
from ecommerce.services.payments import order_payment_form
from main.exceptions import DomainError
from tests.ecommerce.helpers import gateway_response
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL: SQLite has no row locks and runs one writer at a time, so "
        "these races cannot be staged there (set DATABASE_URL=postgres://...)",
    ),
    pytest.mark.django_db(transaction=True),
]


def race(calls: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run each call in its own thread (own connection), all released at once by a barrier.

    Returns, per call in order, ``("ok", result)``, ``("refused", code)`` or ``("error", repr)``.
    """
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, Any]] = [("error", "did not run")] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = ("ok", call())
        except DomainError as refusal:
            results[index] = ("refused", refusal.code)
        except Exception as exc:  # reported in the assertion, never swallowed
            results[index] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def learners_with_code(offer, codes: list[str], prefix: str) -> list:
    users = []
    for index, code in enumerate(codes):
        user = UserFactory(username=f"{prefix}{index}")
        basket_replace(user, product_id=offer.product.pk)
        basket_code_apply(user, code=code)
        users.append(user)
    return users


def outcomes(results) -> Counter:
    return Counter(kind if kind != "refused" else value for kind, value in results)


def test_twenty_learners_one_one_time_code(make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=50)
    code = offer.codes[0]
    users = learners_with_code(offer, [code] * 20, "racer")

    results = race([lambda u=u: basket_checkout(u) for u in users])

    assert outcomes(results) == Counter({"ok": 1, "code-used": 19})
    winner = next(result.order for kind, result in results if kind == "ok")
    assert list(Order.objects.values_list("pk", "state")) == [(winner.pk, "fulfilled")]
    assert list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_by")
    ) == [(code, winner.purchaser_id)]
    assert list(CourseRunEnrollment.objects.values_list("user", "run")) == [
        (winner.purchaser_id, offer.run.pk)
    ]
    assert list(ContractMembership.objects.values_list("user", "source")) == [
        (winner.purchaser_id, "code")
    ]


def test_a_full_contract_attaches_nobody_beyond_its_cap(make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    # Ten learners, each with a valid code in the basket (two per code) while seats were free.
    racers = learners_with_code(offer, [offer.codes[i % 5] for i in range(10)], "racer")
    # Then five learners are attached by SSO and by an administrator: the contract is full.
    for index in range(5):
        ContractMembership.objects.create(
            user=UserFactory(username=f"attached{index}"),
            contract=offer.contract,
            source="sso" if index % 2 else "manual",
        )

    results = race([lambda u=u: basket_checkout(u) for u in racers])

    assert outcomes(results) == Counter({"contract-full": 10})
    assert ContractMembership.objects.filter(contract=offer.contract).count() == 5
    assert ContractMembership.objects.filter(user__in=racers).count() == 0
    assert DiscountRedemption.objects.count() == 0
    assert Order.objects.count() == CourseRunEnrollment.objects.count() == 0


def test_the_last_seats_go_to_exactly_as_many_learners(make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=10)
    racers = learners_with_code(offer, offer.codes[:10], "racer")
    for index in range(3):
        ContractMembership.objects.create(
            user=UserFactory(username=f"attached{index}"), contract=offer.contract, source="manual"
        )
    # The cap is lowered to 5 (say in the CMS) before the code adjustment has run.
    ContractPage.objects.filter(pk=offer.contract.pk).update(max_learners=5)

    results = race([lambda u=u: basket_checkout(u) for u in racers])

    assert outcomes(results) == Counter({"ok": 2, "contract-full": 8})
    assert ContractMembership.objects.filter(contract=offer.contract).count() == 5
    assert DiscountRedemption.objects.count() == 2
    assert CourseRunEnrollment.objects.count() == 2
    assert Order.objects.filter(state="fulfilled").count() == Order.objects.count() == 2


def test_a_double_submitted_checkout_makes_one_order(make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    (user,) = learners_with_code(offer, [offer.codes[0]], "double")

    results = race([lambda: basket_checkout(user), lambda: basket_checkout(user)])

    assert outcomes(results) == Counter({"ok": 1, "basket-empty": 1})
    assert Order.objects.count() == DiscountRedemption.objects.count() == 1
    assert CourseRunEnrollment.objects.count() == ContractMembership.objects.count() == 1


def test_a_double_submitted_priced_checkout_makes_one_pending_order(make_offer, payments):
    offer = make_offer("Acme Paid", "non-sso", max_learners=5, price="120")
    (user,) = learners_with_code(offer, [offer.codes[0]], "double")

    results = race([lambda: basket_checkout(user), lambda: basket_checkout(user)])

    assert outcomes(results) == Counter({"ok": 2})
    assert {result.order.pk for _, result in results} == {Order.objects.get().pk}
    assert sorted(result.reused for _, result in results) == [False, True]
    assert DiscountRedemption.objects.count() == 1


def test_a_declined_payment_frees_the_code_for_exactly_one_of_the_next_learners(
    make_offer, payments
):
    offer = make_offer("Acme Paid", "non-sso", max_learners=5, price="120")
    code = offer.codes[0]
    (first,) = learners_with_code(offer, [code], "first")
    pending = basket_checkout(first).order
    others = [UserFactory(username=f"next{i}") for i in range(2)]
    for user in others:
        basket_replace(user, product_id=offer.product.pk)
    # While the first learner's order holds the code, nobody else can use it.
    with pytest.raises(DomainError) as held:
        basket_code_apply(others[0], code=code)
    assert held.value.code == "code-used"

    form = order_payment_form(pending, ip_address="203.0.113.7").fields
    declined = payment_response_apply(gateway_response(form, "DECLINE"))
    assert (declined.order.state, DiscountRedemption.objects.count()) == ("declined", 0)
    for user in others:
        basket_code_apply(user, code=code)

    results = race([lambda u=u: basket_checkout(u) for u in others])

    assert outcomes(results) == Counter({"ok": 1, "code-used": 1})
    winner = next(result.order for kind, result in results if kind == "ok")
    accepted = payment_response_apply(
        gateway_response(
            order_payment_form(winner, ip_address="203.0.113.7").fields,
            "ACCEPT",
            transaction_id="7400000002",
        )
    )
    assert accepted.order.state == "fulfilled"
    assert list(DiscountRedemption.objects.values_list("redeemed_by", "redeemed_order")) == [
        (winner.purchaser_id, winner.pk)
    ]
    assert list(CourseRunEnrollment.objects.values_list("user", flat=True)) == [winner.purchaser_id]
    assert list(ContractMembership.objects.values_list("user", flat=True)) == [winner.purchaser_id]


def test_twenty_learners_joining_and_checking_out_for_the_last_seat(make_offer):
    from b2b.services.redemption import contract_join
    from tests.factories import enrollment_codes

    offer = make_offer("Acme", "non-sso", max_learners=3)
    codes = [c.discount_code for c in enrollment_codes(offer.product, 20)]
    shoppers = learners_with_code(offer, codes[:10], "shopper")  # codes applied: seats were free
    joiners = [UserFactory(username=f"joiner{index}") for index in range(10)]
    for index in range(2):  # two seats taken: one left
        ContractMembership.objects.create(
            user=UserFactory(username=f"attached{index}"), contract=offer.contract, source="sso"
        )

    calls = [lambda u=u: basket_checkout(u) for u in shoppers] + [
        lambda u=u, c=c: contract_join(u, code=c) for u, c in zip(joiners, codes[10:], strict=True)
    ]
    results = race(calls)

    assert outcomes(results) == Counter({"ok": 1, "contract-full": 19})
    members = ContractMembership.objects.filter(contract=offer.contract)
    assert members.count() == 3
    winner = members.exclude(user__username__startswith="attached").get().user
    assert list(DiscountRedemption.objects.values_list("redeemed_by", flat=True)) == [winner.pk]
    assert ContractPage.objects.get(pk=offer.contract.pk).max_learners == 3
