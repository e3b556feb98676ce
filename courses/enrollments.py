"""The one writer of enrollments: a learner's enrollment in a run, created or reactivated.

Every way into a run ends here (through ``openedx.api.enrollment_enroll``): the contract rules
(``b2b.services.redemption``: checkout, the payment callback, the dashboard's Enroll), a learner's
own request for a public run (``b2b.services.enrollments``), and the checkout of a public product
(``ecommerce.services.checkout``). One enrollment per learner per run: the unique constraint
``enrollment_one_per_user_run`` backs it.

Why the Open edX follow-up is not in this module: ``courses`` sits below ``openedx`` in the layers
(``main`` ← ``courses`` ← ``openedx`` ← ``ecommerce`` ← ``b2b``), so it cannot queue the LMS
enrollment. Instead the writer takes the edX state the enrollment starts in (``edx_status``,
which ``openedx`` decides from its settings), so the row is written once with it, and reports
whether it created or reactivated the enrollment (``EnrollmentWrite.changed``); the one function
every caller uses, ``openedx.api.enrollment_enroll``, queues the LMS enrollment on commit when it
did. A status-only marker picked up later would need a periodic scan that does not exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from courses.exceptions import AlreadyEnrolled
from courses.models import CourseRun, CourseRunEnrollment
from main.models import User


class _Unread:
    def __repr__(self) -> str:
        return "UNREAD"


#: ``existing`` not given: the writer reads the learner's enrollment itself.
UNREAD: Final[Any] = _Unread()


@dataclass(frozen=True)
class EnrollmentWrite:
    """The learner's enrollment after the write, and what the write did to it: ``created`` a new
    one, ``reactivated`` an inactive one, or neither (it was active: nothing written)."""

    enrollment: CourseRunEnrollment
    created: bool = False
    reactivated: bool = False

    @property
    def changed(self) -> bool:
        return self.created or self.reactivated


def enrollment_activate(
    user: User,
    *,
    run: CourseRun,
    edx_status: str,
    existing: CourseRunEnrollment | None | _Unread = UNREAD,
) -> EnrollmentWrite:
    """Enroll ``user`` in ``run``: create their enrollment, or reactivate their inactive one, in
    Open edX state ``edx_status``; an active enrollment is returned as it is (``changed`` false).

    ``existing``: the learner's enrollment in ``run`` as the caller read it in this transaction
    (None: none), so it is not read twice; by default it is read here. One statement to create
    or reactivate (a conditional ``UPDATE``, so two reactivations at once change it once).

    A concurrent creation of the same enrollment trips the unique constraint: ``AlreadyEnrolled``
    is raised, identified by the statement that failed (no message text is read). That statement
    ran in the caller's atomic block, which Django then marks for rollback: the refusal ends the
    caller's transaction, as every refusal of a checkout does.
    """
    if isinstance(existing, _Unread):
        existing = CourseRunEnrollment.objects.filter(user=user, run=run).first()
    if existing is None:
        try:
            with transaction.atomic(savepoint=False):
                enrollment = CourseRunEnrollment.objects.create(
                    user=user, run=run, edx_status=edx_status
                )
        except IntegrityError:
            raise AlreadyEnrolled(f"You are already enrolled in {run.title}.") from None
        return EnrollmentWrite(enrollment, created=True)
    if existing.active:
        return EnrollmentWrite(existing)
    now = timezone.now()
    reactivated = CourseRunEnrollment.objects.filter(pk=existing.pk, active=False).update(
        active=True, edx_status=edx_status, updated_on=now
    )
    existing.active, existing.edx_status, existing.updated_on = True, edx_status, now
    return EnrollmentWrite(existing, reactivated=bool(reactivated))
