"""Courseware on contracts: add and remove courses, course runs and programs (SPEC §2).

Adding a course creates the contract run from the course's source run, with key
``course-v1:UAI_{org_key}+{number}+{YYYY}_C{contract id}``, the contract's dates, live and
self-paced, and one product at the contract price; then the code adjustment is queued on commit.

The parts: ``results`` (what a change did, its audit entry and message), ``runs`` (contract runs
and their products), ``add``, ``remove`` and ``dry_run``; this package names what the rest of
the product calls.
"""

from b2b.services.courseware.add import courseware_add
from b2b.services.courseware.remove import courseware_course_ids, courseware_remove
from b2b.services.courseware.results import CourseOutcome, CoursewareChangeResult, Outcome
from b2b.services.courseware.runs import contract_run_key, product_description

__all__ = [
    "CourseOutcome",
    "CoursewareChangeResult",
    "Outcome",
    "contract_run_key",
    "courseware_add",
    "courseware_course_ids",
    "courseware_remove",
    "product_description",
]
