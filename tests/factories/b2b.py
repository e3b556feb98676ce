"""Organizations, contracts, contract runs and memberships, built directly (no command, no argparse).

Organizations and contracts are Wagtail pages: each is added under its parent (the Organizations
index, its organization) and published with ``save_revision().publish()``, as the services publish
them, with the creation entry and the code lock row every creation path writes
(``organization_created_record``, ``contract_created_record``). What the publish queues on commit
(the code adjustment of a contract that has no products yet: it finds nothing to do) runs at once,
as eager Celery runs it after a command, so nothing a factory did stays queued in the test's
transaction.

A contract run is what ``b2b_courseware add`` gives a contract for one course: the course on the
contract, its run (key, dates and flags as the courseware service makes them), the run's product at
the contract's price and the enrollment codes SPEC §4 asks for (``codes_target``). The audit entries
of those steps (``courseware.add``, ``codes.adjust``) are not written: tests about the history go
through the services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import factory
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from b2b.models import ContractCourseware, ContractMembership, ContractPage, OrganizationPage
from b2b.services.contracts import contract_created_record
from b2b.services.courseware import contract_run_key
from b2b.services.organizations import organization_created_record, unique_child_slug
from courses.keys import parse_run_key
from courses.models import Course, CourseRun, Program
from courses.services import program_courses
from main.services import site_configure
from tests.factories.accounts import UserFactory, users_bulk
from tests.factories.courses import CourseFactory, source_run


@contextmanager
def _committed() -> Iterator[None]:
    """One transaction, whose on-commit work runs when it ends (inside a test's transaction too)."""
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        yield


def organizations_index() -> Any:
    """The Organizations index page, with the site configured first when it is not yet."""
    from b2b.models import OrganizationIndexPage

    index = OrganizationIndexPage.objects.first()
    if index is None:
        site_configure()
        index = OrganizationIndexPage.objects.get()
    return index


class OrganizationFactory(factory.django.DjangoModelFactory):
    """An organization under the Organizations index, published. An org key already used gives
    that organization back (as ``--create`` with a matching key does)."""

    class Meta:
        model = OrganizationPage

    name = factory.Sequence(lambda n: f"Organization {n}")
    org_key = factory.Sequence(lambda n: f"ORG{n}")
    title = factory.SelfAttribute("name")
    description = ""
    sso_organization_id = None

    @classmethod
    def _create(cls, model_class: type[OrganizationPage], *args: Any, **kwargs: Any) -> Any:
        existing = model_class.objects.filter(org_key__iexact=kwargs["org_key"]).first()
        if existing is not None:
            return existing
        if isinstance(kwargs.get("sso_organization_id"), str):
            kwargs["sso_organization_id"] = uuid.UUID(kwargs["sso_organization_id"])
        index = organizations_index()
        organization = model_class(*args, **kwargs, live=True)
        organization.slug = unique_child_slug(index, organization.name, fallback="organization")
        with _committed():
            index.add_child(instance=organization)
            organization.save_revision().publish()
            organization_created_record(organization)
        return organization


class ContractFactory(factory.django.DjangoModelFactory):
    """A contract under its organization, active and published: non-SSO, uncapped and free unless
    told (traits ``sso``, ``capped`` (10 learners), ``priced`` (100.00))."""

    class Meta:
        model = ContractPage

    class Params:
        sso = factory.Trait(integration_type=ContractPage.IntegrationType.SSO)
        capped = factory.Trait(max_learners=10)
        priced = factory.Trait(enrollment_fixed_price=Decimal("100.00"))

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Contract {n}")
    title = factory.SelfAttribute("name")
    description = ""
    integration_type = ContractPage.IntegrationType.NON_SSO
    active = True
    max_learners = None
    enrollment_fixed_price = None
    contract_start = None
    contract_end = None

    @classmethod
    def _create(cls, model_class: type[ContractPage], *args: Any, **kwargs: Any) -> Any:
        organization = kwargs["organization"]
        if kwargs.get("enrollment_fixed_price") is not None:
            # Money is kept in cents, as the services keep it (SPEC §1).
            kwargs["enrollment_fixed_price"] = Decimal(kwargs["enrollment_fixed_price"]).quantize(
                Decimal("0.01")
            )
        contract = model_class(*args, **kwargs, live=True)
        contract.slug = unique_child_slug(organization, contract.name, fallback="contract")
        with _committed():
            organization.add_child(instance=contract)
            contract.save_revision().publish()
            contract_created_record(contract)
        return contract


class SourcedCourseFactory(CourseFactory):
    """A course with its source run (run tag SOURCE), so contracts can have runs of it."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def source(course: Course, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and not course.runs.filter(is_source_run=True).exists():
            source_run(course)


def _source(course: Course) -> CourseRun:
    source = course.runs.filter(is_source_run=True).first()
    if source is None:
        raise ValueError(f"{course.readable_id} has no source run: a contract run needs one")
    return source


class ContractRunFactory(factory.django.DjangoModelFactory):
    """A course on a contract with its contract run, the run's product and its codes.

    ``product=False``: no product; ``product__codes=N``: N one-time codes instead of SPEC §4's
    (``product__codes=0``: none).
    """

    class Meta:
        model = CourseRun
        skip_postgeneration_save = True

    b2b_contract = factory.SubFactory(ContractFactory)
    course = factory.SubFactory(SourcedCourseFactory)
    courseware_id = factory.LazyAttribute(
        lambda r: contract_run_key(r.b2b_contract, _source(r.course))
    )
    run_tag = factory.LazyAttribute(lambda r: parse_run_key(r.courseware_id).run)
    title = factory.SelfAttribute("course.title")
    # The contract's dates; an open-ended contract's runs start when they are made (SPEC §3).
    start_date = factory.LazyAttribute(
        lambda r: r.b2b_contract.starts_at or timezone.now().replace(microsecond=0)
    )
    end_date = factory.SelfAttribute("b2b_contract.ends_at")
    enrollment_start = factory.SelfAttribute("start_date")
    enrollment_end = factory.SelfAttribute("end_date")
    live = True
    is_self_paced = True
    is_source_run = False
    is_b2b = True
    edx_source_key = factory.LazyAttribute(lambda r: _source(r.course).courseware_id)

    @factory.post_generation
    def courseware(run: CourseRun, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not False:
            ContractCourseware.objects.get_or_create(contract=run.b2b_contract, course=run.course)

    @factory.post_generation
    def product(run: CourseRun, create: bool, extracted: Any, **kwargs: Any) -> None:
        from tests.factories.ecommerce import ProductFactory

        if create and extracted is not False:
            ProductFactory(course_run=run, **kwargs)


def contract_runs(contract: ContractPage, *courses: Course) -> list[CourseRun]:
    """The contract's runs of ``courses``, each with its product and codes, in that order."""
    return [ContractRunFactory(b2b_contract=contract, course=course) for course in courses]


def contract_program(contract: ContractPage, program: Program) -> list[CourseRun]:
    """What adding a program gives a contract: the program on it, and a run (with its product
    and codes) of every course of its requirements tree (``program_courses``), in tree order."""
    ContractCourseware.objects.get_or_create(contract=contract, program=program)
    return [
        ContractRunFactory(b2b_contract=contract, course=course, courseware=False)
        for course in program_courses(program)
    ]


class MembershipFactory(factory.django.DjangoModelFactory):
    """A learner attached to a contract (source ``manual`` unless told)."""

    class Meta:
        model = ContractMembership

    user = factory.SubFactory(UserFactory)
    contract = factory.SubFactory(ContractFactory)
    source = ContractMembership.Source.MANUAL


def memberships_bulk(contract: ContractPage, count: int, *, source: str = "code") -> list[Any]:
    """``count`` new learners attached to ``contract``, in bulk; returns the learners."""
    users = users_bulk(count)
    ContractMembership.objects.bulk_create(
        [ContractMembership(user=u, contract=contract, source=source) for u in users],
        batch_size=1000,
    )
    return users
