"""``--dry-run`` of ``b2b_contract modify`` and ``b2b_courseware add|remove``: the plan of the code
adjustment, and that the real run then does exactly what the plan said (SPEC §2)."""

import json
from collections import defaultdict

import pytest

from ecommerce.models import Discount, DiscountRedemption, Product
from tests.b2b.codes_helpers import DATA, MICRO, codes, contract_with_courses, product, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(wagtail_site, catalog, run_command):
    return run_command


def _codes_state() -> dict[int, tuple]:
    rows = Discount.objects.values_list(
        "pk",
        "product_links__product__description",
        "redemption_type",
        "is_active",
        "amount",
        "activation_date",
        "expiration_date",
    )
    redeemed = set(DiscountRedemption.objects.values_list("redeemed_discount_id", flat=True))
    return {
        pk: (desc, kind, active, amount, start, end, pk in redeemed)
        for pk, desc, kind, active, amount, start, end in rows
    }


def _products_state() -> dict[str, tuple]:
    return {p.description: (p.price, p.is_active) for p in Product.objects.all()}


def _what_happened(before: dict, after: dict, products_before: dict, products_after: dict) -> dict:
    """Per product description: the plan's counts, measured from two snapshots of the tables."""
    happened: dict[str, dict] = defaultdict(
        lambda: {"create": 0, "deactivate": 0, "convert": 0, "reprice": 0, "delete": 0}
    )
    for pk, row in after.items():
        if pk not in before:
            happened[row[0]]["create"] += 1
            continue
        old = before[pk]
        if old[2] and not row[2]:
            happened[row[0]]["deactivate"] += 1
        if old[1] == "one-time" and row[1] == "unlimited":
            happened[row[0]]["convert"] += 1
        usable = row[2] and (row[1] == "unlimited" or not row[6])
        if usable and old[3:6] != row[3:6]:
            happened[row[0]]["reprice"] += 1
    for pk, row in before.items():
        if pk not in after:
            happened[row[0]]["delete"] += 1
    result = {}
    for description in set(products_before) | set(products_after):
        price_before, active_before = products_before.get(description, (None, False))
        price_after, active_after = products_after[description]
        if not (active_before or active_after):
            continue
        result[description] = {
            **happened[description],
            "new_product": description not in products_before,
            "product_deactivated": active_before and not active_after,
            "price_after": f"{price_after:.2f}",
        }
    return result


def _planned(plan: dict) -> dict:
    return {
        item["description"]: {
            **{key: item[key] for key in ("create", "deactivate", "convert", "reprice", "delete")},
            "new_product": item["new_product"],
            "product_deactivated": item["product_deactivated"],
            "price_after": item["price_after"],
        }
        for item in plan["products"]
    }


def _plan_then_run(run_command, argv: list[str]) -> tuple[dict, dict]:
    """The dry run's plan, then what the real run did (measured in the tables)."""
    before, products_before = _codes_state(), _products_state()
    document = json.loads(run_command(*argv, "--dry-run", "--format", "json").stdout)
    assert (_codes_state(), _products_state()) == (before, products_before)
    run_command(*argv)
    happened = _what_happened(before, _codes_state(), products_before, _products_state())
    return _planned(document["plan"]), happened


@pytest.mark.parametrize(
    "changes",
    [
        ["--max-learners", "2", "--price", "30", "--end", "2027-01-31"],
        ["--max-learners", "7"],
        ["--no-learner-cap", "--start", "2026-03-01"],
        ["--integration-type", "sso", "--no-price"],
        ["--integration-type", "sso", "--no-price", "--no-learner-cap"],
    ],
)
def test_modify_does_what_its_dry_run_planned(setup, changes):
    contract = contract_with_courses("non-sso", max_learners=4, price="10")
    redeem(codes(product(contract, DATA))[0])
    planned, happened = _plan_then_run(
        setup, ["b2b_contract", "modify", str(contract.pk), *changes]
    )
    assert planned == happened
    assert any(
        any(
            v
            for k, v in counts.items()
            if k in ("create", "deactivate", "convert", "reprice", "delete")
        )
        for counts in planned.values()
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["b2b_courseware", "add", "{id}", "course-v1:MITxT+14.73x"],
        ["b2b_courseware", "add", "{id}", "program-v1:MITx+DEDP"],
        ["b2b_courseware", "remove", "{id}", DATA],
        ["b2b_contract", "courseware", "{id}", MICRO, "--remove"],
    ],
)
def test_courseware_change_does_what_its_dry_run_planned(setup, argv):
    contract = contract_with_courses("non-sso", max_learners=3, price="10")
    redeem(codes(product(contract, DATA))[0])
    # Codes that are out of date (as after a price change whose adjustment has not run yet).
    Discount.objects.filter(product_links__product=product(contract, MICRO)).update(amount=1)
    planned, happened = _plan_then_run(setup, [a.format(id=contract.pk) for a in argv])
    assert planned == happened


def test_modify_dry_run_json_plan(setup, unchanged):
    contract = contract_with_courses("non-sso", max_learners=3, courses=(DATA,))
    data = product(contract, DATA)
    redeem(codes(data)[0])
    with unchanged():
        out = setup(
            "b2b_contract",
            "modify",
            str(contract.pk),
            "--max-learners",
            "1",
            "--price",
            "12",
            "--dry-run",
            "--format",
            "json",
        )
    assert json.loads(out.stdout) == {
        "contract_id": contract.pk,
        "dry_run": True,
        "changes": [
            {"field": "max_learners", "before": 3, "after": 1},
            {"field": "price", "before": None, "after": "12.00"},
        ],
        "codes_adjustment_queued": False,
        "plan": {
            "contract_id": contract.pk,
            "needs_codes": True,
            "max_learners": 1,
            "price": "12.00",
            "learners": 0,
            "over_cap": False,
            "totals": {
                "delete": 0,
                "deactivate": 2,
                "convert": 0,
                "create": 0,
                "reprice": 0,
                "products_repriced": 1,
                "usable_after": 0,
            },
            "products": [
                {
                    "product_id": data.pk,
                    "description": data.description,
                    "new_product": False,
                    "product_deactivated": False,
                    "price_before": "0.00",
                    "price_after": "12.00",
                    "product_repriced": True,
                    "create": 0,
                    "create_type": None,
                    "deactivate": 2,
                    "convert": 0,
                    "reprice": 0,
                    "delete": 0,
                    "learners_redeemed": 1,
                    "usable_after": 0,
                }
            ],
        },
    }
    assert out.stderr == ""


def test_modify_dry_run_table_shows_fields_and_plan(setup, unchanged):
    contract = contract_with_courses("non-sso", max_learners=3, courses=(DATA,))
    with unchanged():
        out = setup("b2b_contract", "modify", str(contract.pk), "--max-learners", "5", "--dry-run")
    lines = out.stdout.splitlines()
    assert lines[0].strip() == f"Would change contract {contract.pk}"
    assert any("max_learners" in line and "3" in line and "5" in line for line in lines)
    assert f"Enrollment codes of contract {contract.pk}: the plan" in out.stdout
    row = next(line for line in lines if "14.310x" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][1:] == [
        "0.00",
        "2 one-time",
        "0",
        "0",
        "0",
        "0",
        "5",
    ]
    assert lines[-1] == (
        f"Plan for contract {contract.pk}: 2 codes would be created, 0 would be deactivated, 0 "
        "would be made unlimited, 0 would be deleted, 0 would be re-priced/re-dated, 0 products "
        "would be re-priced; 5 usable."
    )


def test_deactivation_dry_run_plans_nothing_for_codes(setup, unchanged):
    contract = contract_with_courses("non-sso", max_learners=3, courses=(DATA,))
    with unchanged():
        out = setup(
            "b2b_contract",
            "modify",
            str(contract.pk),
            "--inactive",
            "--dry-run",
            "--format",
            "json",
        )
    assert json.loads(out.stdout)["plan"] is None


def test_remove_dry_run_plans_the_product_off_sale(setup, unchanged):
    contract = contract_with_courses("non-sso", max_learners=3)
    data = product(contract, DATA)
    redeem(codes(data)[0])
    with unchanged():
        out = setup(
            "b2b_courseware", "remove", str(contract.pk), DATA, "--dry-run", "--format", "json"
        )
    document = json.loads(out.stdout)
    assert (document["dry_run"], document["changed"]) == (True, True)
    assert document["message"].startswith(
        "Dry run, nothing changed. The real run would report: Removed"
    )
    removed = [p for p in document["plan"]["products"] if p["product_deactivated"]]
    assert [(p["product_id"], p["deactivate"], p["usable_after"]) for p in removed] == [
        (data.pk, 2, 0)
    ]


def test_add_dry_run_plans_new_products(setup, unchanged):
    contract = contract_with_courses("non-sso", max_learners=3, courses=(DATA,))
    with unchanged():
        out = setup(
            "b2b_courseware", "add", str(contract.pk), MICRO, "--dry-run", "--format", "json"
        )
    plan = json.loads(out.stdout)["plan"]
    assert [
        (p["product_id"] is None, p["new_product"], p["create"], p["create_type"])
        for p in plan["products"]
    ] == [(False, False, 0, None), (True, True, 3, "one-time")]
