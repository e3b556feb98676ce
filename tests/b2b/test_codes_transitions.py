"""Every contract change of SPEC §4, one test each: exact codes per product afterwards.

Each test changes the contract with the operator's command (the adjustment runs on commit, eager)
and counts every code of each product by type, state and amount.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from b2b.services.codes import codes_adjust
from ecommerce.models import Discount
from tests.b2b.codes_helpers import (
    DATA,
    MICRO,
    codes,
    contract_with_courses,
    modify,
    product,
    redeem,
    redemptions,
    tally,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(wagtail_site, catalog, run_command):
    return run_command


def test_cap_raised_creates_the_missing_codes_and_keeps_the_old(setup):
    contract = contract_with_courses("non-sso", max_learners=3)
    before = {p: [c.discount_code for c in codes(product(contract, p))] for p in (DATA, MICRO)}
    modify(setup, contract, "--max-learners", "5")
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {"one-time active 0.00": 5}
        assert [c.discount_code for c in codes(product(contract, readable_id))][:3] == before[
            readable_id
        ]


def test_cap_lowered_deactivates_the_newest_unredeemed_codes(setup):
    contract = contract_with_courses("non-sso", max_learners=5)
    data, micro = product(contract, DATA), product(contract, MICRO)
    oldest = codes(data)[0]
    redeem(oldest)
    modify(setup, contract, "--max-learners", "2")
    # DATA: 1 learner redeemed + 1 usable = 2; the 3 newest unredeemed codes went.
    assert tally(data) == {"one-time active 0.00": 2, "one-time inactive 0.00": 3}
    assert [c.is_active for c in codes(data)] == [True, True, False, False, False]
    assert tally(micro) == {"one-time active 0.00": 2, "one-time inactive 0.00": 3}
    assert [c.is_active for c in codes(micro)] == [True, True, False, False, False]
    # The redeemed code is untouched.
    oldest.refresh_from_db()
    assert (oldest.is_active, oldest.redemption_type) == (True, "one-time")


def test_deactivated_codes_stay_deactivated_when_the_cap_rises_again(setup):
    contract = contract_with_courses("non-sso", max_learners=3, courses=(DATA,))
    data = product(contract, DATA)
    modify(setup, contract, "--max-learners", "1")
    gone = {c.pk for c in codes(data, is_active=False)}
    modify(setup, contract, "--max-learners", "4")
    assert tally(data) == {"one-time active 0.00": 4, "one-time inactive 0.00": 2}
    assert {c.pk for c in codes(data, is_active=False)} == gone


def test_cap_removed_makes_unredeemed_codes_unlimited(setup):
    contract = contract_with_courses("non-sso", max_learners=3, price="20")
    data, micro = product(contract, DATA), product(contract, MICRO)
    redeem(codes(data)[0])
    modify(setup, contract, "--no-learner-cap")
    assert tally(data) == {"one-time active 20.00": 1, "unlimited active 20.00": 2}
    assert tally(micro) == {"unlimited active 20.00": 3}


def test_cap_added_replaces_unlimited_codes_with_one_time_codes(setup):
    contract = contract_with_courses("non-sso", price="20")
    data, micro = product(contract, DATA), product(contract, MICRO)
    assert tally(data) == tally(micro) == {"unlimited active 20.00": 1}
    modify(setup, contract, "--max-learners", "4")
    assert (
        tally(data) == tally(micro) == {"one-time active 20.00": 4, "unlimited inactive 20.00": 1}
    )


def test_price_set_changed_and_removed(setup):
    contract = contract_with_courses("non-sso", max_learners=2)
    data, micro = product(contract, DATA), product(contract, MICRO)
    redeem(codes(data)[0])
    modify(setup, contract, "--price", "25")
    # Usable codes follow the price; the redeemed one-time code keeps what it was sold at.
    assert tally(data) == {"one-time active 0.00": 1, "one-time active 25.00": 1}
    assert tally(micro) == {"one-time active 25.00": 2}
    assert (data.price, micro.price) == (Decimal("25.00"), Decimal("25.00"))
    modify(setup, contract, "--price", "40.5")
    assert tally(data) == {"one-time active 0.00": 1, "one-time active 40.50": 1}
    assert tally(micro) == {"one-time active 40.50": 2}
    assert (data.price, micro.price) == (Decimal("40.50"), Decimal("40.50"))
    modify(setup, contract, "--no-price")
    assert tally(data) == {"one-time active 0.00": 2}
    assert tally(micro) == {"one-time active 0.00": 2}
    assert (data.price, micro.price) == (Decimal("0.00"), Decimal("0.00"))


def test_sso_free_uncapped_to_non_sso_gets_one_unlimited_code_per_product(setup):
    contract = contract_with_courses("sso")
    data, micro = product(contract, DATA), product(contract, MICRO)
    assert tally(data) == tally(micro) == {}
    modify(setup, contract, "--integration-type", "non-sso")
    assert tally(data) == tally(micro) == {"unlimited active 0.00": 1}


def test_non_sso_uncapped_to_free_sso_deletes_the_unredeemed_codes(setup):
    contract = contract_with_courses("non-sso")
    data, micro = product(contract, DATA), product(contract, MICRO)
    used = codes(data)[0]
    redeem(used)
    kept = redemptions()
    modify(setup, contract, "--integration-type", "sso")
    assert tally(data) == {"unlimited active 0.00": 1}
    assert codes(data) == [used]
    assert tally(micro) == {}
    assert redemptions() == kept


def test_non_sso_capped_to_free_sso_leaves_the_codes(setup):
    contract = contract_with_courses("non-sso", max_learners=3)
    modify(setup, contract, "--integration-type", "sso")
    for readable_id in (DATA, MICRO):
        assert tally(product(contract, readable_id)) == {"one-time active 0.00": 3}
    # ... and back: codes are needed again; the same three serve.
    before = [c.pk for c in codes(product(contract, DATA))]
    modify(setup, contract, "--integration-type", "non-sso")
    assert [c.pk for c in codes(product(contract, DATA))] == before


def test_priced_sso_capped_made_free_keeps_its_codes_at_zero(setup):
    contract = contract_with_courses("sso", max_learners=2, price="150")
    data = product(contract, DATA)
    assert tally(data) == {"one-time active 150.00": 2}
    modify(setup, contract, "--no-price")
    assert tally(data) == {"one-time active 0.00": 2}
    assert data.price == Decimal("0.00")


def test_priced_sso_uncapped_made_free_deletes_the_unredeemed_codes(setup):
    contract = contract_with_courses("sso", price="150")
    assert tally(product(contract, DATA)) == {"unlimited active 150.00": 1}
    modify(setup, contract, "--no-price")
    assert tally(product(contract, DATA)) == tally(product(contract, MICRO)) == {}


def test_uncapped_code_used_by_several_learners_then_capped(setup):
    contract = contract_with_courses("non-sso", price="10")
    data, micro = product(contract, DATA), product(contract, MICRO)
    shared = codes(data)[0]
    for _ in range(3):
        redeem(shared)
    kept = redemptions()
    modify(setup, contract, "--max-learners", "5")
    # DATA: 3 learners redeemed + 2 one-time codes = 5; the unlimited code is deactivated.
    assert tally(data) == {"one-time active 10.00": 2, "unlimited inactive 10.00": 1}
    assert tally(micro) == {"one-time active 10.00": 5, "unlimited inactive 10.00": 1}
    assert redemptions() == kept


def test_cap_lowered_below_the_redeemed_count_is_reported_over_cap(setup, caplog):
    contract = contract_with_courses("non-sso", max_learners=5)
    data, micro = product(contract, DATA), product(contract, MICRO)
    for code in codes(data)[:3]:
        redeem(code)
    kept = redemptions()
    modify(setup, contract, "--max-learners", "2")
    # DATA: every unredeemed code is deactivated, the 3 redeemed stay as they were.
    assert tally(data) == {"one-time active 0.00": 3, "one-time inactive 0.00": 2}
    assert [c.is_active for c in codes(data)] == [True, True, True, False, False]
    assert tally(micro) == {"one-time active 0.00": 2, "one-time inactive 0.00": 3}
    assert redemptions() == kept
    report = codes_adjust(contract.pk)
    assert (report.over_cap, report.changed) == (True, False)
    assert [(p.learners_redeemed, p.usable_after) for p in report.products] == [(3, 0), (0, 2)]
    assert "OVER ITS LEARNER CAP" in report.summary()


def test_courseware_removed_deactivates_its_product_and_unredeemed_codes(setup):
    contract = contract_with_courses("non-sso", max_learners=3)
    data, micro = product(contract, DATA), product(contract, MICRO)
    redeem(codes(data)[0])
    kept = redemptions()
    setup("b2b_courseware", "remove", str(contract.pk), DATA)
    data.refresh_from_db()
    assert data.is_active is False
    assert tally(data) == {"one-time active 0.00": 1, "one-time inactive 0.00": 2}
    assert tally(micro) == {"one-time active 0.00": 3}
    assert redemptions() == kept
    # Later changes leave the removed product's codes alone.
    modify(setup, contract, "--max-learners", "4", "--price", "9")
    assert tally(data) == {"one-time active 0.00": 1, "one-time inactive 0.00": 2}
    assert tally(micro) == {"one-time active 9.00": 4}


def test_codes_carry_and_follow_the_contract_dates(setup, settings):
    settings.TIME_ZONE = "America/New_York"
    zone = ZoneInfo("America/New_York")
    contract = contract_with_courses(
        "non-sso", max_learners=2, start=dt.date(2096, 1, 1), end=dt.date(2096, 6, 30)
    )
    data = product(contract, DATA)
    assert {(c.activation_date, c.expiration_date) for c in codes(data)} == {
        (dt.datetime(2096, 1, 1, tzinfo=zone), dt.datetime(2096, 6, 30, 23, 59, 59, tzinfo=zone))
    }
    modify(setup, contract, "--end", "2096-12-31")
    assert {(c.activation_date, c.expiration_date) for c in codes(data)} == {
        (dt.datetime(2096, 1, 1, tzinfo=zone), dt.datetime(2096, 12, 31, 23, 59, 59, tzinfo=zone))
    }
    modify(setup, contract, "--no-start-date", "--no-end-date")
    assert {(c.activation_date, c.expiration_date) for c in codes(data)} == {(None, None)}


def test_adjustment_report_counts_each_action(setup):
    contract = contract_with_courses("non-sso", max_learners=4)
    for code in codes(product(contract, DATA))[:1]:
        redeem(code, UserFactory())
    contract.max_learners, contract.enrollment_fixed_price = 2, Decimal("5")
    contract.save()
    report = codes_adjust(contract.pk)
    assert [
        (
            p.description.split(" - ")[1],
            p.deactivated,
            p.repriced,
            p.created,
            p.converted,
            p.usable_after,
        )
        for p in report.products
    ] == [
        ("Data Analysis for Social Scientists", 2, 1, 0, 0, 1),
        ("Microeconomics", 2, 2, 0, 0, 2),
    ]
    assert len(report.products_repriced) == 2
    assert codes_adjust(contract.pk).changed is False
    assert Discount.objects.filter(is_active=True, amount=Decimal("5.00")).count() == 3
