"""courses.services.program_courses: every course of a program's tree, in tree order."""

import io

import pytest
from django.core.management import call_command

from courses.models import Program, ProgramRequirement
from courses.services import program_courses
from tests.factories import CourseFactory, program_with

pytestmark = pytest.mark.django_db


def ids(courses) -> list[str]:
    return [course.readable_id for course in courses]


@pytest.fixture
def courses():
    return {
        name: CourseFactory(readable_id=f"course-v1:TestX+{name}", title=f"Course {name}")
        for name in ("A", "B", "C", "D", "E", "F")
    }


def test_required_then_electives(courses):
    program = program_with(
        "program-v1:TestX+P",
        "P",
        required=[courses["B"], courses["A"]],
        electives=[courses["D"], courses["C"]],
        minimum=1,
    )

    assert ids(program_courses(program)) == [
        "course-v1:TestX+B",
        "course-v1:TestX+A",
        "course-v1:TestX+D",
        "course-v1:TestX+C",
    ]


def test_nested_programs_in_required_and_electives_each_course_once(
    courses, django_assert_num_queries
):
    # given P: required [A, INNER], electives [B, ELECTIVE];
    # INNER: required [C, A]; ELECTIVE: required [D], electives [B, E]
    inner = program_with("program-v1:TestX+INNER", "Inner", required=[courses["C"], courses["A"]])
    elective = program_with(
        "program-v1:TestX+ELECTIVE",
        "Elective",
        required=[courses["D"]],
        electives=[courses["B"], courses["E"]],
    )
    program = program_with(
        "program-v1:TestX+P",
        "P",
        required=[courses["A"], inner],
        electives=[courses["B"], elective],
    )

    # when the tree is walked (one query per program)
    with django_assert_num_queries(3):
        result = program_courses(program)

    # then depth first in tree order, each course once, required and elective alike
    assert ids(result) == [
        "course-v1:TestX+A",
        "course-v1:TestX+C",
        "course-v1:TestX+B",
        "course-v1:TestX+D",
        "course-v1:TestX+E",
    ]
    assert ids(program_courses(inner)) == ["course-v1:TestX+C", "course-v1:TestX+A"]


def test_order_follows_positions_not_creation_order(courses):
    # given a tree whose nodes were created in the reverse of their positions
    program = Program.objects.create(readable_id="program-v1:TestX+P", title="P")
    root = ProgramRequirement.objects.create(
        program=program, node_type="operator", operator="all-of"
    )
    electives = ProgramRequirement.objects.create(
        program=program,
        parent=root,
        node_type="operator",
        operator="min-of",
        min_required=1,
        position=1,
    )
    required = ProgramRequirement.objects.create(
        program=program, parent=root, node_type="operator", operator="all-of", position=0
    )
    for position, name in ((2, "F"), (1, "E"), (0, "D")):
        ProgramRequirement.objects.create(
            program=program,
            parent=electives,
            node_type="course",
            course=courses[name],
            position=position,
        )
    for position, name in ((1, "A"), (0, "B")):
        ProgramRequirement.objects.create(
            program=program,
            parent=required,
            node_type="course",
            course=courses[name],
            position=position,
        )

    assert ids(program_courses(program)) == [
        "course-v1:TestX+B",
        "course-v1:TestX+A",
        "course-v1:TestX+D",
        "course-v1:TestX+E",
        "course-v1:TestX+F",
    ]


def test_a_program_nested_twice_is_walked_once(courses, django_assert_num_queries):
    inner = program_with("program-v1:TestX+INNER", "Inner", required=[courses["C"]])
    middle = program_with("program-v1:TestX+MIDDLE", "Middle", required=[inner, courses["D"]])
    program = program_with(
        "program-v1:TestX+P", "P", required=[inner, courses["A"]], electives=[middle]
    )

    with django_assert_num_queries(3):
        result = program_courses(program)

    assert ids(result) == ["course-v1:TestX+C", "course-v1:TestX+A", "course-v1:TestX+D"]


def test_a_cycle_made_in_the_database_is_tolerated(courses):
    # given X requires [A, Y] and Y requires [B, X], written directly (the loader refuses this)
    x = program_with("program-v1:TestX+X", "X", required=[courses["A"]])
    y = program_with("program-v1:TestX+Y", "Y", required=[courses["B"], x])
    x_required = ProgramRequirement.objects.get(program=x, operator="all-of", parent__isnull=False)
    ProgramRequirement.objects.create(
        program=x, parent=x_required, node_type="program", required_program=y, position=1
    )

    # when / then each program is walked once, so the walk ends
    assert ids(program_courses(x)) == ["course-v1:TestX+A", "course-v1:TestX+B"]
    assert ids(program_courses(y)) == ["course-v1:TestX+B", "course-v1:TestX+A"]


def test_a_program_requiring_itself_is_tolerated(courses):
    program = program_with("program-v1:TestX+SELF", "Self", required=[courses["C"]])
    group = ProgramRequirement.objects.get(program=program, parent__isnull=False, operator="all-of")
    ProgramRequirement.objects.create(
        program=program, parent=group, node_type="program", required_program=program, position=0
    )

    assert ids(program_courses(program)) == ["course-v1:TestX+C"]


def test_a_program_without_requirements_has_no_courses(django_assert_num_queries):
    program = Program.objects.create(readable_id="program-v1:TestX+EMPTY", title="Empty")

    with django_assert_num_queries(1):
        assert program_courses(program) == []


def test_the_shipped_dedp_program():
    # given the shipped catalog's DEDP program, loaded
    call_command("load_catalog", stdout=io.StringIO(), stderr=io.StringIO())

    # then its required courses come first, then its electives, in file order
    program = Program.objects.get(readable_id="program-v1:MITx+DEDP")
    assert ids(program_courses(program)) == [
        "course-v1:MITxT+14.100x",
        "course-v1:MITxT+JPAL102x",
        "course-v1:MITxT+14.310x",
        "course-v1:MITxT+14.740x",
        "course-v1:MITxT+14.750x",
        "course-v1:MITxT+14.73x",
    ]
