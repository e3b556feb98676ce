"""Enrollment asked for by a learner (the enroll API, the dashboard's Enroll button).

A contract run is entered only by the contract's rules (``b2b.services.redemption``): without a
code, only by a learner attached to the contract, when it is free. A run of the public catalog is
open to anyone while it is live and within its enrollment dates, unless it is sold as a product
(then the cart is the way in).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from b2b.services.redemption import contract_enroll
from courses.exceptions import AlreadyEnrolled, RunNotEnrollable
from courses.models import CourseRun, CourseRunEnrollment
from main.models import User
from openedx.api import enrollment_enroll


def enrollment_request(user: User, *, run: CourseRun) -> CourseRunEnrollment:
    """Enroll ``user`` in ``run`` without an order; returns the (new or reactivated) enrollment.

    Contract runs: ``contract_enroll`` (``code-required`` unless attached to the contract,
    ``run-not-enrollable`` for a priced one, ``contract-inactive``, ``already-enrolled``). A run
    that was a contract run and has left its contract: ``run-not-enrollable``. Public runs:
    ``run-not-enrollable`` when not live, a source run, sold as a product or outside the
    enrollment dates; ``already-enrolled``. Written by the
    one enrollment writer (``openedx.api.enrollment_enroll``), which queues the edX enrollment on
    commit.
    """
    if run.is_b2b:
        if run.b2b_contract_id is None:
            raise RunNotEnrollable(f"{run.title} is no longer offered.")
        return contract_enroll(user, run=run)
    now = timezone.now()
    if not (run.live and run.course.live) or run.is_source_run:
        raise RunNotEnrollable(f"{run.title} is not open for enrollment.")
    if run.products.filter(is_active=True).exists():
        raise RunNotEnrollable(f"{run.title} is sold as a product: add it to your cart to enroll.")
    if (run.enrollment_start and now < run.enrollment_start) or (
        run.enrollment_end and now > run.enrollment_end
    ):
        raise RunNotEnrollable(
            f"Enrollment in {run.title} is closed at this time (see its enrollment dates)."
        )
    with transaction.atomic():
        # A concurrent request that enrolled the learner first: the writer's unique constraint
        # (created) or its conditional update (reactivated) says so.
        written = enrollment_enroll(user, run=run)
        if not written.changed:
            raise AlreadyEnrolled(f"You are already enrolled in {run.title}.")
    return written.enrollment
