"""``b2b_check``: each kind of drift, made directly in the database as a bug or a hand edit would,
is reported with its severity and exit code; ``--fix`` mends the safe ones and leaves the rest."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from b2b.management.commands import b2b_check
from b2b.models import (
    ContractCodesPending,
    ContractCourseware,
    ContractMembership,
    OrganizationPage,
)
from b2b.services.check import KINDS, contracts_check
from b2b.services.codes_pending import codes_pending_mark
from b2b.services.contracts import contract_modify
from courses.models import CourseRun, CourseRunEnrollment
from ecommerce.models import Discount, DiscountRedemption, Order, Product, Transaction
from ecommerce.services.basket import basket_code_apply, basket_replace
from ecommerce.services.checkout import basket_checkout, payment_response_apply
from tests.ecommerce.helpers import gateway_response
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOUR_AGO = timezone.now() - dt.timedelta(hours=2)


def check(*argv: str) -> tuple[int, list[dict]]:
    """Run ``b2b_check --format json``: (exit status, findings)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("b2b_check", *argv, "--format", "json", stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue() or "[]")


def brief(rows: list[dict]) -> list[tuple]:
    return [(row["contract"], row["kind"], row["severity"]) for row in rows]


def redeem(offer, username: str, code: str | None = None):
    """A learner checks out with a code, as on the site (free: fulfilled at once)."""
    user = UserFactory(username=username)
    basket_replace(user, product_id=offer.product.pk)
    basket_code_apply(user, code=code or usable(offer)[0])
    basket_checkout(user)
    return user


def usable(offer) -> list[str]:
    redeemed = DiscountRedemption.objects.values("redeemed_discount_id")
    return list(
        Discount.objects.filter(product_links__product=offer.product, is_active=True)
        .exclude(pk__in=redeemed)
        .order_by("pk")
        .values_list("discount_code", flat=True)
    )


@pytest.fixture
def capped(make_offer):
    """A non-SSO contract capped at 3, free, one run, one learner redeemed: whole."""
    offer = make_offer("Capped", "non-sso", max_learners=3)
    redeem(offer, "first")
    return offer


@pytest.fixture
def fix(django_capture_on_commit_callbacks):
    def run(*argv: str) -> tuple[int, list[dict]]:
        with django_capture_on_commit_callbacks(execute=True):
            return check(*argv, "--fix", "--yes")

    return run


def test_a_whole_contract_has_no_findings_and_exits_0(capped):
    assert check() == (0, [])
    assert contracts_check().errors == 0


def test_the_finding_shape(capped):
    Discount.objects.filter(discount_code=usable(capped)[0]).update(amount=Decimal("5.00"))
    code, rows = check("--contract", str(capped.contract.pk))
    assert code == 3
    assert rows == [
        {
            "contract": capped.contract.pk,
            "kind": "codes-amount",
            "severity": "error",
            "subject": f"product {capped.product.pk} ({capped.run.courseware_id})",
            "expected": "usable codes at 0.00",
            "found": "1 usable codes at another amount",
            "fix": f"b2b_check --contract {capped.contract.pk} --fix",
        }
    ]


# -- seats ---------------------------------------------------------------------------------------


def test_over_cap_is_an_error_that_fix_leaves(capped, fix):
    cid = capped.contract.pk
    ContractMembership.objects.bulk_create(
        ContractMembership(
            user=UserFactory(username=f"extra{n}"), contract=capped.contract, source="manual"
        )
        for n in range(3)
    )
    code, rows = check()
    assert code == 3
    assert rows[0] == {
        "contract": cid,
        "kind": "seats-over-cap",
        "severity": "error",
        "subject": "learners",
        "expected": "at most 3 attached learners",
        "found": "4 attached learners",
        "fix": f"b2b_contract modify {cid} --max-learners 4 (or detach learners in the Django "
        "Admin)",
    }
    assert fix() == (3, rows)
    assert ContractMembership.objects.filter(contract_id=cid).count() == 4


def test_at_cap_is_a_note_and_exits_0(capped):
    ContractMembership.objects.bulk_create(
        ContractMembership(
            user=UserFactory(username=f"extra{n}"), contract=capped.contract, source="manual"
        )
        for n in range(2)
    )
    code, rows = check()
    assert (code, brief(rows)) == (0, [(capped.contract.pk, "seats-at-cap", "note")])
    assert rows[0]["found"] == "3 attached learners: no seat left"


# -- codes ---------------------------------------------------------------------------------------


def test_a_missing_code_is_an_error_fix_creates_it(capped, fix):
    Discount.objects.filter(discount_code=usable(capped)[0]).update(is_active=False)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "codes-count", "error")])
    assert rows[0]["expected"] == (
        "2 usable one-time (cap − 1 learners redeemed), 0 usable unlimited"
    )
    assert rows[0]["found"] == "1 usable one-time, 0 usable unlimited, 2 unredeemed"
    assert fix() == (0, [])
    assert len(usable(capped)) == 2


def test_surplus_and_unlimited_codes_are_errors_fix_deactivates_them(capped, fix):
    Discount.objects.filter(discount_code=usable(capped)[0]).update(redemption_type="unlimited")
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "codes-count", "error")])
    assert rows[0]["found"] == "1 usable one-time, 1 usable unlimited, 2 unredeemed"
    assert fix() == (0, [])
    assert Discount.objects.filter(is_active=True, redemption_type="unlimited").count() == 0


def test_uncapped_contract_needs_one_unlimited_code(make_offer, fix):
    offer = make_offer("Open", "non-sso")
    Discount.objects.filter(product_links__product=offer.product).update(is_active=False)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(offer.contract.pk, "codes-count", "error")])
    assert rows[0]["expected"] == (
        "no usable one-time code, at least 1 usable unlimited code (uncapped)"
    )
    assert fix() == (0, [])


def test_free_uncapped_sso_contract_has_no_unredeemed_code(make_offer, fix):
    offer = make_offer("Sso", "sso")
    Discount.objects.create(
        discount_code="6d1f4c1e-1b1b-4b1b-9b1b-1b1b1b1b1b1b",
        amount=0,
        discount_type="fixed-price",
        redemption_type="unlimited",
        payment_type="sales",
        is_bulk=True,
    ).product_links.create(product=offer.product)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(offer.contract.pk, "codes-count", "error")])
    assert rows[0]["expected"] == "no unredeemed code (SSO, free, uncapped)"
    assert fix() == (0, [])
    assert Discount.objects.count() == 0


def test_codes_at_another_price_are_errors_fix_reprices(make_offer, fix):
    offer = make_offer("Priced", "non-sso", max_learners=2, price="40")
    Discount.objects.filter(product_links__product=offer.product).update(amount=Decimal("9.99"))
    code, rows = check()
    assert (code, brief(rows)) == (3, [(offer.contract.pk, "codes-amount", "error")])
    assert rows[0]["expected"] == "usable codes at 40.00"
    assert rows[0]["found"] == "2 usable codes at another amount"
    assert fix() == (0, [])
    assert set(Discount.objects.values_list("amount", flat=True)) == {Decimal("40.00")}


def test_codes_with_other_dates_are_errors_fix_redates(capped, fix):
    Discount.objects.filter(product_links__product=capped.product).update(
        expiration_date=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    )
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "codes-dates", "error")])
    assert rows[0]["expected"] == "usable codes from none to none"
    assert rows[0]["found"] == "2 usable codes with other dates"
    assert fix() == (0, [])
    assert Discount.objects.filter(is_active=True, expiration_date__isnull=False).count() == 1
    # The redeemed code kept what it had: only usable codes follow the contract.


# -- products ------------------------------------------------------------------------------------


def test_a_code_adjustment_pending_past_the_period_is_an_error_fix_runs_it(
    capped, fix, settings, django_capture_on_commit_callbacks
):
    settings.REQUEUE_PENDING_AFTER = 60
    # A change committed, and its adjustment never ran (the worker lost it, or none runs).
    with django_capture_on_commit_callbacks():
        contract_modify(capped.contract.pk, max_learners=4)
    requested_on = timezone.now() - dt.timedelta(seconds=61)
    ContractCodesPending.objects.update(requested_on=requested_on)
    code, rows = check()
    assert (code, rows) == (
        3,
        [
            {
                "contract": capped.contract.pk,
                "kind": "codes-count",
                "severity": "error",
                "subject": f"product {capped.product.pk} ({capped.run.courseware_id})",
                "expected": "3 usable one-time (cap − 1 learners redeemed), 0 usable unlimited",
                "found": "2 usable one-time, 0 usable unlimited, 2 unredeemed",
                "fix": f"b2b_check --contract {capped.contract.pk} --fix",
            },
            {
                "contract": capped.contract.pk,
                "kind": "codes-pending",
                "severity": "error",
                "subject": "code adjustment",
                "expected": "adjusted within 60 s of the change (REQUEUE_PENDING_AFTER)",
                "found": f"pending since {requested_on.isoformat()}",
                "fix": f"b2b_check --contract {capped.contract.pk} --fix (and see that a Celery "
                "worker runs with beat)",
            },
        ],
    )
    assert fix() == (0, [])
    assert ContractCodesPending.objects.count() == 0
    assert len(usable(capped)) == 3


def test_a_code_adjustment_pending_for_less_than_the_period_is_fine(
    capped, settings, django_capture_on_commit_callbacks
):
    settings.REQUEUE_PENDING_AFTER = 60
    with django_capture_on_commit_callbacks():
        contract_modify(capped.contract.pk, name="Capped, renamed")
    ContractCodesPending.objects.update(requested_on=timezone.now() - dt.timedelta(seconds=59))
    assert check() == (0, [])


def test_product_at_another_price_is_an_error_fix_reprices(capped, fix):
    Product.objects.filter(pk=capped.product.pk).update(price=Decimal("12.00"))
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "product-price", "error")])
    assert (rows[0]["expected"], rows[0]["found"]) == ("0.00", "12.00")
    assert fix() == (0, [])
    assert Product.objects.get(pk=capped.product.pk).price == Decimal("0.00")


def test_run_without_active_product_is_an_error_fix_leaves(capped, fix):
    Product.objects.filter(pk=capped.product.pk).update(is_active=False)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "product-missing", "error")])
    assert rows[0]["subject"] == capped.run.courseware_id
    assert fix() == (3, rows)
    assert Product.objects.filter(is_active=True).count() == 0


def test_product_of_a_removed_run_is_an_error_fix_deactivates(capped, fix):
    # a removal that stopped halfway: the course is off the contract, the run too, its
    # product still on sale
    ContractCourseware.objects.filter(contract=capped.contract).delete()
    CourseRun.objects.filter(pk=capped.run.pk).update(b2b_contract=None)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "product-removed-run", "error")])
    assert check("--contract", str(capped.contract.pk))[1] == rows
    assert fix() == (0, [])
    assert Product.objects.get(pk=capped.product.pk).is_active is False
    assert usable(capped) == []
    assert DiscountRedemption.objects.count() == 1


def test_a_run_off_its_contract_whose_course_is_still_on_it_is_left_to_a_person(capped, fix):
    # the run lost its contract by a hand edit while the course stays on the contract: its
    # codes are in learners' hands, so --fix must not switch them off
    CourseRun.objects.filter(pk=capped.run.pk).update(b2b_contract=None)
    before = usable(capped)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "product-removed-run", "error")])
    assert (rows[0]["expected"], rows[0]["found"], rows[0]["fix"]) == (
        "a run on the contract for each of its courses",
        "the run is off the contract, its course still on it",
        f"b2b_courseware add {capped.contract.pk} {capped.run.courseware_id} puts the run back; "
        f"b2b_courseware remove {capped.contract.pk} <course> takes the course off",
    )
    assert fix() == (3, rows)
    assert Product.objects.get(pk=capped.product.pk).is_active is True
    assert usable(capped) == before != []


# -- redemptions ---------------------------------------------------------------------------------


def test_redemption_without_fulfilled_order_is_an_error_fix_leaves(capped, fix):
    Order.objects.update(state="canceled")
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "redemption-order", "error")])
    assert rows[0]["found"] == "1 of 1 redemptions: orders canceled, declined or refunded"
    assert fix() == (3, rows)
    assert DiscountRedemption.objects.count() == 1


def test_redemption_pending_for_over_an_hour_is_a_warning(capped):
    Order.objects.update(state="pending")
    assert check() == (0, [])  # a payment under way
    Order.objects.update(created_on=HOUR_AGO)
    code, rows = check()
    assert (code, brief(rows)) == (0, [(capped.contract.pk, "redemption-order-pending", "warning")])


def pay(offer, username: str, transaction_id: str = "7412345678") -> Order:
    """A learner checks out a priced product and the gateway accepts the payment."""
    user = UserFactory(username=username)
    basket_replace(user, product_id=offer.product.pk)
    basket_code_apply(user, code=usable(offer)[0])
    form = basket_checkout(user).payment.fields
    return payment_response_apply(
        gateway_response(form, "ACCEPT", transaction_id=transaction_id)
    ).order


def _without_currency(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "req_currency"}


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("99.99")},
        {"amount": None},
        {"data": lambda data: {**data, "req_currency": "EUR"}},
        {"data": _without_currency},  # a forged receipt that never said its currency
    ],
    ids=["a cent less", "no amount", "another currency", "no currency"],
)
def test_order_paid_another_amount_or_currency_is_an_error_fix_leaves(
    make_offer, payments, fix, change
):
    paid = make_offer("Paid", "non-sso", max_learners=3, price="100")
    order = pay(paid, "payer")
    assert (order.state, check()) == ("fulfilled", (0, []))
    record = Transaction.objects.get()
    for name, value in change.items():
        setattr(record, name, value(getattr(record, name)) if callable(value) else value)
    record.save()

    code, rows = check()

    assert (code, brief(rows)) == (3, [(paid.contract.pk, "redemption-payment", "error")])
    assert (rows[0]["expected"], rows[0]["found"]) == (
        "every redemption has an accepted payment of its order's amount in USD",
        "1 of 1 redemptions: fulfilled orders paid another amount or currency (see their "
        "transactions)",
    )
    assert fix() == (3, rows)
    assert Transaction.objects.get() == record


def test_redemption_without_enrollment_is_an_error_fix_leaves(capped, fix):
    CourseRunEnrollment.objects.all().delete()
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "redemption-enrollment", "error")])
    assert fix() == (3, rows)


def test_redemption_without_membership_is_an_error_fix_leaves(capped, fix):
    ContractMembership.objects.all().delete()
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "redemption-membership", "error")])
    assert fix() == (3, rows)


def test_one_time_code_redeemed_twice_is_an_error_fix_leaves_it(make_offer, fix):
    offer = make_offer("Open", "non-sso")
    shared = offer.codes[0]
    redeem(offer, "one", shared)
    redeem(offer, "two", shared)
    Discount.objects.filter(discount_code=shared).update(redemption_type="one-time")
    code, rows = check()
    pk = Discount.objects.get(discount_code=shared).pk
    assert (code, brief(rows)) == (
        3,
        [
            (offer.contract.pk, "codes-count", "error"),
            (offer.contract.pk, "code-redeemed-twice", "error"),
        ],
    )
    assert rows[1]["subject"] == f"codes {pk}"
    code, rows = fix()
    assert (code, brief(rows)) == (3, [(offer.contract.pk, "code-redeemed-twice", "error")])
    assert DiscountRedemption.objects.filter(redeemed_discount_id=pk).count() == 2


# -- runs ----------------------------------------------------------------------------------------


def test_run_whose_course_lost_its_source_is_a_warning(capped, catalog, fix):
    CourseRun.objects.filter(course=catalog.data, is_source_run=True).update(is_source_run=False)
    code, rows = check()
    assert (code, brief(rows)) == (0, [(capped.contract.pk, "run-source", "warning")])
    assert fix() == (0, rows)


def test_run_with_other_dates_is_a_note(capped):
    CourseRun.objects.filter(pk=capped.run.pk).update(
        end_date=dt.datetime(2031, 6, 30, tzinfo=dt.UTC)
    )
    code, rows = check()
    assert (code, brief(rows)) == (0, [(capped.contract.pk, "run-dates", "note")])
    assert rows[0]["found"].endswith("to 2031-06-30T00:00:00+00:00")


@pytest.mark.parametrize(
    ("fields", "found"),
    [
        ({"edx_status": "failed", "edx_error": "Studio said 500"}, "failed: Studio said 500"),
        (
            {"edx_status": "pending", "edx_last_attempt_on": HOUR_AGO},
            f"pending since {HOUR_AGO.isoformat()}",
        ),
    ],
)
def test_run_failed_or_stuck_in_edx_is_an_error_fix_requeues(capped, fix, fields, found):
    CourseRun.objects.filter(pk=capped.run.pk).update(**fields)
    code, rows = check()
    assert (code, brief(rows)) == (3, [(capped.contract.pk, "run-edx", "error")])
    assert rows[0]["found"] == found
    assert fix() == (0, [])
    # edX is off here: re-queued, the run is marked as kept here only.
    assert CourseRun.objects.get(pk=capped.run.pk).edx_status == "not-configured"


def test_run_pending_for_less_than_an_hour_is_fine(capped):
    CourseRun.objects.filter(pk=capped.run.pk).update(
        edx_status="pending", edx_last_attempt_on=timezone.now()
    )
    assert check() == (0, [])


# -- memberships ---------------------------------------------------------------------------------


def test_sso_membership_without_organization_sso_id_is_a_warning(make_offer, fix):
    offer = make_offer("Sso", "sso")
    ContractMembership.objects.create(
        user=UserFactory(username="s"), contract=offer.contract, source="sso"
    )
    code, rows = check()
    assert (code, brief(rows)) == (0, [(offer.contract.pk, "membership-sso", "warning")])
    org = offer.contract.organization
    assert (rows[0]["found"], rows[0]["fix"]) == (
        "1 sso memberships, no SSO organization ID (matched by org key, from a claim without ids)",
        f"manage.py b2b_organization modify {org.pk} --sso-id <the realm's organization id>",
    )
    assert fix() == (0, rows)
    OrganizationPage.objects.update(sso_organization_id="0f8fad5b-d9cb-469f-a165-70867728950e")
    assert check() == (0, [])


def test_memberships_of_an_inactive_contract_are_a_note(capped):
    type(capped.contract).objects.filter(pk=capped.contract.pk).update(active=False)
    code, rows = check()
    assert (code, brief(rows)) == (0, [(capped.contract.pk, "membership-not-in-force", "note")])
    assert rows[0]["found"] == "1 attached learners; the contract is inactive"


def test_every_kind_has_a_test():
    tested = {
        "seats-over-cap",
        "seats-at-cap",
        "codes-count",
        "codes-amount",
        "codes-dates",
        "codes-pending",
        "product-missing",
        "product-price",
        "product-removed-run",
        "redemption-order",
        "redemption-order-pending",
        "redemption-payment",
        "redemption-enrollment",
        "redemption-membership",
        "code-redeemed-twice",
        "run-source",
        "run-dates",
        "run-edx",
        "membership-sso",
        "membership-not-in-force",
    }
    assert set(KINDS) == tested


# -- the command ---------------------------------------------------------------------------------


def test_scope_by_contract_and_organization(make_offer):
    first = make_offer("A", "non-sso", max_learners=2)
    second = make_offer("B", "non-sso", max_learners=2, org="Other U", key="OU")
    Product.objects.update(price=Decimal("3.00"))
    assert [r["contract"] for r in check()[1]] == [first.contract.pk, second.contract.pk]
    assert [r["contract"] for r in check("--contract", str(second.contract.pk))[1]] == [
        second.contract.pk
    ]
    org = second.contract.organization_id
    assert [r["contract"] for r in check("--org", str(org))[1]] == [second.contract.pk]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--contract", "999"],
            "No contract with ID 999: `manage.py b2b_list contracts` lists them.",
        ),
        (
            ["--org", "999"],
            "No organization with ID 999: `manage.py b2b_list organizations` lists them.",
        ),
        (["--yes"], "--yes only confirms --fix: add --fix, or drop --yes."),
    ],
)
def test_bad_input_exits_1(wagtail_site, argv, message):
    with pytest.raises(CommandError) as exc:
        call_command("b2b_check", *argv, stdout=io.StringIO(), stderr=io.StringIO())
    assert (exc.value.returncode, str(exc.value)) == (1, message)


def test_contract_and_org_together_are_a_malformed_command_line(wagtail_site):
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("b2b_check", "--contract", "1", "--org", "1", stdout=io.StringIO())


def test_fix_without_a_terminal_and_without_yes_refuses_and_changes_nothing(capped, unchanged):
    Product.objects.filter(pk=capped.product.pk).update(price=Decimal("12.00"))
    err = io.StringIO()
    with unchanged(), pytest.raises(CommandError) as exc:
        call_command("b2b_check", "--fix", stdout=io.StringIO(), stderr=err)
    assert exc.value.returncode == 1
    assert str(exc.value).startswith("--fix asks for confirmation and there is no terminal")
    assert err.getvalue() == (
        "Repairs to apply:\n"
        f"  - re-run the code adjustment of contract {capped.contract.pk} (products and codes "
        "follow its price, dates and cap)\n"
        f"    plan: contract {capped.contract.pk}: 0 codes would be created, 0 would be "
        "deactivated, 0 would be made unlimited, 0 would be deleted, 0 would be "
        "re-priced/re-dated, 1 products would be re-priced; 2 usable\n"
    )


@pytest.mark.parametrize(
    ("answer", "price"),
    # Ctrl-D and Ctrl-C at the prompt are a no, not a traceback
    [("y", "0.00"), ("n", "12.00"), (EOFError, "12.00"), (KeyboardInterrupt, "12.00")],
)
def test_fix_asks_on_a_terminal(
    capped, monkeypatch, django_capture_on_commit_callbacks, answer, price
):
    Product.objects.filter(pk=capped.product.pk).update(price=Decimal("12.00"))
    monkeypatch.setattr(b2b_check, "interactive", lambda: True)

    def reply() -> str:
        if isinstance(answer, type):
            raise answer
        return answer

    monkeypatch.setattr("builtins.input", reply)
    refused = None
    with django_capture_on_commit_callbacks(execute=True):
        try:
            call_command("b2b_check", "--fix", stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as exc:
            refused = (exc.returncode, str(exc))
    assert refused == (None if answer == "y" else (1, "Repairs not applied: nothing was changed."))
    assert Product.objects.get(pk=capped.product.pk).price == Decimal(price)


def test_table_and_csv_formats(capped):
    Product.objects.filter(pk=capped.product.pk).update(price=Decimal("12.00"))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("b2b_check", "--format", "csv", stdout=out, stderr=io.StringIO())
    assert out.getvalue() == (
        "contract,kind,severity,subject,expected,found,fix\n"
        f"{capped.contract.pk},product-price,error,product {capped.product.pk} "
        f"({capped.run.courseware_id}),0.00,12.00,b2b_check --contract {capped.contract.pk} "
        "--fix\n"
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("b2b_check", stdout=out, stderr=err)
    assert "product-price" in out.getvalue() and "Contract check" in out.getvalue()
    assert err.getvalue() == "Checked 1 contract: 1 error(s), 0 warning(s), 0 note(s).\n"
    assert str(exc.value) == "1 error(s) found; the fix column says how to mend each."


# -- queries -------------------------------------------------------------------------------------


def test_queries_do_not_grow_with_codes_or_learners(make_offer, payments):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            contracts_check()
        return len(captured)

    small = make_offer("Small", "non-sso", max_learners=2)
    redeem(small, "s0")
    few = queries()
    large = make_offer("Large", "non-sso", max_learners=40, org="Big U", key="BIG")
    for n in range(12):
        redeem(large, f"l{n}")
    Order.objects.filter(pk=Order.objects.order_by("pk").last().pk).update(state="canceled")
    Product.objects.filter(pk=small.product.pk).update(price=Decimal("1.00"))
    paid = make_offer("Paid", "non-sso", max_learners=9, price="100", org="Pay U", key="PAY")
    for n in range(6):
        pay(paid, f"p{n}", transaction_id=f"74{n:08d}")
    Transaction.objects.filter(pk=Transaction.objects.order_by("pk").first().pk).update(amount=1)
    kinds = {row.kind for row in contracts_check().findings}
    assert {"redemption-order", "redemption-payment", "product-price"} <= kinds
    for contract in (small.contract, large.contract):
        codes_pending_mark(contract.pk)
    ContractCodesPending.objects.update(requested_on=timezone.now() - dt.timedelta(hours=1))
    kinds = {row.kind for row in contracts_check().findings}
    assert {"redemption-order", "redemption-payment", "product-price", "codes-pending"} <= kinds
    assert queries() == few == 10
