"""Codes generated when courseware is added (SPEC §4): capped, uncapped, SSO free, SSO priced."""

import csv
import io
from decimal import Decimal

import pytest

from ecommerce.models import Product
from tests.b2b.helpers import codes_of, is_uuid4, new_contract
from tests.factories import ContractRunFactory, run_product

pytestmark = pytest.mark.django_db


def _add(run_command, contract, readable_id="course-v1:MITxT+14.310x"):
    run_command("b2b_courseware", "add", str(contract.pk), readable_id)
    return Product.objects.get(
        course_run__b2b_contract=contract, course_run__course__readable_id=readable_id
    )


def test_capped_non_sso_gets_one_one_time_code_per_learner_per_product(
    wagtail_site, catalog, run_command
):
    contract = new_contract("Capped", max_learners=200)
    run_command("b2b_courseware", "add", str(contract.pk), "program-v1:MITx+DEDP")
    products = Product.objects.filter(course_run__b2b_contract=contract)
    assert products.count() == 3
    for product in products:
        codes = codes_of(product)
        assert len(codes) == 200
        assert all(is_uuid4(c.discount_code) for c in codes)
        assert {
            (c.redemption_type, c.amount, c.discount_type, c.payment_type, c.is_bulk) for c in codes
        } == {("one-time", Decimal("0.00"), "fixed-price", "sales", True)}
    all_codes = [c.discount_code for p in products for c in codes_of(p)]
    assert len(set(all_codes)) == 600


def test_uncapped_non_sso_gets_one_unlimited_code_per_product(wagtail_site, catalog, run_command):
    contract = new_contract("Open", enrollment_fixed_price="10")
    product = _add(run_command, contract)
    codes = codes_of(product)
    assert [(c.redemption_type, c.amount, c.is_active) for c in codes] == [
        ("unlimited", Decimal("10.00"), True)
    ]


def test_free_sso_gets_no_codes(wagtail_site, catalog, run_command):
    contract = new_contract("SSO", "sso", max_learners=50)
    product = _add(run_command, contract)
    assert codes_of(product) == []
    assert product.price == Decimal("0.00")


def test_priced_sso_gets_codes_at_the_price(wagtail_site, catalog, run_command):
    contract = new_contract("SSO paid", "sso", max_learners=4, enrollment_fixed_price="150")
    product = _add(run_command, contract)
    assert product.price == Decimal("150.00")
    assert [(c.redemption_type, c.amount) for c in codes_of(product)] == [
        ("one-time", Decimal("150.00"))
    ] * 4


def test_adjustment_is_idempotent(wagtail_site, catalog, run_command):
    from b2b.services.codes import codes_adjust

    contract = new_contract("Capped", max_learners=5)
    product = _add(run_command, contract)
    before = [(c.discount_code, c.is_active) for c in codes_of(product)]
    report = codes_adjust(contract.pk)
    assert not report.changed
    assert [(c.discount_code, c.is_active) for c in codes_of(product)] == before


def test_codes_csv(wagtail_site, catalog, run_command, tmp_path, monkeypatch, settings):
    settings.SITE_BASE_URL = "https://learn.example.edu"
    contract = new_contract("Capped", max_learners=3)
    product = run_product(ContractRunFactory(b2b_contract=contract, course=catalog.data))
    monkeypatch.chdir(tmp_path)
    out = run_command("b2b_list", "contracts", "--codes", str(contract.pk))
    assert out.stdout == f"Wrote 3 codes to codes-{contract.pk}.csv\n"
    raw = (tmp_path / f"codes-{contract.pk}.csv").read_bytes()
    assert raw.startswith(b"Code,Product,Redeemed,Product URL\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert rows[0] == ["Code", "Product", "Redeemed", "Product URL"]
    assert sorted(r[0] for r in rows[1:]) == sorted(c.discount_code for c in codes_of(product))
    assert {tuple(r[1:]) for r in rows[1:]} == {
        (
            product.description,
            "No",
            f"https://learn.example.edu/cart/add/?product_id={product.pk}",
        )
    }
    # --codes-out writes elsewhere.
    out = run_command(
        "b2b_list", "contracts", "--codes", str(contract.pk), "--codes-out", "mine.csv"
    )
    assert out.stdout == "Wrote 3 codes to mine.csv\n"
    assert (tmp_path / "mine.csv").read_bytes() == raw


def test_codes_csv_leaves_out_deactivated_codes_and_marks_redeemed(
    wagtail_site, catalog, run_command, tmp_path, monkeypatch
):
    from ecommerce.models import DiscountRedemption, Order
    from tests.factories import UserFactory

    contract = new_contract("Capped", max_learners=3)
    product = run_product(ContractRunFactory(b2b_contract=contract, course=catalog.data))
    first, second, third = codes_of(product)
    third.is_active = False
    third.save()
    learner = UserFactory()
    order = Order.objects.create(purchaser=learner, state="fulfilled")
    DiscountRedemption.objects.create(
        redeemed_discount=first, redeemed_by=learner, redeemed_order=order, is_one_time=True
    )
    monkeypatch.chdir(tmp_path)
    run_command("b2b_list", "contracts", "--codes", str(contract.pk))
    rows = list(csv.reader((tmp_path / f"codes-{contract.pk}.csv").open(encoding="utf-8")))
    assert [(r[0], r[2]) for r in rows[1:]] == [
        (first.discount_code, "Yes"),
        (second.discount_code, "No"),
    ]


def test_codes_csv_bad_path_is_refused(wagtail_site, catalog, run_command, tmp_path):
    from django.core.management.base import CommandError

    contract = new_contract("Capped", max_learners=1)
    with pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_list", "contracts", "--codes", str(contract.pk), "--codes-out", str(tmp_path)
        )
    assert str(refusal.value) == f"--codes-out {tmp_path} is a directory: give a file name."
    with pytest.raises(CommandError) as refusal:
        run_command(
            "b2b_list",
            "contracts",
            "--codes",
            str(contract.pk),
            "--codes-out",
            str(tmp_path / "no" / "such" / "dir.csv"),
        )
    assert (
        str(refusal.value)
        == f"Cannot write {tmp_path / 'no' / 'such' / 'dir.csv'}: No such file or directory."
    )
    assert list(tmp_path.iterdir()) == []
