"""The factories build what the operator's commands build: the same pages, runs, products and
codes (so tests given a factory-made contract test the product's own state), a state
``b2b_check`` finds whole, and nothing left queued in the test's transaction."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from wagtail.models import PageLogEntry

from b2b.models import ContractCodesLock, ContractCourseware, ContractPage, OrganizationPage
from b2b.services.audit import audit_history
from b2b.services.check import contracts_check
from b2b.services.codes import codes_adjust_queue
from courses.models import CourseRun
from ecommerce.models import Discount, Product
from tests.b2b.helpers import is_uuid4, make_contract, new_contract
from tests.factories import (
    ContractFactory,
    ContractRunFactory,
    EnrollmentCodeFactory,
    MembershipFactory,
    OrganizationFactory,
    RedemptionFactory,
    contract_program,
    contract_runs,
    enrollment_codes,
    memberships_bulk,
    run_product,
)

pytestmark = pytest.mark.django_db

# (command-line options, the same contract's factory fields)
KINDS = {
    "capped": (["non-sso", "--max-learners", "3"], {"max_learners": 3}),
    "uncapped": (["non-sso"], {}),
    "sso": (["sso"], {"integration_type": "sso"}),
    "sso-capped": (["sso", "--max-learners", "2"], {"integration_type": "sso", "max_learners": 2}),
    "priced": (
        ["non-sso", "--max-learners", "2", "--price", "49.5", "--start", "2096-01-01"],
        {
            "max_learners": 2,
            "enrollment_fixed_price": "49.5",
            "contract_start": dt.date(2096, 1, 1),
        },
    ),
    "sso-priced": (
        ["sso", "--price", "150", "--end", "2096-06-30"],
        {
            "integration_type": "sso",
            "enrollment_fixed_price": "150",
            "contract_end": dt.date(2096, 6, 30),
        },
    ),
}


def described(contract: ContractPage, org_key: str) -> dict:
    """Everything the contract's creation and its courseware wrote, with what differs between
    two contracts made the same way (IDs, the org key, codes, moments) left out."""
    contract = ContractPage.objects.get(pk=contract.pk)
    org = contract.organization

    def plain(text: str) -> str:
        return text.replace(f"UAI_{org_key}+", "UAI_<org>+").replace(f"_C{contract.pk}", "_C<id>")

    runs = CourseRun.objects.filter(b2b_contract=contract).order_by("pk")
    return {
        "contract": {
            k: v
            for k, v in ContractPage.objects.values().get(pk=contract.pk).items()
            if k
            not in (
                "id",
                "page_ptr_id",
                "organization_id",
                "path",
                "url_path",
                "latest_revision_id",
                "live_revision_id",
                "latest_revision_created_at",
                "first_published_at",
                "last_published_at",
                "translation_key",
            )
        },
        "parent": (contract.get_parent().specific.__class__.__name__, contract.depth),
        "organization": (org.get_parent().specific.__class__.__name__, org.live, org.depth),
        "published": (
            contract.live_revision_id == contract.latest_revision_id is not None,
            contract.live_revision.as_object().max_learners == contract.max_learners,
            contract.has_unpublished_changes,
        ),
        "code lock": ContractCodesLock.objects.filter(contract=contract).exists(),
        "created": [
            (e.action, {k: v for k, v in e.changes.items() if k != "organization"})
            for e in audit_history(contract.pk)
            if e.action == "contract.create"
        ],
        "courseware": sorted(
            ContractCourseware.objects.filter(contract=contract).values_list(
                "course__readable_id", "program__readable_id"
            ),
            key=str,
        ),
        "runs": [
            {
                "key": plain(run.courseware_id),
                "run_tag": plain(run.run_tag),
                **{
                    name: getattr(run, name)
                    for name in (
                        "title",
                        "live",
                        "is_self_paced",
                        "is_source_run",
                        "is_b2b",
                        "end_date",
                        "enrollment_end",
                        "edx_status",
                        "edx_error",
                        "edx_source_key",
                        "edx_attempts",
                    )
                },
                # Open-ended contracts' runs start when they are made.
                "start": run.start_date if contract.contract_start else "now",
                "enrollment_start": run.enrollment_start == run.start_date,
            }
            for run in runs
        ],
        "products": [
            (p.price, p.is_active, plain(p.description.replace(org.name, "<org>")))
            for p in Product.objects.filter(course_run__in=runs).order_by("pk")
        ],
        "codes": sorted(
            Discount.objects.filter(product_links__product__course_run__in=runs).values_list(
                "product_links__product__course_run__course__readable_id",
                "amount",
                "discount_type",
                "redemption_type",
                "payment_type",
                "is_bulk",
                "is_active",
                "activation_date",
                "expiration_date",
            ),
            key=str,
        ),
    }


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_contract_with_courses_is_what_the_commands_make(
    wagtail_site, catalog, run_command, kind
):
    argv, fields = KINDS[kind]
    by_commands = make_contract(run_command, "Contract", *argv, org="Commands U", key="CMD")
    for course in (catalog.data, catalog.micro):
        run_command("b2b_courseware", "add", str(by_commands.pk), course.readable_id)
    by_factories = ContractFactory(
        organization=OrganizationFactory(name="Factories U", org_key="FAC"),
        name="Contract",
        **fields,
    )
    contract_runs(by_factories, catalog.data, catalog.micro)

    assert described(by_factories, "FAC") == described(by_commands, "CMD")


def test_a_program_on_a_contract_is_what_the_command_makes(wagtail_site, catalog, run_command):
    by_commands = make_contract(run_command, "P", "non-sso", "--max-learners", "2")
    run_command("b2b_courseware", "add", str(by_commands.pk), catalog.program.readable_id)
    by_factories = new_contract("P", max_learners=2, org="Factories U", key="FAC")
    contract_program(by_factories, catalog.program)

    assert described(by_factories, "FAC") == described(by_commands, "UX")


def test_an_organization_is_what_the_commands_make(wagtail_site, run_command):
    make_contract(run_command, "C", "sso", org="Commands U", key="CMD")
    by_commands = OrganizationPage.objects.get(org_key="CMD")
    by_factories = OrganizationFactory(name="Factories U", org_key="FAC")

    def seen(org: OrganizationPage) -> tuple:
        org = OrganizationPage.objects.get(pk=org.pk)
        entries = PageLogEntry.objects.filter(page=org, action="b2b.organization.create")
        return (
            org.get_parent().specific.__class__.__name__,
            org.live,
            org.live_revision_id == org.latest_revision_id is not None,
            [sorted(e.data["changes"]) for e in entries],
            org.slug == org.name.lower().replace(" ", "-"),
        )

    assert seen(by_factories) == seen(by_commands)
    # An org key already used gives that organization back.
    assert OrganizationFactory(name="Other name", org_key="fac") == by_factories


@pytest.mark.parametrize("kind", list(KINDS))
def test_b2b_check_finds_a_factory_made_contract_whole(wagtail_site, catalog, kind):
    contract = new_contract("Contract", **KINDS[kind][1])
    contract_runs(contract, catalog.data, catalog.micro)
    contract_program(new_contract("Program", max_learners=2, org="P U", key="PU"), catalog.inner)
    if contract.is_in_force():
        memberships_bulk(contract, 1)  # a seat left: at the cap would be a note

    assert [f.as_row() for f in contracts_check().findings] == []


def test_nothing_a_factory_did_stays_queued(
    wagtail_site, catalog, django_capture_on_commit_callbacks
):
    contract = new_contract("Contract", max_learners=3)
    ContractRunFactory(b2b_contract=contract, course=catalog.data)
    # The next change's code adjustment is queued (not taken for one already pending).
    with django_capture_on_commit_callbacks() as callbacks:
        codes_adjust_queue(contract)
    assert len(callbacks) == 1


def test_codes_memberships_and_redemptions(wagtail_site, catalog):
    run = ContractRunFactory(
        b2b_contract=new_contract("Contract", max_learners=2), course=catalog.data
    )
    product = run_product(run)
    assert (product.price, Discount.objects.count()) == (Decimal("0.00"), 2)

    code = EnrollmentCodeFactory(product=product, amount=Decimal("5.00"))
    bulk = enrollment_codes(product, 3, is_active=False)
    codes = list(Discount.objects.filter(product_links__product=product).order_by("pk"))
    assert codes[2:] == [code, *bulk]
    assert all(is_uuid4(c.discount_code) for c in codes)
    assert len({c.discount_code for c in codes}) == 6
    assert [(c.amount, c.is_active) for c in codes[2:]] == [
        (Decimal("5.00"), True),
        *[(Decimal("0.00"), False)] * 3,
    ]

    redemption = RedemptionFactory(redeemed_discount=code)
    assert (redemption.redeemed_order.purchaser, redemption.redeemed_order.state) == (
        redemption.redeemed_by,
        "fulfilled",
    )
    assert redemption.is_one_time is True

    membership = MembershipFactory(contract=run.b2b_contract)
    assert (membership.source, membership.contract.pk) == ("manual", run.b2b_contract.pk)


def test_an_open_ended_contract_run_starts_when_it_is_made(wagtail_site, catalog):
    before = timezone.now().replace(microsecond=0)
    run = ContractRunFactory(b2b_contract=new_contract("Open"), course=catalog.data)
    assert before <= run.start_date <= timezone.now()
    assert (run.enrollment_start, run.end_date, run.enrollment_end) == (run.start_date, None, None)
