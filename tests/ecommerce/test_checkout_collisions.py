"""A checkout that loses a race on a unique constraint is refused by the writer whose statement
collided, never by reading the database's message (SPEC §5)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import IntegrityError

import b2b.services.redemption
import ecommerce.services.checkout
from b2b.models import ContractMembership
from courses.models import CourseRunEnrollment
from ecommerce.models import DiscountRedemption, Order
from ecommerce.services.basket import basket_code_apply, basket_replace
from ecommerce.services.checkout import basket_checkout
from main.exceptions import DomainError


@pytest.fixture
def basket(make_offer, learner):
    offer = make_offer("Acme", "non-sso", max_learners=5)
    basket_replace(learner, product_id=offer.product.pk)
    basket_code_apply(learner, code=offer.codes[0])
    return offer


def test_an_enrollment_made_meanwhile_refuses_the_checkout_as_already_enrolled(
    basket, learner, monkeypatch
):
    # given an enrollment the checkout does not see when it reads (made by a racing request)
    CourseRunEnrollment.objects.create(user=learner, run=basket.run)
    unseen = SimpleNamespace(
        objects=SimpleNamespace(filter=lambda **_: SimpleNamespace(first=lambda: None))
    )
    monkeypatch.setattr(b2b.services.redemption, "CourseRunEnrollment", unseen)

    # when the checkout writes the enrollment, its insert collides
    with pytest.raises(DomainError) as refusal:
        basket_checkout(learner)

    # then the enrollment writer says so, and the checkout wrote nothing
    assert refusal.value.code == "already-enrolled"
    assert Order.objects.count() == 0
    assert DiscountRedemption.objects.count() == 0
    assert ContractMembership.objects.count() == 0


def test_any_other_collision_is_a_checkout_conflict_whatever_its_text(basket, learner, monkeypatch):
    def collide(*_args, **_kwargs):
        # the text the database gives for a redemption's constraint: it is not read
        raise IntegrityError(
            "UNIQUE constraint failed: ecommerce_discountredemption.redeemed_discount_id"
        )

    monkeypatch.setattr(ecommerce.services.checkout, "_checkout", collide)
    with pytest.raises(DomainError) as refusal:
        basket_checkout(learner)
    assert (refusal.value.code, refusal.value.message) == (
        "checkout-conflict",
        "Your enrollment changed while you were checking out: reload the cart and try again.",
    )
