"""courses.keys: readable IDs and courseware IDs (SPEC §1 "courseware"). No database needed."""

import pytest
from opaque_keys.edx.locator import CourseLocator

from courses.keys import (
    CoursewareId,
    InvalidCoursewareId,
    course_readable_id,
    parse_courseware_id,
    parse_run_key,
)

GENERAL = (
    "'{}' is not a valid readable ID: expected a course (course-v1:ORG+NUMBER), "
    "a course run (course-v1:ORG+NUMBER+RUN) or a program (program-v1:ORG+NAME)."
)
NOT_A_RUN = (
    "'{}' is not a course run ID: expected course-v1:ORG+NUMBER+RUN, "
    "for example course-v1:MITxT+14.310x+SOURCE."
)
NOT_COURSE_V1 = "'{}' is not a course-v1 run ID: use the form course-v1:ORG+NUMBER+RUN."
NOT_PROGRAM_PREFIX = (
    "'{}' is not a program ID: program readable IDs must begin with 'program-v1:', "
    "for example program-v1:MITx+DEDP."
)
BAD_PROGRAM = (
    "'{}' is not a valid program ID: expected program-v1:ORG+NAME using letters, digits and "
    "_ . ~ - only, for example program-v1:MITx+DEDP."
)
EMPTY = "A readable ID is required, for example course-v1:MITxT+14.310x."


# -- classification --------------------------------------------------------------------------


def test_a_course_readable_id_is_a_course():
    # given a readable ID without a run
    # when it is parsed
    parsed = parse_courseware_id("course-v1:MITxT+14.310x")
    # then it is a course whose locator carries org and number from edx-opaque-keys
    assert parsed.kind == "course"
    assert parsed.text == "course-v1:MITxT+14.310x"
    assert (parsed.locator.org, parsed.locator.course) == ("MITxT", "14.310x")
    assert parsed.course_readable_id == "course-v1:MITxT+14.310x"


def test_a_courseware_id_with_a_run_is_a_run():
    parsed = parse_courseware_id("course-v1:MITxT+14.310x+1T2024")

    assert parsed.kind == "run"
    assert parsed.text == "course-v1:MITxT+14.310x+1T2024"
    assert parsed.locator == CourseLocator("MITxT", "14.310x", "1T2024")
    assert parsed.course_readable_id == "course-v1:MITxT+14.310x"


def test_a_source_run_key_is_a_run():
    parsed = parse_courseware_id("course-v1:MITxT+14.310x+SOURCE")

    assert (parsed.kind, parsed.locator.run, parsed.course_readable_id) == (
        "run",
        "SOURCE",
        "course-v1:MITxT+14.310x",
    )


def test_dotted_and_punctuated_parts_are_kept_whole():
    # given org and number with the characters edX allows (. ~ - _ and :)
    parsed = parse_courseware_id("course-v1:M~i.T-x_T+1:4.0_1x+2T2025")

    assert parsed.kind == "run"
    assert (parsed.locator.org, parsed.locator.course, parsed.locator.run) == (
        "M~i.T-x_T",
        "1:4.0_1x",
        "2T2025",
    )
    assert parsed.course_readable_id == "course-v1:M~i.T-x_T+1:4.0_1x"


@pytest.mark.parametrize(
    "value",
    [
        "program-v1:MITx+DEDP",
        "program-v1:MITxT+18.03x",
        "program-v1:MITx+CTL.SCM",
        "program-v1:A+B+C",
    ],
)
def test_a_program_id_is_a_program(value):
    parsed = parse_courseware_id(value)

    assert parsed == CoursewareId("program", value)
    assert parsed.locator is None


def test_a_program_has_no_course_readable_id():
    parsed = parse_courseware_id("program-v1:MITx+DEDP")

    with pytest.raises(ValueError) as excinfo:
        _ = parsed.course_readable_id
    assert str(excinfo.value) == "a program has no course readable ID"


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        ("  course-v1:MITxT+14.310x  ", "course", "course-v1:MITxT+14.310x"),
        ("\tcourse-v1:MITxT+14.310x+1T2024\n", "run", "course-v1:MITxT+14.310x+1T2024"),
        (" program-v1:MITx+DEDP ", "program", "program-v1:MITx+DEDP"),
    ],
)
def test_surrounding_whitespace_is_trimmed(value, kind, text):
    parsed = parse_courseware_id(value)

    assert (parsed.kind, parsed.text) == (kind, text)


# -- refusals of parse_courseware_id ---------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\n\t", None])
def test_empty_input_is_refused(value):
    with pytest.raises(InvalidCoursewareId) as excinfo:
        parse_courseware_id(value)

    assert excinfo.value.message == EMPTY
    assert excinfo.value.code == "invalid-courseware-id"


@pytest.mark.parametrize(
    "value",
    [
        "programs-v1:MITx+DEDP",
        "Program-v1:MITx+DEDP",
        "PROGRAM-V1:MITx+DEDP",
        "program:MITx+DEDP",
        "program-v2:MITx+DEDP",
        "programMITx",
    ],
)
def test_a_program_id_not_starting_with_program_v1_is_refused(value):
    with pytest.raises(InvalidCoursewareId) as excinfo:
        parse_courseware_id(value)

    assert excinfo.value.message == NOT_PROGRAM_PREFIX.format(value)


@pytest.mark.parametrize(
    "value",
    [
        "program-v1:",
        "program-v1:MITx",
        "program-v1:MITx+",
        "program-v1:+DEDP",
        "program-v1:MITx+DE DP",
        "program-v1:MITx+DEDP/2",
        "program-v1:MITx++DEDP",
        "program-v1:MITx+DÉDP",
    ],
)
def test_a_malformed_program_id_is_refused(value):
    with pytest.raises(InvalidCoursewareId) as excinfo:
        parse_courseware_id(value)

    assert excinfo.value.message == BAD_PROGRAM.format(value)


@pytest.mark.parametrize(
    "value",
    [
        "MITxT/14.310x/1T2024",  # deprecated slash run key
        "MITxT/14.310x",  # deprecated slash course
        "course-v1:MITxT+14.310x+1T2024+branch@draft",  # run with a branch
        "course-v1:MITxT+14.310x+branch@draft",  # course with a branch
        "course-v1:MITxT+14.310x+1T2024+version@5f0c0a0d0a0d0a0d0a0d0a0d",
        "course-v1:MITxT+14.310x+1T2024+extra",  # 4 parts
        "course-v1:A+B+C+D",  # 4 parts
        "course-v1:MITxT+14 310x",  # space in the number
        "course-v1:MIT xT+14.310x",  # space in the org
        "course-v1:MITxT+14.310x+1T 2024",  # space in the run
        "course-v1:MITxT",  # org only
        "course-v1:MITxT+14.310x+",  # empty run
        "course-v1:",
        "library-v1:MITxT+LIB",
        "MITxT+14.310x",
        "14.310x",
    ],
)
def test_anything_else_is_refused_with_the_expected_forms(value):
    with pytest.raises(InvalidCoursewareId) as excinfo:
        parse_courseware_id(value)

    assert excinfo.value.message == GENERAL.format(value)
    assert excinfo.value.code == "invalid-courseware-id"


# -- parse_run_key ---------------------------------------------------------------------------


def test_parse_run_key_returns_the_locator():
    locator = parse_run_key("course-v1:MITxT+14.310x+3T2025")

    assert locator == CourseLocator("MITxT", "14.310x", "3T2025")
    assert (locator.org, locator.course, locator.run) == ("MITxT", "14.310x", "3T2025")
    assert str(locator) == "course-v1:MITxT+14.310x+3T2025"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "course-v1:MITxT+14.310x",  # a course, not a run
        "course-v1:MITxT+14.310x+1T2024+extra",  # 4 parts
        "course-v1:A+B+C+D",
        "course-v1:MITxT+14.310x+1T 2024",  # space
        " course-v1:MITxT+14.310x+1T2024",  # not trimmed: a key is exact
        "course-v1:MITxT+14.310x+branch@draft",  # branch but no run
        "program-v1:MITx+DEDP",
        "ccx-v1:MITxT+14.310x+1T2024+ccx@1",
    ],
)
def test_parse_run_key_refuses_what_is_not_a_run_key(value):
    with pytest.raises(InvalidCoursewareId) as excinfo:
        parse_run_key(value)

    assert excinfo.value.message == NOT_A_RUN.format(value)


@pytest.mark.parametrize(
    "value",
    [
        "MITxT/14.310x/1T2024",  # deprecated slash key
        "course-v1:MITxT+14.310x+1T2024+branch@draft",  # a branch
        "course-v1:MITxT+14.310x+1T2024+version@5f0c0a0d0a0d0a0d0a0d0a0d",  # a version
        "library-v1:MITxT+LIB",  # another kind of key
    ],
)
def test_parse_run_key_refuses_keys_that_are_not_plain_course_v1_runs(value):
    with pytest.raises(InvalidCoursewareId) as excinfo:
        parse_run_key(value)

    assert excinfo.value.message == NOT_COURSE_V1.format(value)


# -- course_readable_id ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locator", "readable_id"),
    [
        (CourseLocator("MITxT", "14.310x", "1T2024"), "course-v1:MITxT+14.310x"),
        (CourseLocator("MITxT", "14.310x", "SOURCE"), "course-v1:MITxT+14.310x"),
        (CourseLocator("UAI_ACME", "CTL.SC0x", "2026_C7"), "course-v1:UAI_ACME+CTL.SC0x"),
    ],
)
def test_course_readable_id_drops_the_run(locator, readable_id):
    assert course_readable_id(locator) == readable_id


def test_course_readable_id_of_a_parsed_run_names_its_course():
    assert course_readable_id(parse_run_key("course-v1:MITxT+18.03.1x+2T2025")) == (
        "course-v1:MITxT+18.03.1x"
    )
