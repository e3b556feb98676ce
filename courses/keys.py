"""Readable IDs and courseware IDs, parsed and built with edx-opaque-keys (SPEC §1 "courseware").

Three kinds of identifier name courseware:

- a course: ``course-v1:ORG+NUMBER`` (a readable ID has no run; it is validated by building the
  locator with a placeholder run);
- a course run: ``course-v1:ORG+NUMBER+RUN`` (a courseware ID);
- a program: ``program-v1:`` followed by ``+``-separated parts of letters, digits, ``_ . ~ -``.

Keys are never split by hand: org, number and run always come from the ``CourseLocator``.
"""

import re
from dataclasses import dataclass
from typing import Literal

from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from opaque_keys.edx.locator import CourseLocator

from main.exceptions import ValidationFailed

PROGRAM_PREFIX = "program-v1:"
PROGRAM_ID_PATTERN = re.compile(r"^program-v1:[A-Za-z0-9_.~-]+(\+[A-Za-z0-9_.~-]+)+$")
_PLACEHOLDER_RUN = "readable_id_placeholder"

CoursewareKind = Literal["course", "run", "program"]


class InvalidCoursewareId(ValidationFailed):
    code = "invalid-courseware-id"


@dataclass(frozen=True)
class CoursewareId:
    """A parsed identifier: ``kind``, its canonical text, and the locator for courses and runs."""

    kind: CoursewareKind
    text: str
    locator: CourseLocator | None = None

    @property
    def course_readable_id(self) -> str:
        """The course's readable ID (``course-v1:ORG+NUMBER``) for a course or a run."""
        if self.locator is None:
            raise ValueError("a program has no course readable ID")
        return course_readable_id(self.locator)


def course_readable_id(locator: CourseLocator) -> str:
    """``course-v1:ORG+NUMBER`` of a run's locator (the course the run belongs to)."""
    placeholder = str(CourseLocator(locator.org, locator.course, _PLACEHOLDER_RUN))
    return placeholder.removesuffix(f"+{_PLACEHOLDER_RUN}")


def parse_run_key(value: str) -> CourseLocator:
    """Parse a courseware ID ``course-v1:ORG+NUMBER+RUN``; raise ``InvalidCoursewareId``."""
    try:
        key = CourseKey.from_string(value)
    except InvalidKeyError:
        raise InvalidCoursewareId(
            f"'{value}' is not a course run ID: expected course-v1:ORG+NUMBER+RUN, "
            "for example course-v1:MITxT+14.310x+SOURCE."
        ) from None
    if not isinstance(key, CourseLocator) or key.deprecated or key.branch or key.version_guid:
        raise InvalidCoursewareId(
            f"'{value}' is not a course-v1 run ID: use the form course-v1:ORG+NUMBER+RUN."
        )
    return key


def parse_courseware_id(value: str) -> CoursewareId:
    """Classify and validate a readable ID as a course, a course run or a program.

    Raises ``InvalidCoursewareId`` with the expected forms when ``value`` is none of them
    (SPEC §1; a program ID must begin with ``program-v1``, the source document says).
    """
    text = (value or "").strip()
    if not text:
        raise InvalidCoursewareId("A readable ID is required, for example course-v1:MITxT+14.310x.")
    if text.lower().startswith("program"):
        if not text.startswith(PROGRAM_PREFIX):
            raise InvalidCoursewareId(
                f"'{text}' is not a program ID: program readable IDs must begin with "
                f"'{PROGRAM_PREFIX}', for example program-v1:MITx+DEDP."
            )
        if not PROGRAM_ID_PATTERN.match(text):
            raise InvalidCoursewareId(
                f"'{text}' is not a valid program ID: expected program-v1:ORG+NAME using letters, "
                "digits and _ . ~ - only, for example program-v1:MITx+DEDP."
            )
        return CoursewareId("program", text)
    try:
        return CoursewareId("run", text, parse_run_key(text))
    except InvalidCoursewareId:
        pass
    try:
        key = CourseKey.from_string(f"{text}+{_PLACEHOLDER_RUN}")
    except InvalidKeyError:
        key = None
    if isinstance(key, CourseLocator) and not key.deprecated and course_readable_id(key) == text:
        return CoursewareId("course", text, key)
    raise InvalidCoursewareId(
        f"'{text}' is not a valid readable ID: expected a course (course-v1:ORG+NUMBER), "
        "a course run (course-v1:ORG+NUMBER+RUN) or a program (program-v1:ORG+NAME)."
    )
