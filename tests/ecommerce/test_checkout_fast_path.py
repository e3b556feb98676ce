"""Checkout's fast path under attack (PostgreSQL for the races): the enrollment read with the
basket lock, a free checkout ending the learner's pending orders, the queries compiled once per
process and run from many threads."""

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction

from b2b.models import ContractMembership
from b2b.services.redemption import contract_enroll
from courses.models import CourseRunEnrollment
from ecommerce.models import Basket, Discount, DiscountProduct, DiscountRedemption, Order
from ecommerce.services.basket import basket_code_apply, basket_item, basket_replace
from ecommerce.services.checkout import basket_checkout, payment_response_apply
from ecommerce.services.discounts import discount_use_read
from ecommerce.services.payments import order_payment_form
from main import compiled
from tests.ecommerce.helpers import gateway_response
from tests.ecommerce.test_concurrency import outcomes, race
from tests.factories import UserFactory

postgresql = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL: row locks and separate connections (set DATABASE_URL=postgres://...)",
)


def _free_code(product, text: str) -> Discount:
    code = Discount.objects.create(
        discount_code=text,
        amount=Decimal("100"),
        discount_type=Discount.DiscountType.PERCENT_OFF,
        redemption_type=Discount.RedemptionType.ONE_TIME,
        payment_type=Discount.PaymentType.STAFF,
    )
    DiscountProduct.objects.create(discount=code, product=product)
    return code


# -- a free checkout racing the payment callback of the learner's pending order --------------


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_free_checkout_racing_the_callback_of_the_pending_order_spends_one_code(
    make_offer, payments
):
    offer = make_offer("Acme Paid", "non-sso", max_learners=2, price="250")
    ada = UserFactory(username="ada")
    basket_replace(ada, product_id=offer.product.pk)
    basket_code_apply(ada, code=offer.codes[0])
    pending = basket_checkout(ada).order
    _free_code(offer.product, "FREE-FOR-ADA")
    accept = gateway_response(
        order_payment_form(pending, ip_address="203.0.113.7").fields, "ACCEPT"
    )

    results = race(
        [
            lambda: basket_checkout(ada, code="free-for-ada"),
            lambda: payment_response_apply(accept).order.state,
        ]
    )

    assert [kind for kind, _ in results].count("error") == 0, results
    orders = dict(Order.objects.values_list("pk", "state"))
    redemptions = list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_order")
    )
    if results[0][0] == "ok":  # the free checkout first: the pending order ended, its code freed
        free = results[0][1].order
        assert orders == {pending.pk: "canceled", free.pk: "fulfilled"}
        assert redemptions == [("FREE-FOR-ADA", free.pk)]
    else:  # the payment first: the free checkout finds the basket emptied by it
        assert results[0] == ("refused", "basket-empty")
        assert orders == {pending.pk: "fulfilled"}
        assert redemptions == [(offer.codes[0], pending.pk)]
    assert list(CourseRunEnrollment.objects.values_list("user", flat=True)) == [ada.pk]
    assert list(ContractMembership.objects.values_list("user", flat=True)) == [ada.pk]


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_free_checkout_frees_the_pending_orders_seat_for_the_learner_on_the_last_seat(
    make_offer, payments
):
    # Capped at 1: the pending order holds the only seat; another learner is refused while it
    # waits. The learner's free checkout ends the order and takes the seat itself: still 1.
    offer = make_offer("Acme Paid", "non-sso", max_learners=1, price="250")
    ada, bo = UserFactory(username="ada"), UserFactory(username="bo")
    basket_replace(ada, product_id=offer.product.pk)
    basket_code_apply(ada, code=offer.codes[0])
    pending = basket_checkout(ada).order
    _free_code(offer.product, "FREE-FOR-ADA")
    _free_code(offer.product, "FREE-FOR-BO")
    basket_replace(bo, product_id=offer.product.pk)

    results = race(
        [
            lambda: basket_checkout(ada, code="free-for-ada").order.state,
            lambda: basket_checkout(bo, code="free-for-bo").order.state,
        ]
    )

    assert results[0] == ("ok", "fulfilled")
    assert results[1] == ("refused", "contract-full")
    assert Order.objects.get(pk=pending.pk).state == "canceled"
    assert list(ContractMembership.objects.values_list("user", flat=True)) == [ada.pk]
    assert list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_by")
    ) == [("FREE-FOR-ADA", ada.pk)]


# -- the enrollment read before the basket lock is granted --------------------------------------


def _hold_basket(user, taken: threading.Event, release: threading.Event) -> None:
    """Hold the learner's basket row lock (as another request of theirs would) until released."""
    try:
        with transaction.atomic():
            Basket.objects.select_for_update().get(user=user)
            taken.set()
            release.wait(timeout=30)
    finally:
        connection.close()


def _waiting_for_lock(timeout: float = 10) -> bool:
    """Some connection of the test database waits for a row lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


@postgresql
@pytest.mark.django_db(transaction=True)
def test_enrolled_from_my_courses_while_the_checkout_waits_for_the_basket_is_already_enrolled(
    make_offer,
):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    ada = UserFactory(username="ada")
    ContractMembership.objects.create(user=ada, contract=offer.contract, source="manual")
    basket_replace(ada, product_id=offer.product.pk)
    basket_code_apply(ada, code=offer.codes[0])
    taken, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_basket, args=(ada, taken, release))
    holder.start()
    assert taken.wait(timeout=10)
    result: list = []

    def checkout() -> None:
        try:
            result.append(("ok", basket_checkout(ada).order.state))
        except Exception as exc:  # noqa: BLE001  (the refusal's code is the outcome)
            result.append(("refused", getattr(exc, "code", repr(exc))))
        finally:
            connection.close()

    waiting = threading.Thread(target=checkout)
    waiting.start()
    try:
        assert _waiting_for_lock()
        contract_enroll(ada, run=offer.run)  # "Enroll" on My courses: committed meanwhile
    finally:
        release.set()
        holder.join(timeout=30)
        waiting.join(timeout=30)

    assert result == [("refused", "already-enrolled")]
    assert Order.objects.count() == DiscountRedemption.objects.count() == 0
    assert list(CourseRunEnrollment.objects.values_list("user", "active")) == [(ada.pk, True)]


# -- the compiled queries from many threads ----------------------------------------------------


@postgresql
@pytest.mark.django_db(transaction=True)
def test_the_compiled_reads_give_each_thread_its_own_learner_s_rows(make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=50)
    other = make_offer("Beta", "non-sso", max_learners=50, org="Beta U", key="BU")
    learners = []
    for index in range(8):
        chosen = offer if index % 2 else other
        user = UserFactory(username=f"racer{index}")
        basket_replace(user, product_id=chosen.product.pk)
        basket_code_apply(user, code=chosen.codes[index])
        learners.append((user, chosen, chosen.codes[index]))
    # Used codes for half of them: the annotations must be the learner's own.
    for user, _chosen, code in learners[::2]:
        DiscountRedemption.objects.create(
            redeemed_discount=Discount.objects.get(discount_code=code),
            redeemed_by=user,
            is_one_time=True,
        )
    compiled._compiled.cache_clear()  # built concurrently, by the first calls of the race

    def reads(user, chosen, code) -> list:
        seen = []
        for _ in range(25):
            with transaction.atomic():
                item = basket_item(user, for_update=True)
                found = discount_use_read(
                    Discount.objects.get(discount_code=code).pk, user=user, product=item.product
                )
            seen.append(
                (
                    item.basket.user_id,
                    item.product_id,
                    item.organization_name,
                    item.enrollment_id,
                    found.discount_code,
                    bool(found.used_by_user),
                    bool(found.linked),
                )
            )
        return sorted(set(seen))

    results = race([lambda t=t: reads(*t) for t in learners])

    expected = [
        (
            "ok",
            [
                (
                    user.pk,
                    chosen.product.pk,
                    chosen.contract.organization.name,
                    None,
                    code,
                    index % 2 == 0,
                    True,
                )
            ],
        )
        for index, (user, chosen, code) in enumerate(learners)
    ]
    assert results == expected
    assert outcomes(results) == Counter({"ok": 8})


@pytest.mark.django_db
def test_a_learner_whose_id_is_the_placeholder_number_reads_their_own_basket(make_offer):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    bo = UserFactory(username="bo")
    basket_replace(bo, product_id=offer.product.pk)
    odd = UserFactory(username="odd", pk=-7_340_000_000_000)
    basket_replace(odd, product_id=offer.product.pk)
    basket_code_apply(odd, code=offer.codes[1])

    with transaction.atomic():
        item = basket_item(odd, for_update=True)
        found = discount_use_read(
            Discount.objects.get(discount_code=offer.codes[1]).pk, user=odd, product=offer.product
        )

    assert (item.basket.user_id, found.discount_code) == (odd.pk, offer.codes[1])
    assert basket_checkout(odd).order.state == "fulfilled"
    assert list(ContractMembership.objects.values_list("user", flat=True)) == [odd.pk]


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_priced_and_a_free_checkout_of_the_same_learner_at_once_leave_one_code_spent(
    make_offer, payments
):
    offer = make_offer("Acme Paid", "non-sso", max_learners=2, price="250")
    ada = UserFactory(username="ada")
    basket_replace(ada, product_id=offer.product.pk)
    basket_code_apply(ada, code=offer.codes[0])
    _free_code(offer.product, "FREE-FOR-ADA")

    results = race(
        [
            lambda: basket_checkout(ada).order.state,
            lambda: basket_checkout(ada, code="free-for-ada").order.state,
        ]
    )

    assert results[1] == ("ok", "fulfilled")
    assert results[0] in (("ok", "pending"), ("refused", "basket-empty"))
    states = Counter(Order.objects.values_list("state", flat=True))
    assert states == (
        Counter({"canceled": 1, "fulfilled": 1})
        if results[0][0] == "ok"
        else Counter({"fulfilled": 1})
    )
    assert list(
        DiscountRedemption.objects.values_list("redeemed_discount__discount_code", "redeemed_by")
    ) == [("FREE-FOR-ADA", ada.pk)]
    assert list(ContractMembership.objects.values_list("user", flat=True)) == [ada.pk]
    assert CourseRunEnrollment.objects.count() == 1


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_code_deactivated_while_it_is_checked_out_is_either_redeemed_or_deactivated(make_offer):
    from b2b.services.code_operations import codes_deactivate

    offer = make_offer("Acme", "non-sso", max_learners=5)
    ada = UserFactory(username="ada")
    basket_replace(ada, product_id=offer.product.pk)
    basket_code_apply(ada, code=offer.codes[0])

    results = race(
        [lambda: basket_checkout(ada).order.state, lambda: codes_deactivate([offer.codes[0]])]
    )

    code = Discount.objects.get(discount_code=offer.codes[0])
    redeemed = DiscountRedemption.objects.filter(redeemed_discount=code).count()
    if results[0][0] == "ok":
        assert (results[1], code.is_active, redeemed) == (("refused", "code-redeemed"), True, 1)
        assert ContractMembership.objects.count() == 1
    else:
        assert results[0] == ("refused", "code-deactivated")
        assert (results[1][0], code.is_active, redeemed) == ("ok", False, 0)
        assert ContractMembership.objects.count() == Order.objects.count() == 0


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_checkout_waiting_for_the_basket_holds_no_lock_on_its_item(make_offer):
    # The payment callback locks the basket, then deletes the item: a checkout that locked the
    # item first and waited for the basket deadlocked with it (a 500).
    from ecommerce.models import BasketItem

    offer = make_offer("Acme", "non-sso", max_learners=5)
    ada = UserFactory(username="ada")
    basket_replace(ada, product_id=offer.product.pk)
    basket_code_apply(ada, code=offer.codes[0])
    taken, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_basket, args=(ada, taken, release))
    holder.start()
    assert taken.wait(timeout=10)
    result: list = []

    def checkout() -> None:
        try:
            result.append(basket_checkout(ada).order.state)
        finally:
            connection.close()

    waiting = threading.Thread(target=checkout)
    waiting.start()
    try:
        assert _waiting_for_lock()
        with transaction.atomic():
            item_free = BasketItem.objects.select_for_update(nowait=True, of=("self",)).filter(
                basket__user=ada
            )
            assert [i.product_id for i in item_free] == [offer.product.pk]
    finally:
        release.set()
        holder.join(timeout=30)
        waiting.join(timeout=30)

    assert result == ["fulfilled"]
