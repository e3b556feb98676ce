"""``main.compiled.compiled_first``: a queryset built once per process, then only run, giving
what ``QuerySet.first`` gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Count, Exists, OuterRef, QuerySet

from ecommerce.models import Discount, DiscountRedemption, Order
from main.compiled import compiled_first
from tests.factories import UserFactory

BUILT: list[tuple[int, int]] = []


def _orders_of(user: int, after: int) -> QuerySet[Order]:
    BUILT.append((user, after))
    return (
        Order.objects.select_related("purchaser")
        .filter(purchaser_id=user, pk__gt=after)
        .annotate(lines_count=Count("lines"))
        .order_by("total_price_paid")
    )


def _ignores_after(user: int, after: int) -> QuerySet[Order]:
    return Order.objects.filter(purchaser_id=user).order_by("pk")


def _codes_used_by(pk: int, user: int) -> QuerySet[Discount]:
    used = DiscountRedemption.objects.filter(redeemed_discount=OuterRef("pk"), redeemed_by_id=user)
    return Discount.objects.filter(pk=pk).annotate(used_by_user=Exists(used))


@pytest.fixture
def orders(db):
    ada, bo = UserFactory(username="ada"), UserFactory(username="bo")
    made = [
        Order.objects.create(purchaser=ada, state="fulfilled", total_price_paid=Decimal(p))
        for p in ("10.00", "250.00", "5.50")
    ]
    Order.objects.create(purchaser=bo, state="pending", total_price_paid=Decimal("99.00"))
    return ada, bo, made


def _same(one: Order, other: Order) -> None:
    fields = [f.attname for f in Order._meta.concrete_fields]
    assert [getattr(one, f) for f in fields] == [getattr(other, f) for f in fields]


def test_the_row_is_what_first_gives_with_its_related_object_and_annotation(orders):
    ada, _bo, made = orders

    found = compiled_first(_orders_of, user=ada.pk, after=made[0].pk)

    expected = _orders_of(ada.pk, made[0].pk).first()
    assert found is not None and expected is not None
    _same(found, expected)
    assert found.pk == made[2].pk
    assert (found.total_price_paid, found.lines_count) == (Decimal("5.50"), 0)
    assert isinstance(found.created_on, dt.datetime) and found.created_on.tzinfo is not None
    assert found.purchaser.username == "ada"  # select_related: no query
    assert found._state.adding is False and found._state.db == "default"


def test_the_query_is_built_once_and_run_with_each_call_s_values(orders, django_assert_num_queries):
    ada, bo, made = orders
    compiled_first(_orders_of, user=ada.pk, after=0)
    BUILT.clear()

    with django_assert_num_queries(3):
        first = compiled_first(_orders_of, user=ada.pk, after=0)
        other = compiled_first(_orders_of, user=bo.pk, after=0)
        none = compiled_first(_orders_of, user=ada.pk, after=made[2].pk)

    assert BUILT == []
    assert (first.pk, other.purchaser.username, none) == (made[2].pk, "bo", None)


def test_an_annotation_reading_another_table_sees_its_rows(db):
    ada = UserFactory(username="ada")
    code = Discount.objects.create(
        discount_code="abc",
        amount=Decimal("100"),
        discount_type="percent-off",
        redemption_type="one-time",
        payment_type="staff",
    )
    before = compiled_first(_codes_used_by, pk=code.pk, user=ada.pk)
    DiscountRedemption.objects.create(redeemed_discount=code, redeemed_by=ada, is_one_time=True)

    after = compiled_first(_codes_used_by, pk=code.pk, user=ada.pk)

    assert (before.used_by_user, after.used_by_user) == (False, True)
    assert after.amount == Decimal("100.00") and isinstance(after.amount, Decimal)


def test_a_value_that_does_not_reach_the_sql_is_refused(db):
    with pytest.raises(ValueError, match="_ignores_after does not pass after to the query"):
        compiled_first(_ignores_after, user=1, after=5)
