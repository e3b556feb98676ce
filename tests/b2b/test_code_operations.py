"""Operators and single codes: every code of a contract with its status (``b2b_list contracts
--codes ID --format json``), ``b2b_codes show`` and ``b2b_codes deactivate``."""

import json

import pytest
from django.core.management.base import CommandError

from b2b.models import ContractMembership
from b2b.services.audit import audit_history
from ecommerce.models import Discount, DiscountRedemption
from ecommerce.services.basket import basket_code_apply, basket_replace
from ecommerce.services.checkout import basket_checkout
from tests.conftest import db_state
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def redeem(offer, code, username):
    user = UserFactory(username=username, email=f"{username}@example.edu")
    basket_replace(user, product_id=offer.product.pk)
    basket_code_apply(user, code=code)
    return user, basket_checkout(user).order


@pytest.fixture
def offer(make_offer):
    return make_offer("Acme", "non-sso", max_learners=3)


def test_every_code_with_its_status_and_who_redeemed_it(offer, run_command):
    user, order = redeem(offer, offer.codes[0], "bo")
    run_command("b2b_codes", "deactivate", offer.codes[1])
    redemption = DiscountRedemption.objects.get()

    rows = json.loads(
        run_command(
            "b2b_list", "contracts", "--codes", str(offer.contract.pk), "--format", "json"
        ).stdout
    )

    fresh = Discount.objects.filter(product_links__product=offer.product).order_by("pk").last()
    common = {
        "product_id": offer.product.pk,
        "product": offer.product.description,
        "redemption_type": "one-time",
        "amount": "0.00",
        "activation": None,
        "expiration": None,
    }
    unused = {
        "redemptions": 0,
        "redeemed_by": None,
        "redeemed_by_id": None,
        "redeemed_at": None,
        "order_id": None,
        "order_state": None,
    }
    assert rows == [
        {
            "code": offer.codes[0],
            **common,
            "status": "redeemed",
            "redemptions": 1,
            "redeemed_by": "bo@example.edu",
            "redeemed_by_id": user.pk,
            "redeemed_at": redemption.redemption_date.isoformat(),
            "order_id": order.pk,
            "order_state": "fulfilled",
        },
        {"code": offer.codes[1], **common, "status": "deactivated", **unused},
        {"code": offer.codes[2], **common, "status": "usable", **unused},
        # Deactivating a code of a capped contract re-adjusts its codes: a fresh one replaces it.
        {"code": fresh.discount_code, **common, "status": "usable", **unused},
    ]


def test_the_codes_json_of_an_unknown_contract_is_refused(run_command):
    with pytest.raises(CommandError) as refusal:
        run_command("b2b_list", "contracts", "--codes", "999", "--format", "json")
    assert str(refusal.value) == (
        "No contract with ID 999: `manage.py b2b_list contracts` lists them."
    )


def test_deactivate_takes_a_leaked_code_out_of_use(offer, run_command):
    out = run_command("b2b_codes", "deactivate", f" {offer.codes[2].upper()} ")

    assert out.stdout == f"{offer.codes[2]}: deactivated\n"
    assert out.stderr.startswith(
        f"Contract {offer.contract.pk}: codes re-adjusted (a capped contract gets a fresh code for "
        "each one taken out)."
    )
    assert Discount.objects.get(discount_code=offer.codes[2]).is_active is False
    usable = Discount.objects.filter(product_links__product=offer.product, is_active=True)
    assert usable.count() == 3

    again = run_command("b2b_codes", "deactivate", offer.codes[2], "--format", "json")
    assert json.loads(again.stdout) == {
        "deactivated": [],
        "already_deactivated": [offer.codes[2]],
        "contracts": [],
    }


def test_deactivate_records_the_operator_in_the_contracts_history(offer, run_command):
    run_command("b2b_codes", "deactivate", offer.codes[2], offer.codes[0].upper())

    entries = [e for e in audit_history(offer.contract.pk) if e.action.startswith("codes.")]
    deactivation, adjustment = entries[-2:]
    assert (deactivation.action, deactivation.via, deactivation.actor) == (
        "codes.deactivate",
        "command",
        "manage.py b2b_codes deactivate",
    )
    assert deactivation.changes == {
        "deactivated": 2,
        "codes": sorted([offer.codes[0], offer.codes[2]]),
    }
    # The adjustment it queued follows, as the task that ran it.
    assert (adjustment.action, adjustment.changes["created"]) == ("codes.adjust", 2)


def test_deactivating_a_code_already_deactivated_records_nothing(offer, run_command):
    run_command("b2b_codes", "deactivate", offer.codes[2])
    before = audit_history(offer.contract.pk)
    run_command("b2b_codes", "deactivate", offer.codes[2])
    assert audit_history(offer.contract.pk) == before


def test_deactivate_refuses_a_redeemed_code_and_changes_nothing(offer, run_command, unchanged):
    redeem(offer, offer.codes[0], "bo")
    before = db_state()

    with pytest.raises(CommandError) as refusal:
        run_command("b2b_codes", "deactivate", offer.codes[1], offer.codes[0])

    assert str(refusal.value) == (
        f"Redeemed codes cannot be deactivated: {offer.codes[0]}. Nothing was deactivated; "
        "leave these out (b2b_codes show CODE says who redeemed it)."
    )
    assert db_state() == before


def test_deactivate_refuses_unknown_codes_and_changes_nothing(offer, run_command):
    before = db_state()
    with pytest.raises(CommandError) as refusal:
        run_command("b2b_codes", "deactivate", offer.codes[0], "no-such-code")
    assert str(refusal.value) == (
        "No enrollment code 'no-such-code': nothing was deactivated. Check the codes "
        "(b2b_codes show CODE)."
    )
    assert db_state() == before


def test_a_deactivated_code_cannot_be_applied(offer, run_command):
    run_command("b2b_codes", "deactivate", offer.codes[0])
    user = UserFactory(username="bo")
    basket_replace(user, product_id=offer.product.pk)

    from ecommerce.exceptions import CodeDeactivated

    with pytest.raises(CodeDeactivated):
        basket_code_apply(user, code=offer.codes[0])


def test_show_says_everything_about_one_code(offer, run_command):
    user, order = redeem(offer, offer.codes[0], "bo")
    code = Discount.objects.get(discount_code=offer.codes[0])
    redemption = DiscountRedemption.objects.get()

    info = json.loads(
        run_command("b2b_codes", "show", offer.codes[0].upper(), "--format", "json").stdout
    )

    assert info == {
        "code": offer.codes[0],
        "status": "redeemed",
        "redemption_type": "one-time",
        "discount_type": "fixed-price",
        "amount": "0.00",
        "payment_type": "sales",
        "is_bulk": True,
        "activation": None,
        "expiration": None,
        "created_on": code.created_on.isoformat(),
        "updated_on": code.updated_on.isoformat(),
        "products": [
            {
                "product_id": offer.product.pk,
                "product": offer.product.description,
                "product_active": True,
                "run": offer.run.courseware_id,
                "contract_id": offer.contract.pk,
                "contract": "Acme",
                "organization": "University X",
            }
        ],
        "redemptions": [
            {
                "user_id": user.pk,
                "user": "bo@example.edu",
                "date": redemption.redemption_date.isoformat(),
                "order_id": order.pk,
                "order_state": "fulfilled",
            }
        ],
    }
    table = run_command("b2b_codes", "show", offer.codes[0]).stdout
    assert f"Enrollment code {offer.codes[0]}" in table
    assert f"by bo@example.edu (user {user.pk}) on" in table
    assert ContractMembership.objects.get().source == "code"


def test_show_refuses_an_unknown_code(run_command, wagtail_site):
    with pytest.raises(CommandError) as refusal:
        run_command("b2b_codes", "show", "nope")
    assert str(refusal.value) == "No enrollment code 'nope': check it (codes are UUIDs)."
