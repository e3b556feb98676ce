"""Course runs changed by hand: an edit in the Django Admin's course-run page (SPEC §7, §8).

A change to a contract run is recorded in its contract's history (action ``courseware.change``:
the run's key and each field before → after), and a change to its title, pacing or dates is sent
to Open edX with the same PATCH as the run's creation, queued on commit
(``openedx.api.course_run_edx_update_queue``). A public run's change is saved, and recorded by
the admin's own log only. Contract runs are made, moved and taken off contracts by
``b2b.services.courseware``, never here: the run's key, course and contract are not changeable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from b2b.models import ContractPage
from b2b.services.audit import audit_record, plain
from courses.models import CourseRun
from openedx.api import course_run_edx_update_queue

#: The fields a person may change on an existing run (the key, its run tag, the course and the
#: contract are the run's identity).
CHANGEABLE_FIELDS = (
    "title",
    "start_date",
    "end_date",
    "enrollment_start",
    "enrollment_end",
    "live",
    "is_self_paced",
    "is_source_run",
)
#: The fields Open edX holds too (sent with the PATCH).
EDX_FIELDS = frozenset(
    ("title", "is_self_paced", "start_date", "end_date", "enrollment_start", "enrollment_end")
)


def _utc(value: Any) -> Any:
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


@dataclass
class RunChange:
    """What ``course_run_change`` did: ``changes`` is ``{field: {"before": b, "after": a}}``
    (ISO dates; empty when nothing changed), ``edx_queued`` whether the PATCH was queued."""

    run: CourseRun
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edx_queued: bool = False


def course_run_change(run_id: int, *, values: Mapping[str, Any]) -> RunChange:
    """Change fields of the run ``run_id`` (``values``: field name → new value, already
    validated, for example by the admin's form), in one transaction with the run's row locked.

    For a contract run: records ``courseware.change`` in the contract's history (the actor is
    the one the interface set: the admin's user, via ``admin``), and queues the Open edX PATCH
    when the title, pacing or a date changed and the run was created here. Values equal to the
    current ones change nothing and record nothing. Raises ``ValueError`` for a field not in
    ``CHANGEABLE_FIELDS``, ``CourseRun.DoesNotExist`` for an unknown ID.
    """
    unknown = sorted(set(values) - set(CHANGEABLE_FIELDS))
    if unknown:
        raise ValueError(
            f"cannot change {', '.join(unknown)} on a course run: one of "
            f"{', '.join(CHANGEABLE_FIELDS)}"
        )
    with transaction.atomic():
        # No select_related: the contract is a nullable join, which PostgreSQL cannot lock.
        run = CourseRun.objects.select_for_update().get(pk=run_id)
        # Compared as values (two datetimes are equal at the same instant in any time zone),
        # recorded in UTC.
        changed = [name for name in values if getattr(run, name) != values[name]]
        changes = {
            name: {"before": plain(_utc(getattr(run, name))), "after": plain(_utc(values[name]))}
            for name in changed
        }
        result = RunChange(run, changes)
        if not changes:
            return result
        for name in changed:
            setattr(run, name, values[name])
        run.save(update_fields=[*changes, "updated_on"])
        if run.b2b_contract_id is not None:
            contract = ContractPage.objects.get(pk=run.b2b_contract_id)
            audit_record(
                contract,
                action="courseware.change",
                changes={"run": run.courseware_id, **changes},
            )
        if EDX_FIELDS & set(changes):
            result.edx_queued = course_run_edx_update_queue(run)
    return result
